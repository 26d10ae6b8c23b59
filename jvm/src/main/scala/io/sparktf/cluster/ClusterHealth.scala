package io.sparktf.cluster

import scala.collection.mutable.ArrayBuffer
import scala.concurrent.{Await, ExecutionContext, Future}
import scala.concurrent.duration._
import scala.util.Try
import scala.util.control.NonFatal

import org.apache.spark.SparkContext
import org.slf4j.LoggerFactory

import io.sparktf.TFCluster
import io.sparktf.proto.v1.{NodeState, NodeStatus}
import io.sparktf.rpc.{NodeChannelFactory, NodeChannels, NodeControlClient}

/** What the driver knows and does about the current incarnation's nodes as a whole: which are
 *  not well (a traceback, a death and how it happened), waiting for the programs to return,
 *  and stopping every node. The feed asks it after a failure whether a node is to blame.
 *  {{{
 *  val health = new ClusterHealth(sc, supervisor)
 *  val problems = health.nodeProblems()   // "node worker:0 (...) failed:\nTraceback ..."
 *  try health.awaitPrograms(600) finally health.stopAll()
 *  }}}
 */
final class ClusterHealth(sc: SparkContext, incarnations: ClusterIncarnations,
    channels: NodeChannelFactory = NodeChannels) {
  import ClusterHealth._

  private def nodes: Seq[NodeInfo] = incarnations.current.nodes
  private def client(n: NodeInfo) = new NodeControlClient(n, incarnations.current.secret, channels)

  /** What the driver can learn of each node that is not well: its traceback, or its absence.
   *  The nodes are asked at once, so a node that hangs costs one deadline, not one each. */
  def nodeProblems(): Seq[String] = {
    implicit val ec: ExecutionContext = ExecutionContext.global
    val asked = nodes.map(n => n -> Future(client(n).status(5)))
    val gone = ArrayBuffer[NodeInfo]()
    val problems = asked.flatMap { case (n, f) =>
      try Await.result(f, 10.seconds) match {
          case Some(s) if s.getState == NodeState.FAILED => Some(failedText(n, s))
          case Some(_) => None
          case None =>
            gone += n
            None
        }
      catch {
        case NonFatal(e) => Some(s"node ${n.describe} does not answer: ${TFCluster.rootMessage(e)}")
      }
    }
    problems ++ deathsOf(gone.toSeq)
  }

  /** Waits up to `timeoutSeconds` for the fed nodes' programs to return; the failures seen,
   *  and the programs that did not return in time. */
  def awaitPrograms(timeoutSeconds: Double): Seq[String] = {
    val deadline = System.nanoTime() + (timeoutSeconds * 1e9).toLong
    var pending = nodes.filter(_.role.takesData).map(n => n -> client(n))
    val failures = ArrayBuffer[String]()
    val gone = ArrayBuffer[NodeInfo]()
    while (pending.nonEmpty && System.nanoTime() < deadline) {
      pending = pending.filter { case (n, c) =>
        // A node too busy to answer within the call's deadline is still running.
        Try(c.status(5)).getOrElse(Some(StillRunning)) match {
          case None =>
            gone += n
            false
          case Some(s) if s.getState == NodeState.FAILED =>
            failures += failedText(n, s)
            false
          case Some(s) => s.getState == NodeState.RUNNING
        }
      }
      if (pending.nonEmpty) Thread.sleep(250)
    }
    pending.foreach { case (n, _) =>
      failures += s"node ${n.describe} was still running its program after $timeoutSeconds s " +
        "(shutdown_timeout); it was stopped"
    }
    failures.toSeq ++ deathsOf(gone.toSeq)
  }

  /** No more inference streams will come: the programs' feeds run dry, so their serving loops
   *  end (`should_stop()`), and a program waiting for one more feed is told there is none. A
   *  node that does not answer is judged by [[awaitPrograms]]. */
  def endInference(): Unit = nodes.filter(_.role.takesData).foreach { n =>
    Try(client(n).endFeed(InferenceFeedId, -1, 10)).failed
      .foreach(e => log.info(s"ending inference on node ${n.describe}: ${e.getMessage}"))
  }

  /** Asks every node to exit (its program gets `graceSeconds` to return) and waits until none
   *  answers any more. */
  def stopAll(graceSeconds: Double = StopGraceSeconds): Unit = {
    val secret = incarnations.current.secret
    val clients = nodes.map(n => n -> client(n))
    clients.foreach(_._2.stop(graceSeconds))
    // A node exits at most grace + its server's own stop time after Stop; beyond that it hangs.
    val deadline = System.nanoTime() + ((graceSeconds + 25) * 1e9).toLong
    var alive = clients
    while (alive.nonEmpty && System.nanoTime() < deadline) {
      alive = alive.filter { case (_, c) => Try(c.status(2).isDefined).getOrElse(true) }
      if (alive.nonEmpty) Thread.sleep(200)
    }
    alive.foreach { case (n, _) => log.warn(s"node ${n.describe} still answers after stop") }
    channels.closeAll(secret)
  }

  /** After a failure the cluster cannot go on: the other programs are stopped after a short
   *  grace, and a failure to stop them is only logged (the error to report is the first). */
  def stopAfterFailure(): Unit =
    try stopAll(FailureGraceSeconds)
    catch {
      case NonFatal(e) => log.warn("stopping the nodes failed", e)
    }

  /** Nodes whose process is gone: how each ended (signal or exit code, stderr tail) when its
   *  executor is still there to say. */
  def deathsOf(gone: Seq[NodeInfo]): Seq[String] = {
    if (gone.isEmpty) return Nil
    val deaths =
      try NodePostMortem.collect(sc, incarnations.current.clusterId, gone, 5)
      catch {
        case NonFatal(e) =>
          log.warn("asking the executors how nodes ended failed", e)
          Map.empty[Int, String]
      }
    gone.map { n =>
      deaths.get(n.barrierIndex) match {
        case Some(death) => s"node ${n.describe} died: $death"
        case None => s"node ${n.describe} is gone: its process died and its executor could not " +
            "say how (the executor was lost, or the process was already forgotten); the " +
            "executor's log has the node's last output"
      }
    }
  }
}

object ClusterHealth {
  private val log = LoggerFactory.getLogger(classOf[ClusterHealth])

  /** Seconds a program gets to return after Stop at shutdown. */
  val StopGraceSeconds = 5.0

  /** After a failure the cluster cannot go on: the other programs get less time. */
  val FailureGraceSeconds = 2.0

  /** The feed lane of the nodes that every inference stream shares (the node's name for it). */
  val InferenceFeedId = "inference"

  private val StillRunning = NodeStatus.newBuilder().setState(NodeState.RUNNING).build()

  private[sparktf] def failedText(n: NodeInfo, s: NodeStatus): String =
    s"node ${n.describe} failed:\n${s.getError}"
}
