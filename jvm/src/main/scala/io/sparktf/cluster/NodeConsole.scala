package io.sparktf.cluster

import java.util.concurrent.{Executors, ScheduledExecutorService, TimeUnit}

import scala.collection.mutable
import scala.util.Try
import scala.util.control.NonFatal

import io.sparktf.NodeOutputChoice
import io.sparktf.rpc.{NodeChannelFactory, NodeChannels, NodeControlClient}

/** The nodes' program output on the driver's console: every `pollSeconds` it reads the new
 *  lines of the nodes `node_output` chooses (`NodeControl.ReadOutput`) and prefixes each with
 *  its node, `[chief:0] Epoch 3/10 ...`.
 *
 *  Bounded at both ends, so a node that floods its output stalls neither its training nor the
 *  driver: the node keeps its last lines in a ring (python/sparktf/node/output_ring.py) and
 *  never waits for this reader; here at most `maxLines` lines wait for the console. Lines lost
 *  on either side are replaced by one line saying how many (every line is in the executor log).
 *
 *  Lines go to `System.out` as they come (the Scala API, spark-shell) until a reader [[take]]s
 *  them: the Python API does, to print them in the driver's Python process (a notebook shows
 *  that, not the JVM's stdout).
 *  {{{
 *  val console = NodeConsole.start(supervisor, layout, "chief")
 *  console.take()    // Seq("[chief:0] Epoch 1/3", ...)
 *  console.stop()    // reads what is left, then stops
 *  }}}
 */
final class NodeConsole(incarnations: ClusterIncarnations, layout: ClusterLayout,
    choice: String, channels: NodeChannelFactory = NodeChannels,
    pollSeconds: Double = NodeConsole.PollSeconds, maxLines: Int = NodeConsole.MaxLines) {
  // (cluster id, role) -> the last line number read from that node.
  private val read = mutable.Map[(String, String), Long]()
  private val waiting = mutable.Queue[String]()
  private var notShown = 0L
  @volatile private var taken = false
  private var poller: Option[ScheduledExecutorService] = None

  def start(): this.type = synchronized {
    val p = Executors.newSingleThreadScheduledExecutor { r =>
      val t = new Thread(r, "sparktf-node-console")
      t.setDaemon(true)
      t
    }
    val ms = (pollSeconds * 1000).toLong
    p.scheduleWithFixedDelay(() => readAll(), ms, ms, TimeUnit.MILLISECONDS)
    poller = Some(p)
    this
  }

  /** The lines that came since the last call, oldest first; from now on nothing is printed
   *  to System.out. */
  def take(): Seq[String] = synchronized {
    taken = true
    val lines = waiting.toList
    waiting.clear()
    lines
  }

  /** Stops polling, then reads what the nodes still hold (a node's ring is a few reads). */
  def stop(): Unit = {
    poller.foreach { p =>
      p.shutdown()
      p.awaitTermination((NodeConsole.ReadTimeoutSeconds + 1).toLong, TimeUnit.SECONDS)
    }
    Iterator.range(0, NodeConsole.FinalReads).takeWhile(_ => readAll()).foreach(_ => ())
    flushToStdout()
  }

  /** Reads every shown node's new lines once; whether any node had some. */
  private def readAll(): Boolean =
    try {
      var more = false
      val cluster = incarnations.current
      val shown = cluster.nodes.filter(n => NodeOutputChoice.shows(choice, layout, n.role))
      shown.foreach { n =>
        val key = (cluster.clusterId, n.role.address)
        val after = synchronized(read.getOrElse(key, 0L))
        Try(new NodeControlClient(n, cluster.secret, channels)
            .readOutput(after, NodeConsole.LinesPerRead, NodeConsole.ReadTimeoutSeconds))
          .foreach { out =>
            val prefix = s"[${n.role.address}]"
            val dropped =
              if (out.getDropped > 0) {
                Seq(
                  s"$prefix ... ${out.getDropped} lines not shown: the node printed faster than " +
                    "the driver reads them (its executor log has every line)")
              } else Nil
            val lines = out.getLinesList
            more ||= !lines.isEmpty
            add(dropped ++ (0 until lines.size).map(i => s"$prefix ${lines.get(i).getText}"))
            if (!lines.isEmpty) synchronized(read(key) = lines.get(lines.size - 1).getSeq)
            else if (out.getDropped > 0) synchronized(read(key) = after + out.getDropped)
          }
      }
      flushToStdout()
      more
    } catch {
      case NonFatal(_) => false // a cluster between incarnations: the next poll reads on
    }

  private def add(lines: Seq[String]): Unit = synchronized {
    lines.foreach(waiting.enqueue)
    while (waiting.size > maxLines) {
      waiting.dequeue()
      notShown += 1
    }
    if (notShown > 0) {
      waiting.prepend(s"[sparktf] ... $notShown node output lines not shown: the console did " +
        "not keep up (the executor logs have every line)")
      notShown = 0
    }
  }

  private def flushToStdout(): Unit = if (!taken) {
    val lines = synchronized {
      if (taken) Nil
      else {
        val l = waiting.toList
        waiting.clear()
        l
      }
    }
    lines.foreach(l => System.out.println(l))
  }
}

object NodeConsole {
  val PollSeconds = 0.25

  /** Lines waiting for the console at most (a few seconds of a flood). */
  val MaxLines = 5000
  private val LinesPerRead = 1000
  private val FinalReads = 10
  private val ReadTimeoutSeconds = 2.0

  /** A started console for the nodes `choice` names; None for "none". */
  def start(incarnations: ClusterIncarnations, layout: ClusterLayout,
      choice: String): Option[NodeConsole] =
    if (choice == NodeOutputChoice.NoNode) None
    else Some(new NodeConsole(incarnations, layout, choice).start())
}
