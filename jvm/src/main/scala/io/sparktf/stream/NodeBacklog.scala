package io.sparktf.stream

import scala.util.Try

import io.sparktf.SparkTFException
import io.sparktf.cluster.{ClusterIncarnations, NodeInfo}
import io.sparktf.proto.v1.NodeState
import io.sparktf.rpc.{NodeChannelFactory, NodeChannels, NodeControlClient}

/** Backpressure between micro-batches. A micro-batch's feed ends once its rows are in the nodes'
 *  queues, which can be long before the programs train on them; without a wait a fast stream
 *  would pile up one queue lane per micro-batch in a slow node. So before a micro-batch is fed,
 *  each fed node may hold unread at most the rows of the micro-batch before it: a slow model
 *  makes micro-batches wait, and the backlog stays in the source, bounded by its options
 *  (`maxFilesPerTrigger`, `rowsPerSecond`, ...).
 *  {{{
 *  new NodeBacklog(supervisor, feedTimeout).awaitRoom(Map("worker:0" -> 500L))
 *  }}}
 */
final class NodeBacklog(incarnations: ClusterIncarnations, timeoutSeconds: Double,
    channels: NodeChannelFactory = NodeChannels) {

  /** Waits until each fed node holds unread no more than `lastFed(address)` rows (0 for a node
   *  not in the map). Throws naming the node whose program took nothing for `timeoutSeconds`,
   *  or one that failed or is gone (the caller then asks the cluster's health for the cause). */
  def awaitRoom(lastFed: Map[String, Long]): Unit = {
    val cluster = incarnations.current
    val fed = cluster.nodes.filter(_.role.takesData)
    var pending: Seq[NodeInfo] = fed
    var taken = Map.empty[String, Long]
    var progressAt = System.nanoTime()
    while (pending.nonEmpty) {
      pending = pending.filter { n =>
        val client = new NodeControlClient(n, cluster.secret, channels)
        // A node too busy to answer is still reading.
        Try(client.status(5)).toOption match {
          case Some(None) => throw new SparkTFException(s"node ${n.describe} is gone")
          case Some(Some(s)) if s.getState == NodeState.FAILED =>
            throw new SparkTFException(s"node ${n.describe} failed:\n${s.getError}")
          case Some(Some(s)) =>
            if (taken.get(n.role.address).exists(_ < s.getRowsTaken)) progressAt = System.nanoTime()
            taken += n.role.address -> s.getRowsTaken
            s.getState == NodeState.RUNNING &&
            s.getRowsReceived - s.getRowsTaken > lastFed.getOrElse(n.role.address, 0L)
          case None => true
        }
      }
      if (pending.nonEmpty) {
        if (System.nanoTime() - progressAt > (timeoutSeconds * 1e9).toLong) {
          throw new SparkTFException(s"the programs of ${pending.map(_.describe).mkString(", ")} " +
            s"took no rows for $timeoutSeconds s (feed_timeout) while the next micro-batch " +
            "waited: are they reading ctx.get_data_feed() (feed.next_feed(), then the feed)?")
        }
        Thread.sleep(NodeBacklog.PollMillis)
      }
    }
  }
}

object NodeBacklog {
  private val PollMillis = 100L
}
