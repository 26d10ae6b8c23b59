package io.sparktf.feed

import org.apache.spark.TaskContext
import org.apache.spark.rdd.RDD
import org.apache.spark.sql.catalyst.InternalRow

import io.sparktf.cluster.NodeInfo
import io.sparktf.rpc.ClusterSecret

/** One epoch of feeding: a Spark job whose tasks stream their partitions to the nodes.
 *
 *  Partition `p` always goes to fed node `p % nodes`: the split is even whatever executor runs the
 *  task (so synchronous training sees balanced data), a retried task reaches the same node, and a
 *  task on an executor without a fed node (a ps) simply sends over the network.
 */
object FeedJob {
  def run(rows: RDD[InternalRow], fed: IndexedSeq[NodeInfo], secret: ClusterSecret,
      clusterId: String, feedId: String, columns: IndexedSeq[FeedColumn], epoch: Int,
      idleTimeoutSeconds: Double): Seq[FeedResult] = {
    rows.mapPartitionsWithIndex { (partition, it) =>
      val node = fed(partition % fed.size)
      val attempt = Option(TaskContext.get()).map(_.attemptNumber()).getOrElse(0)
      Iterator(new PartitionFeeder(node, secret, clusterId, feedId, columns, epoch, partition,
        attempt, idleTimeoutSeconds).feed(it))
    }.collect().toSeq
  }
}
