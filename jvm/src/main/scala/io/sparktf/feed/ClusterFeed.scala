package io.sparktf.feed

import java.util.UUID

import org.apache.spark.sql.DataFrame
import org.slf4j.LoggerFactory

import io.sparktf.{FeedReport, SparkTFException}
import io.sparktf.cluster.NodeInfo
import io.sparktf.rpc.{ClusterSecret, NodeControlClient}

/** One `train()` call: feeds a DataFrame to the fed nodes for some epochs, then ends the feed on
 *  every node, checking that each took exactly the rows the tasks saw acknowledged.
 *  {{{
 *  new ClusterFeed(clusterId, fedNodes, secret, feedTimeout).run(df, FeedColumn.fromSchema(df.schema, Nil), numEpochs = 2)
 *  }}}
 */
final class ClusterFeed(clusterId: String, fed: IndexedSeq[NodeInfo], secret: ClusterSecret,
    feedTimeoutSeconds: Double) {
  private val log = LoggerFactory.getLogger(classOf[ClusterFeed])

  /** @param columns    the fed columns, as [[FeedColumn.fromSchema]] checked them for `df`
   *  @param onEpochFed called with each epoch's task results once the epoch is fed (a feed
   *                    that fails later has still fed those; see [[RestartingFeed]]) */
  def run(df: DataFrame, columns: IndexedSeq[FeedColumn], numEpochs: Int,
      onEpochFed: Seq[FeedResult] => Unit = _ => ()): FeedReport = {
    val feedId = UUID.randomUUID().toString
    val rows = df.queryExecution.toRdd
    val sc = df.sparkSession.sparkContext
    sc.setJobDescription(s"sparktf cluster $clusterId: count the rows to plan the feed")
    // One count, which decodes no column, plans equal shares for every epoch.
    val plan = try FeedPlan(PartitionRowCounts.total(df), fed.size)
      finally sc.setJobDescription(null)
    plan.check()
    val started = System.nanoTime()
    val perNode = scala.collection.mutable.Map[Int, Long]().withDefaultValue(0L)
    var terminated = false
    var sharedRows = 0L
    var socketBytes = 0L
    var epoch = 0
    try {
      while (epoch < numEpochs && !terminated) {
        sc.setJobDescription(s"sparktf cluster $clusterId: feed epoch ${epoch + 1}/$numEpochs")
        val results = FeedJob.run(rows, fed, plan, numEpochs, secret, clusterId, feedId, columns,
          epoch, feedTimeoutSeconds)
        results.foreach(r => perNode(r.nodeIndex) += r.rowsAtNode)
        val fedRows = results.map(_.rowsAtNode).sum
        if (!results.exists(_.terminated) && fedRows != plan.total) {
          throw new SparkTFException(s"epoch ${epoch + 1} fed $fedRows rows, but the DataFrame " +
            s"had ${plan.total} when the feed was planned: it is not deterministic; cache or " +
            "checkpoint it before train()")
        }
        sharedRows += results.map(_.rowsShared).sum
        socketBytes += results.map(_.socketBytes).sum
        onEpochFed(results)
        terminated = results.exists(_.terminated)
        epoch += 1
      }
    } finally sc.setJobDescription(null)
    fed.foreach { n =>
      val reply = new NodeControlClient(n, secret).endFeed(feedId, perNode(n.barrierIndex),
        feedTimeoutSeconds)
      log.info(s"feed $feedId: node ${n.describe} took ${reply.getRowsReceived} rows")
    }
    val report = FeedReport(feedId, epoch,
      fed.map(n => n.role.address -> perNode(n.barrierIndex)).toMap,
      (System.nanoTime() - started) / 1e9, terminated, sharedMemoryRows = sharedRows,
      socketBytes = socketBytes)
    log.info(s"sparktf cluster $clusterId fed ${report.rowsTotal} rows in " +
      f"${report.seconds}%.1f s (${report.rowsPerSecond}%.0f rows/s)")
    report
  }
}
