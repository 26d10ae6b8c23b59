package io.sparktf.feed

import java.util.UUID

import scala.util.Try

import io.grpc.StatusRuntimeException
import org.apache.spark.rdd.RDD
import org.apache.spark.sql.DataFrame
import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.util.LongAccumulator
import org.slf4j.LoggerFactory

import io.sparktf.{FeedReport, JobDescription, SparkTFException}
import io.sparktf.cluster.NodeInfo
import io.sparktf.proto.v1.{EndFeedReply, NodeState}
import io.sparktf.rpc.{ClusterSecret, NodeChannelFactory, NodeChannels, NodeControlClient}

/** One `train()` call on one incarnation: checks that every fed node's program still runs,
 *  feeds a DataFrame for some epochs, then ends the feed on every node and checks it: each node
 *  took exactly the rows the tasks saw acknowledged, and a program that has ended took them
 *  all, unless it called `terminate()` (then the report counts the rows it took).
 *  {{{
 *  val plan = ClusterFeed.plan(df, clusterId, fedNodes.size)
 *  new ClusterFeed(clusterId, fedNodes, secret, feedTimeout).run(df, columns, plan, numEpochs = 2)
 *  }}}
 */
final class ClusterFeed(clusterId: String, fed: IndexedSeq[NodeInfo], secret: ClusterSecret,
    feedTimeoutSeconds: Double, channels: NodeChannelFactory = NodeChannels) {
  private val log = LoggerFactory.getLogger(classOf[ClusterFeed])

  /** @param columns    the fed columns, as [[FeedColumn.fromSchema]] checked them for `df`
   *  @param plan       `df`'s split over the fed nodes, from [[ClusterFeed.plan]]
   *  @param onEpochFed called with each epoch's task results once the epoch is fed (a feed
   *                    that fails later has still fed those; see [[RestartingFeed]])
   *  @param progress   moved as the epochs go (None: nobody watches)
   *  @param showProgress poll the nodes for the rows of the epoch in progress and log the
   *                    progress (the `progress` setting)
   *  @param validation the feed is a validation DataFrame (see [[ValidationFeed]])
   *  @param feedId     the feed's id on the nodes (a caller that reads what they recorded of
   *                    it picks it; see [[FinishedEpochs]]) */
  def run(df: DataFrame, columns: IndexedSeq[FeedColumn], plan: FeedPlan, numEpochs: Int,
      onEpochFed: Seq[FeedResult] => Unit = _ => (), progress: Option[FeedProgress] = None,
      showProgress: Boolean = false, validation: Boolean = false,
      feedId: String = UUID.randomUUID().toString): FeedReport = {
    requireRunningPrograms()
    val sc = df.sparkSession.sparkContext
    // Many small partitions are fed by fewer tasks, the same ones every epoch (FeedTasks).
    val rows = FeedTasks.of(df.queryExecution.toRdd, plan.total, sc.defaultParallelism)
    // The Spark UI shows it on each feed stage, summed over the stage's tasks.
    val rowsFed = sc.longAccumulator(s"sparktf cluster $clusterId: rows fed")
    val watch = new FeedProgressWatch(clusterId, fed, secret, channels,
      progress.getOrElse(FeedProgress.untracked(plan.total, numEpochs)), showProgress)
    try feedEpochs(df, rows, feedId, plan, numEpochs, columns, onEpochFed, rowsFed, watch,
        validation)
    finally watch.close()
  }

  private def feedEpochs(df: DataFrame, rows: RDD[InternalRow], feedId: String, plan: FeedPlan,
      numEpochs: Int, columns: IndexedSeq[FeedColumn], onEpochFed: Seq[FeedResult] => Unit,
      rowsFed: LongAccumulator, watch: FeedProgressWatch, validation: Boolean): FeedReport = {
    val started = System.nanoTime()
    val acked = scala.collection.mutable.Map[Int, Long]().withDefaultValue(0L)
    val shared = scala.collection.mutable.Map[Int, Long]().withDefaultValue(0L)
    var socketBytes = 0L
    var closedByNode = false
    var epoch = 0
    while (epoch < numEpochs && !closedByNode) {
      watch.epochStarted()
      val results = JobDescription.during(df.sparkSession.sparkContext,
        s"sparktf cluster $clusterId: feed epoch ${epoch + 1}/$numEpochs") {
        FeedJob.run(rows, fed, plan, numEpochs, secret, clusterId, feedId, columns, epoch,
          feedTimeoutSeconds, channels, rowsFed = Some(rowsFed), validation = validation)
      }
      results.foreach { r =>
        acked(r.nodeIndex) += r.rowsAtNode
        shared(r.nodeIndex) += r.rowsShared
        socketBytes += r.socketBytes
      }
      val fedRows = results.map(_.rowsAtNode).sum
      if (!results.exists(_.terminated) && fedRows != plan.total) {
        throw new SparkTFException(s"epoch ${epoch + 1} fed $fedRows rows, but the DataFrame " +
          s"had ${plan.total} when the feed was planned: it is not deterministic; cache or " +
          "checkpoint it before train()")
      }
      onEpochFed(results)
      watch.epochFed(fedRows)
      closedByNode = results.exists(_.terminated)
      epoch += 1
    }
    val replies = fed.map(n => n -> endFeed(n, feedId, acked(n.barrierIndex)))
    val planned = fed.indices.map(k => fed(k).barrierIndex -> plan.nodeRows(k) * numEpochs).toMap
    checkTaken(feedId, replies, planned)
    // A program that called terminate() took only some of the rows that reached its queue.
    val rowsAt = replies.map { case (n, r) =>
      n.barrierIndex -> (if (r.getTerminated) r.getRowsTaken else acked(n.barrierIndex))
    }.toMap
    val terminated = replies.exists(_._2.getTerminated)
    // After terminate() an epoch counts when some program took rows of it: the nodes take the
    // epochs in order.
    val epochsTaken = if (!terminated) epoch
    else fed.indices.map { k =>
      val share = plan.nodeRows(k)
      if (share == 0) 0L else (rowsAt(fed(k).barrierIndex) + share - 1) / share
    }.maxOption.getOrElse(0L).toInt.min(epoch)
    val report = FeedReport(
      feedId,
      epochsTaken,
      fed.map(n => n.role.address -> rowsAt(n.barrierIndex)).toMap,
      (System.nanoTime() - started) / 1e9,
      terminated,
      sharedMemoryRows = fed.map(n => shared(n.barrierIndex).min(rowsAt(n.barrierIndex))).sum,
      socketBytes = socketBytes
    )
    log.info(s"sparktf cluster $clusterId fed ${report.rowsTotal} rows in " +
      f"${report.seconds}%.1f s (${report.rowsPerSecond}%.0f rows/s)")
    report
  }

  /** Before anything is fed: a program that failed fails this feed (the caller may restart),
   *  and programs that returned refuse it, naming the nodes: they would take nothing. */
  private def requireRunningPrograms(): Unit = {
    // A node too busy to answer is running; one that cannot be reached fails in the feed.
    val states = fed.map(n =>
      n -> Try(new NodeControlClient(n, secret, channels).status(5))
        .toOption.flatten)
    val failed = states.collect {
      case (n, Some(s)) if s.getState == NodeState.FAILED =>
        s"node ${n.describe} failed before this train() fed it anything:\n${s.getError}"
    }
    if (failed.nonEmpty) throw new SparkTFException(failed.mkString("\n"))
    val ended = states.collect { case (n, Some(s)) if s.getState == NodeState.FINISHED => n }
    if (ended.nonEmpty) {
      throw new FeedRefused(s"cluster $clusterId: ${ended.size} of ${fed.size} fed nodes' " +
        s"programs have returned, so they take no more data: ${ended.map(_.describe)
            .mkString(", ")}; nothing was fed. " + ClusterFeed.OneFeedHint)
    }
  }

  private def endFeed(n: NodeInfo, feedId: String, acked: Long): EndFeedReply = {
    val reply =
      try new NodeControlClient(n, secret, channels).endFeed(feedId, acked,
          feedTimeoutSeconds)
      catch {
        case e: StatusRuntimeException =>
          val why = Option(e.getStatus.getDescription).getOrElse(e.getStatus.getCode.toString)
          throw new SparkTFException(s"ending feed $feedId on node ${n.describe} failed " +
              s"(${e.getStatus.getCode}): $why", e)
      }
    log.info(s"feed $feedId: node ${n.describe} received ${reply.getRowsReceived} rows, its " +
      s"program took ${reply.getRowsTaken}")
    reply
  }

  /** A program that ended (without terminate()) before taking its share lost the rest. */
  private def checkTaken(feedId: String, replies: Seq[(NodeInfo, EndFeedReply)],
      planned: Map[Int, Long]): Unit = {
    val lost = replies.collect {
      case (n, r)
          if !r.getTerminated && r.getProgramState == NodeState.FINISHED &&
            r.getRowsTaken < planned(n.barrierIndex) =>
        s"node ${n.describe}: its program returned after taking ${r.getRowsTaken} of the " +
          s"${planned(n.barrierIndex)} rows this train() feeds it (${r.getRowsReceived} reached " +
          "its queue)"
    }
    if (lost.nonEmpty) {
      throw new SparkTFException(s"feed $feedId: ${lost.size} of ${fed.size} fed nodes' " +
        s"programs ended before taking their rows:\n${lost.mkString("\n")}\nA program that " +
        "stops early must call feed.terminate(). " + ClusterFeed.OneFeedHint)
    }
  }
}

object ClusterFeed {
  private[feed] val OneFeedHint = "A TensorFlowOnSpark-style loop `while not " +
    "feed.should_stop()` reads one train(): read each train() to its end (next_batch() " +
    "returns {} once per train(), or iterate feed.dataset() once per train()), or feed every " +
    "epoch in one train(df, num_epochs)."

  /** How `df`'s rows split over `nodes` fed nodes, counted once for every epoch (free for a
   *  cached DataFrame, from files' metadata for Parquet or ORC). Refuses a DataFrame with no
   *  row for some node, before anything is fed.
   */
  def plan(df: DataFrame, clusterId: String, nodes: Int): FeedPlan = {
    val plan = JobDescription.during(df.sparkSession.sparkContext,
      s"sparktf cluster $clusterId: count the rows to plan the feed") {
      // One count, which decodes no column, plans equal shares for every epoch.
      FeedPlan(PartitionRowCounts.total(df), nodes)
    }
    try plan.check()
    catch {
      case e: SparkTFException => throw new FeedRefused(e.getMessage)
    }
    plan
  }
}
