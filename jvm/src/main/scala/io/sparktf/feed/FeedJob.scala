package io.sparktf.feed

import org.apache.spark.TaskContext
import org.apache.spark.rdd.RDD
import org.apache.spark.sql.catalyst.InternalRow

import io.sparktf.cluster.NodeInfo
import io.sparktf.proto.v1.{FeedPlan => PlanMessage}
import io.sparktf.rpc.ClusterSecret

/** One epoch of feeding: a Spark job whose tasks stream their partitions to the nodes.
 *
 *  Rows go where the [[FeedPlan]] says: contiguous row ranges per node, so every node gets an equal
 *  share whatever executor runs a task and however uneven the partitions are; a retried task
 *  reaches the same nodes; a task on an executor without a fed node (a ps) sends over the network.
 */
object FeedJob {
  def run(rows: RDD[InternalRow], fed: IndexedSeq[NodeInfo], plan: FeedPlan, epochs: Int,
      secret: ClusterSecret, clusterId: String, feedId: String, columns: IndexedSeq[FeedColumn],
      epoch: Int, idleTimeoutSeconds: Double): Seq[FeedResult] = {
    rows.mapPartitionsWithIndex { (partition, it) =>
      val attempt = Option(TaskContext.get()).map(_.attemptNumber()).getOrElse(0)
      val results = Seq.newBuilder[FeedResult]
      var terminated = false
      for ((k, count) <- plan.segments(partition) if !terminated) {
        val share = PlanMessage.newBuilder().setNodeRows(plan.nodeRows(k) * epochs)
          .setMinNodeRows(plan.minNodeRows * epochs).build()
        val segment = it.take(count.toInt)
        val result = new PartitionFeeder(fed(k), secret, clusterId, feedId, columns, share, epoch,
          partition, attempt, idleTimeoutSeconds).feed(segment)
        // A partition an earlier attempt delivered is not read by the feeder: skip past it.
        while (segment.hasNext) segment.next()
        terminated = result.terminated
        results += result
      }
      results.result().iterator
    }.collect().toSeq
  }
}
