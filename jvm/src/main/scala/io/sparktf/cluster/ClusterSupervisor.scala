package io.sparktf.cluster

import java.util.UUID

import scala.concurrent.{ExecutionContext, Future}
import scala.util.control.NonFatal

import org.apache.spark.SparkContext
import org.slf4j.LoggerFactory

import io.sparktf.{ClusterConfig, InputMode, SparkTFException, TFCluster, TFProgram}
import io.sparktf.rpc.{ChannelWarmup, ClusterSecret}

/** Starts a cluster's nodes, and starts them again after a failure, up to `config.maxRestarts`
 *  times. Each start is a fresh reservation (new cluster id, new secret) running the same program
 *  with the same settings; the directory `ctx.checkpoint_dir` stays the same, and the program
 *  resumes from what it saved there: sparktf restores nothing itself.
 *
 *  The caller tears a failed incarnation down (every node stopped) before [[restart]]; in
 *  InputMode.TENSORFLOW the barrier job ends with its nodes, and [[startPrograms]] restarts by
 *  itself.
 *  {{{
 *  val supervisor = new ClusterSupervisor(sc, program, config, layout, python)
 *  supervisor.start()                    // InputMode.SPARK: returns once every node is ready
 *  // ... a node died; its cluster was stopped ...
 *  if (supervisor.canRestart) supervisor.restart("node worker:0 died: killed by signal 9")
 *  }}}
 */
final class ClusterSupervisor(sc: SparkContext, program: TFProgram, config: ClusterConfig,
    layout: ClusterLayout, python: String) extends ClusterIncarnations {
  import ClusterSupervisor.log

  private val lock = new Object
  @volatile private var incarnation: Option[ClusterIncarnation] = None
  private var restartsDone = 0
  private var stopping = false

  /** InputMode.TENSORFLOW with TensorBoard: the URL the running programs' node announced. */
  private val tensorboard =
    if (config.inputMode == InputMode.TENSORFLOW && config.tensorboard) {
      Some(new TensorBoardAnnouncement(sc))
    } else None

  def announcedTensorBoardUrl: Option[String] = tensorboard.flatMap(_.url)

  override def current: ClusterIncarnation =
    incarnation.getOrElse(throw new IllegalStateException("the cluster was never started"))

  /** Restarts so far, over the cluster's life. */
  def restarts: Int = lock.synchronized(restartsDone)

  def maxRestarts: Int = config.maxRestarts

  override def canRestart: Boolean =
    lock.synchronized(!stopping && restartsDone < config.maxRestarts)

  /** No restart from now on: the cluster is shutting down, so a failure is final. */
  def stopRestarting(): Unit = lock.synchronized { stopping = true }

  /** InputMode.SPARK: starts the nodes and returns once every node is ready. */
  def start(): ClusterIncarnation = {
    val started = startNodes(0)
    incarnation = Some(started)
    started
  }

  /** InputMode.SPARK: starts a fresh cluster after `cause` (the failed incarnation must be
   *  stopped already). If the fresh cluster cannot start, [[current]] is left without nodes and
   *  the error says both why it was restarted and why it did not start. */
  override def restart(cause: String): ClusterIncarnation = {
    val number = takeRestart().getOrElse(throw new IllegalStateException(
        s"no restart left: $restarts of ${config.maxRestarts} done, or shutting down"))
    val old = current
    log.warn(s"sparktf cluster ${old.clusterId}: restart $number/${config.maxRestarts} after: " +
      cause)
    try {
      val started = startNodes(number)
      log.warn(s"sparktf cluster ${old.clusterId}: restart $number/${config.maxRestarts} is " +
        s"cluster ${started.clusterId}")
      incarnation = Some(started)
      started
    } catch {
      case NonFatal(e) =>
        incarnation = Some(old.copy(nodes = Nil))
        throw new SparkTFException(s"restart $number/${config.maxRestarts} did not start a " +
            s"fresh cluster: ${TFCluster.rootMessage(e)}\nit was restarting after: $cause", e)
    }
  }

  /** InputMode.TENSORFLOW: runs the programs in the background; the future ends when they all
   *  returned. A failed run is started again while restarts remain (its barrier job has stopped
   *  every node of the run); the last failure fails the future. */
  def startPrograms(): Future[Seq[NodeInfo]] = {
    implicit val ec: ExecutionContext = ExecutionContext.global
    Future(runPrograms(begin(0)))
  }

  /** The Spark job group of an incarnation's jobs, to cancel them. */
  def jobGroup(clusterId: String): String = s"sparktf-$clusterId"

  /** Cancels the Spark jobs of incarnation `clusterId` (InputMode.TENSORFLOW's barrier job). */
  def cancelJobs(clusterId: String): Unit = sc.cancelJobGroup(jobGroup(clusterId))

  private def runPrograms(run: ClusterIncarnation): Seq[NodeInfo] = {
    val outcome =
      try {
        // A shutdown that gave up on the programs cancels the current job group: a run it
        // cannot see yet must not start.
        if (lock.synchronized(stopping) && run.number > 0) {
          throw new SparkTFException(s"restart ${run.number} skipped: the cluster is shutting down")
        }
        sc.setJobGroup(jobGroup(run.clusterId), s"sparktf cluster ${run.clusterId}",
          interruptOnCancel = true)
        tensorboard.foreach(_.forget())
        Right(ReservationStage.run(sc, run.clusterId, layout, config, program, run.secret, python,
            tensorboard.map(_.accumulator)))
      } catch {
        case NonFatal(e) => Left(e)
      }
    outcome match {
      case Right(nodes) =>
        tensorboard.foreach(_.close())
        nodes
      case Left(e) => takeRestart() match {
          case Some(number) =>
            log.warn(s"sparktf cluster ${run.clusterId}: restart $number/${config.maxRestarts} " +
              s"after: ${TFCluster.rootMessage(e)}")
            runPrograms(begin(number))
          case None =>
            tensorboard.foreach(_.close())
            throw e
        }
    }
  }

  /** The number of the restart about to happen, or None when none may. */
  private def takeRestart(): Option[Int] = lock.synchronized {
    if (stopping || restartsDone >= config.maxRestarts) None
    else {
      restartsDone += 1
      Some(restartsDone)
    }
  }

  /** A new incarnation's id and secret, made current (its nodes start later). */
  private def begin(number: Int): ClusterIncarnation = {
    ClusterSettings.awaitExecutors(sc, layout.size, config.reservationTimeout)
    val clusterId = UUID.randomUUID().toString.take(8)
    val authSecret = if (sc.getConf.getBoolean("spark.authenticate", defaultValue = false)) {
      sc.getConf.getOption("spark.authenticate.secret")
    } else None
    val run = ClusterIncarnation(clusterId, ClusterSecret.create(clusterId, authSecret), Nil,
      number)
    log.info(s"sparktf cluster $clusterId: starting ${layout.roles.map(_.address).mkString(", ")}" +
      (if (number > 0) s" (restart $number/${config.maxRestarts})" else ""))
    incarnation = Some(run)
    run
  }

  private def startNodes(number: Int): ClusterIncarnation = {
    val run = begin(number)
    val started = System.nanoTime()
    val nodes =
      try {
        ReservationStage.run(sc, run.clusterId, layout, config, program, run.secret, python)
      } catch {
        case NonFatal(e) => throw new SparkTFException(
            s"sparktf cluster ${run.clusterId} did not start: ${TFCluster.rootMessage(e)}", e)
      }
    // The first calls to the nodes from the driver (the first train()'s status check) and from
    // the executors without a node (their first feed task) would pay for loading gRPC and
    // connecting: they are paid here, once per incarnation.
    ChannelWarmup.warm(nodes, run.secret)
    ExecutorWarmup.run(sc, run.clusterId, nodes, run.secret)
    log.info(f"sparktf cluster ${run.clusterId} started in " +
      f"${(System.nanoTime() - started) / 1e9}%.1f s")
    run.copy(nodes = nodes)
  }
}

object ClusterSupervisor {
  private val log = LoggerFactory.getLogger(classOf[ClusterSupervisor])
}
