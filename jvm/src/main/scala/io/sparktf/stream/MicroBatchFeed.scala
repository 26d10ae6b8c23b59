package io.sparktf.stream

import java.util.concurrent.{CompletableFuture, ExecutionException}

import scala.util.control.NonFatal

import org.apache.spark.api.java.function.VoidFunction2
import org.apache.spark.sql.{DataFrame, Dataset, Row}
import org.slf4j.LoggerFactory

import io.sparktf.{FeedReport, JobDescription, SparkTFException}
import io.sparktf.feed.{FeedPlan, FeedRefused, PartitionRowCounts}

/** The `foreachBatch` function of a training stream: feeds each micro-batch to the nodes as one
 *  feed, like one `train(batch, 1)` (balanced over the fed nodes, every row acknowledged and
 *  checked), at most once per batch id across restarts of the query.
 *
 *  Per micro-batch: a batch id in the [[FedBatchLog]] was fed whole before and is skipped (Spark
 *  runs it again when the query stopped or died after the feed, before its own commit); then
 *  [[NodeBacklog]] waits until the nodes have read all but the previous micro-batch; then the
 *  feed runs in a thread of its own, outside the query's job group, so that stopping the query
 *  while a micro-batch is fed lets that feed finish (the nodes get it whole, not a part that
 *  would leave their synchronous steps unequal) and records it; the stop then goes on.
 *  {{{
 *  df.writeStream.foreachBatch(new MicroBatchFeed(...)).option("checkpointLocation", cp).start()
 *  }}}
 *
 *  @param feed  feeds one planned micro-batch to the cluster; a failure has failed the cluster
 *  @param fail  stops the cluster after a failure of its nodes and says which failed and why
 */
final class MicroBatchFeed(
    clusterId: () => String,
    fedNodes: Int,
    fedLog: FedBatchLog,
    backlog: NodeBacklog,
    requireRunning: () => Unit,
    feed: (DataFrame, FeedPlan) => FeedReport,
    fail: (String, Throwable) => SparkTFException)
    extends VoidFunction2[Dataset[Row], java.lang.Long] {
  private val log = LoggerFactory.getLogger(classOf[MicroBatchFeed])
  @volatile private var lastFed = Map.empty[String, Long]

  override def call(batch: Dataset[Row], batchId: java.lang.Long): Unit = {
    val id = batchId.longValue
    if (fedLog.contains(id)) {
      log.info(s"sparktf stream: micro-batch $id was fed before the query restarted; skipped")
      return
    }
    requireRunning()
    try backlog.awaitRoom(lastFed)
    catch {
      case e: InterruptedException => throw e
      // A gRPC call interrupted by the query's stop fails as CANCELLED, the flag kept set.
      case NonFatal(_) if Thread.currentThread().isInterrupted =>
        throw new InterruptedException(s"the query stopped before micro-batch $id was fed")
      case NonFatal(e) => throw fail(s"micro-batch $id could not be fed", e)
    }
    val report = finishEvenIfStopped(id, runFeed(batch, id))
    fedLog.record(id, report.toJson)
    lastFed = report.rowsPerNode
  }

  /** Starts the feed of one micro-batch in its own thread: the query's stop interrupts the
   *  query's thread and cancels the query's job group, neither of which reaches this one. */
  private def runFeed(batch: DataFrame, id: Long): CompletableFuture[FeedReport] = {
    val result = new CompletableFuture[FeedReport]()
    val sc = batch.sparkSession.sparkContext
    val thread = new Thread(s"sparktf-stream-feed-$id") {
      override def run(): Unit =
        try {
          sc.setJobGroup(s"sparktf-${clusterId()}-micro-batch-$id",
            s"sparktf cluster ${clusterId()}: micro-batch $id", interruptOnCancel = false)
          result.complete(feedOne(batch, id))
        } catch {
          case t: Throwable => result.completeExceptionally(t)
        }
    }
    thread.setDaemon(true)
    thread.start()
    result
  }

  private def feedOne(batch: DataFrame, id: Long): FeedReport = {
    val total = JobDescription.during(batch.sparkSession.sparkContext,
      s"sparktf cluster ${clusterId()}: count micro-batch $id") {
      PartitionRowCounts.total(batch)
    }
    if (total == 0) return FeedReport(s"micro-batch-$id", 0, Map.empty, 0.0, terminated = false)
    val plan = FeedPlan(total, fedNodes)
    try plan.check()
    catch {
      case e: SparkTFException => throw new FeedRefused(s"micro-batch $id: ${e.getMessage}; " +
          "a stream's micro-batches need at least as many rows as fed nodes: let the source " +
          "gather more per trigger (a longer processingTime trigger, maxFilesPerTrigger, a " +
          "larger rowsPerSecond)")
    }
    feed(batch, plan)
  }

  /** Waits for the feed; when the query is stopped meanwhile (this thread interrupted), waits
   *  for it still, records it if it fed, then lets the stop go on. The feed's own timeouts bound
   *  the wait: a feed that makes no progress for `feed_timeout` fails. */
  private def finishEvenIfStopped(id: Long, feeding: CompletableFuture[FeedReport]): FeedReport =
    try unwrap(feeding.get())
    catch {
      case stop: InterruptedException =>
        log.info(s"sparktf stream: the query stops while micro-batch $id is fed; finishing it")
        val fed = scala.util.Try(unwrap(feedingResult(feeding)))
        fed.foreach(r => fedLog.record(id, r.toJson))
        Thread.currentThread().interrupt()
        throw stop
    }

  private def feedingResult(feeding: CompletableFuture[FeedReport]): FeedReport =
    try feeding.join()
    catch {
      case e: java.util.concurrent.CompletionException => throw e.getCause
    }

  private def unwrap(r: => FeedReport): FeedReport =
    try r
    catch {
      case e: ExecutionException => throw e.getCause
    }
}
