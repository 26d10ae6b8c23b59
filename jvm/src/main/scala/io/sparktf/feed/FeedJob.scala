package io.sparktf.feed

import scala.util.control.NonFatal

import org.apache.spark.TaskContext
import org.apache.spark.rdd.RDD
import org.apache.spark.sql.catalyst.InternalRow

import io.sparktf.SparkTFException
import io.sparktf.cluster.NodeInfo
import io.sparktf.proto.v1.{FeedPlan => PlanMessage}
import io.sparktf.rpc.{ClusterSecret, NodeChannelFactory, NodeChannels}

/** One epoch of feeding: a Spark job whose tasks deal their partitions' rows to the nodes as the
 *  [[FeedPlan]] says, one stream per node per task. The split is the same whatever executor runs
 *  a task, so a retried task reaches the same nodes, and a task on an executor without a fed
 *  node (a ps) simply sends over the network. `channels` reach the nodes from the executors.
 *  {{{
 *  val results = FeedJob.run(df.queryExecution.toRdd, fedNodes, plan, epochs = 2, secret,
 *    clusterId, feedId, columns, epoch = 0, idleTimeoutSeconds = 600)
 *  }}}
 */
object FeedJob {
  def run(rows: RDD[InternalRow], fed: IndexedSeq[NodeInfo], plan: FeedPlan, epochs: Int,
      secret: ClusterSecret, clusterId: String, feedId: String, columns: IndexedSeq[FeedColumn],
      epoch: Int, idleTimeoutSeconds: Double,
      channels: NodeChannelFactory = NodeChannels): Seq[FeedResult] = {
    rows.mapPartitionsWithIndex { (partition, it) =>
      val attempt = Option(TaskContext.get()).map(_.attemptNumber()).getOrElse(0)
      val streams = fed.indices.map { k =>
        val share = PlanMessage.newBuilder().setNodeRows(plan.nodeRows(k) * epochs)
          .setMinNodeRows(plan.minNodeRows * epochs).build()
        new NodeStream(fed(k), secret, clusterId, feedId, columns, share, epoch, partition,
          attempt, idleTimeoutSeconds, channels)
      }
      val expected = plan.partitionRows(partition)
      var row = 0L
      try {
        if (expected > 0) streams.foreach(_.begin())
        var closed = streams.exists(_.closedByNode)
        while (it.hasNext && !closed) {
          streams(plan.nodeOf(partition, row)).offer(it.next())
          row += 1
          // A stream the node closed takes no more rows (offer() skips them): looking at every
          // stream only once in a while keeps that look off the per-row path.
          if ((row & 255) == 0) closed = streams.exists(_.closedByNode)
        }
        closed = streams.exists(_.closedByNode)
        if (row != expected && !closed) {
          throw new SparkTFException(s"partition $partition has $row rows now but had $expected " +
            "when the feed was planned: the DataFrame is not deterministic; cache or " +
            "checkpoint it before train()")
        }
        streams.filter(_ => expected > 0).map(_.finish()).iterator
      } catch {
        case NonFatal(e) =>
          streams.foreach(_.cancel(e))
          throw e
      }
    }.collect().toSeq
  }
}
