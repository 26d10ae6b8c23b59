package io.sparktf.feed

import org.apache.spark.TaskContext
import org.apache.spark.rdd.RDD
import org.apache.spark.sparktf.ExecutorIdentity
import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.util.LongAccumulator

import io.sparktf.cluster.NodeInfo
import io.sparktf.proto.v1.{FeedPlan => PlanMessage, PartitionKey}
import io.sparktf.rpc.{ClusterSecret, NodeChannelFactory, NodeChannels}

/** One epoch of feeding: a Spark job whose tasks each feed their partition of `rows`
 *  ([[PartitionFeeder]]; many small partitions of a DataFrame are one partition here,
 *  [[FeedTasks]]): to the node on their own executor first, else one on their host, the
 *  nodes granting rows up to their [[FeedPlan]] quotas, so every node takes exactly its share
 *  however Spark places the tasks. `channels` reach the nodes from the executors.
 *  {{{
 *  val results = FeedJob.run(df.queryExecution.toRdd, fedNodes, plan, epochs = 2, secret,
 *    clusterId, feedId, columns, epoch = 0, idleTimeoutSeconds = 600)
 *  }}}
 */
object FeedJob {
  def run(rows: RDD[InternalRow], fed: IndexedSeq[NodeInfo], plan: FeedPlan, epochs: Int,
      secret: ClusterSecret, clusterId: String, feedId: String, columns: IndexedSeq[FeedColumn],
      epoch: Int, idleTimeoutSeconds: Double,
      channels: NodeChannelFactory = NodeChannels,
      batchRows: Int = ColumnBatchEncoder.DefaultMaxRows,
      rowsFed: Option[LongAccumulator] = None,
      validation: Boolean = false): Seq[FeedResult] = {
    rows.mapPartitionsWithIndex { (partition, it) =>
      val attempt = Option(TaskContext.get()).map(_.attemptNumber()).getOrElse(0)
      val order = NodePreference.order(fed, ExecutorIdentity.executorId, ExecutorIdentity.host,
        partition)
      val key = PartitionKey.newBuilder().setClusterId(clusterId).setFeedId(feedId)
        .setEpoch(epoch).setPartition(partition).setAttempt(attempt).build()
      val desk = new NodeQuotaDesk(fed, n => channels.channel(n, secret), key, plan.nodeRows)
      val router = new FeedRouter(order, desk, idleTimeoutSeconds, i => s"node ${fed(i).describe}")
      def stream(k: Int) = new NodeStream(
        fed(k),
        secret,
        clusterId,
        feedId,
        columns,
        PlanMessage.newBuilder().setNodeRows(plan.nodeRows(k) * epochs)
          .setMinNodeRows(plan.minNodeRows * epochs).setValidation(validation).build(),
        epoch,
        partition,
        attempt,
        idleTimeoutSeconds,
        channels,
        batchRows
      )
      val results = new PartitionFeeder(partition, epoch, attempt, fed.size, router, stream, desk,
        k => fed(k).barrierIndex).run(it)
      rowsFed.foreach(acc => results.foreach(r => acc.add(r.rowsAtNode)))
      results.iterator
    }.collect().toSeq
  }
}
