package io.sparktf.stream

import java.util.concurrent.ConcurrentHashMap

import scala.jdk.CollectionConverters._
import scala.util.Try
import scala.util.control.NonFatal

import org.apache.spark.sql.DataFrame
import org.apache.spark.sql.streaming.{StreamingQuery, StreamingQueryListener, Trigger}
import org.apache.spark.sql.streaming.StreamingQueryListener._
import org.slf4j.LoggerFactory

import io.sparktf.{FeedReport, SparkTFException}
import io.sparktf.cluster.ClusterIncarnations
import io.sparktf.feed.FeedPlan
import io.sparktf.rpc.{NodeChannelFactory, NodeChannels, NodeControlClient}

/** A cluster's training streams ([[io.sparktf.TFCluster.trainStream]]): starts a streaming
 *  query whose micro-batches [[MicroBatchFeed]] feeds to the nodes, tells the nodes when a query
 *  has terminated (stopped, failed or its source exhausted: their `feed.next_feed()` then says
 *  False), and stops the cluster's active queries at shutdown.
 *  {{{
 *  val query = streams.start(spark.readStream.schema(s).parquet(dir), "/ckpt/q1",
 *    Trigger.ProcessingTime("5 seconds"), feedBatch, fail, requireRunning)
 *  query.awaitTermination()
 *  }}}
 */
final class StreamTraining(incarnations: ClusterIncarnations, feedTimeoutSeconds: Double,
    channels: NodeChannelFactory = NodeChannels) {
  private val log = LoggerFactory.getLogger(classOf[StreamTraining])
  private val active = ConcurrentHashMap.newKeySet[StreamingQuery]()
  // By run id: a query restarted from its checkpoint keeps its id.
  private val ended = ConcurrentHashMap.newKeySet[java.util.UUID]()

  def start(df: DataFrame, checkpointLocation: String, trigger: Trigger,
      feed: (DataFrame, FeedPlan) => FeedReport, fail: (String, Throwable) => SparkTFException,
      requireRunning: () => Unit): StreamingQuery = {
    if (!df.isStreaming) {
      throw new SparkTFException("trainStream() takes a streaming DataFrame (spark.readStream" +
        "...); feed a batch DataFrame with train()")
    }
    if (checkpointLocation == null || checkpointLocation.trim.isEmpty) {
      throw new SparkTFException("trainStream() needs a checkpoint_location: there Spark keeps " +
        "the stream's progress and sparktf the micro-batches it fed, so a restarted query " +
        "feeds none twice")
    }
    val spark = df.sparkSession
    val fedNodes = incarnations.current.nodes.count(_.role.takesData)
    val batchFeed = new MicroBatchFeed(
      () => incarnations.current.clusterId,
      fedNodes,
      new FedBatchLog(checkpointLocation, spark.sparkContext.hadoopConfiguration),
      new NodeBacklog(incarnations, feedTimeoutSeconds, channels),
      requireRunning,
      feed,
      fail
    )
    val ends = new EndOnTermination
    spark.streams.addListener(ends)
    val query =
      try df.writeStream.trigger(trigger).option("checkpointLocation", checkpointLocation)
          .foreachBatch(batchFeed).start()
      catch {
        case NonFatal(e) =>
          spark.streams.removeListener(ends)
          throw e
      }
    active.add(query)
    ends.watch(query, () => spark.streams.removeListener(ends))
    query
  }

  /** Tells the nodes now of the queries that have terminated (the listener may not have yet):
   *  a feed that follows, a `train()` after `query.stop()`, comes after the stream's end. */
  def endTerminated(): Unit = active.asScala.toSeq.filterNot(_.isActive).foreach(endStream)

  /** Stops every active training query (their nodes learn the streams ended). */
  def stopAll(): Unit = active.asScala.toSeq.foreach { q =>
    Try(q.stop()).failed.foreach(e => log.warn(s"stopping stream query ${q.id} failed", e))
    endStream(q) // now, not when the listener hears of it: shutdown waits for the programs next
  }

  /** Tells every fed node that the query ended; a node that is gone has nothing to learn. */
  private def endStream(query: StreamingQuery): Unit = if (ended.add(query.runId)) {
    active.remove(query)
    val cluster = incarnations.current
    cluster.nodes.filter(_.role.takesData).foreach { n =>
      Try(new NodeControlClient(n, cluster.secret, channels).endStream(query.id.toString, 10))
        .failed.foreach(e =>
          log.info(s"ending stream ${query.id} on node ${n.describe}: " +
            e.getMessage))
    }
  }

  /** Listens for one query's termination; registered before the query starts, so a query that
   *  ends at once is not missed. */
  private final class EndOnTermination extends StreamingQueryListener {
    private val terminated = ConcurrentHashMap.newKeySet[java.util.UUID]()
    @volatile private var watched: Option[(StreamingQuery, () => Unit)] = None

    def watch(query: StreamingQuery, remove: () => Unit): Unit = {
      watched = Some(query -> remove)
      if (terminated.contains(query.runId)) finish()
    }

    override def onQueryStarted(event: QueryStartedEvent): Unit = ()
    override def onQueryProgress(event: QueryProgressEvent): Unit = ()
    override def onQueryTerminated(event: QueryTerminatedEvent): Unit = {
      terminated.add(event.runId)
      if (watched.exists(_._1.runId == event.runId)) finish()
    }

    private def finish(): Unit = synchronized {
      watched.foreach { case (query, remove) =>
        watched = None
        endStream(query)
        remove()
      }
    }
  }
}
