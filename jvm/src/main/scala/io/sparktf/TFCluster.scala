package io.sparktf

import scala.concurrent.{Await, Future}
import scala.concurrent.duration._
import scala.util.Try
import scala.util.control.NonFatal

import org.apache.spark.sql.{DataFrame, SparkSession}
import org.apache.spark.sql.streaming.{StreamingQuery, Trigger}
import org.apache.spark.sql.types.StructType

import io.sparktf.cluster._
import io.sparktf.feed.{ClusterFeed, FeedColumn, FeedPlan, FeedProgress, FeedRefused}
import io.sparktf.feed.{RestartingFeed, ValidationFeed}
import io.sparktf.infer.{ClusterInference, ResultColumn}
import io.sparktf.stream.{StreamingInput, StreamTraining}

/** A running TensorFlow cluster on Spark executors: one node per executor.
 *
 *  {{{
 *  import io.sparktf._
 *  val cluster = TFCluster.run(spark, TFProgram.script("train.py", "main_fun"), numExecutors = 2)
 *  try cluster.train(df, numEpochs = 3)   // InputMode.SPARK: the JVM streams df to the nodes
 *  finally cluster.shutdown()             // waits for the programs, stops every node
 *  }}}
 *  Its life ([[state]]): reserving -> running -> (feeding)* -> shutting down -> done | failed.
 *  [[TFCluster.run]] reserves the executors in a barrier stage and starts the nodes (all or
 *  none); [[train]] feeds them; [[shutdown]] waits for the programs and stops every node, in a
 *  `finally`. A failure stops every node at once. With `maxRestarts` a failed cluster is
 *  started again (see [[io.sparktf.cluster.ClusterSupervisor]]): `clusterId`, `nodes` and
 *  `tensorboardUrl` then describe the fresh one.
 */
final class TFCluster private (
    val config: ClusterConfig,
    val layout: ClusterLayout,
    supervisor: ClusterSupervisor,
    health: ClusterHealth,
    lifecycle: ClusterLifecycle,
    programEnd: Option[Future[Seq[NodeInfo]]],
    nodeConsole: Option[NodeConsole]) {

  /** The current incarnation's id: a restart gives the cluster a new one. */
  def clusterId: String = supervisor.current.clusterId

  /** Times the cluster was restarted after a failure (at most `config.maxRestarts`). */
  def restarts: Int = supervisor.restarts

  /** Where the cluster is in its life. */
  def state: ClusterState = lifecycle.current

  /** The started nodes, in reservation order (empty in InputMode.TENSORFLOW: the nodes report
   *  when their programs end). */
  def nodes: Seq[NodeInfo] = supervisor.current.nodes
  def fedNodes: IndexedSeq[NodeInfo] = nodes.filter(_.role.takesData).toIndexedSeq

  /** Where the cluster's TensorBoard answers (`tensorboard = true`), e.g.
   *  `Some("http://10.0.0.5:39871/")`; it stops with the cluster. In InputMode.TENSORFLOW it is
   *  known a heartbeat after the node started (see [[io.sparktf.cluster.TensorBoardAnnouncement]]).
   */
  def tensorboardUrl: Option[String] = supervisor.announcedTensorBoardUrl.orElse(
    // InputMode.TENSORFLOW begins its first incarnation in the background, just after run().
    Try(nodes).getOrElse(Nil).flatMap(_.tensorboardUrl).headOption)

  private val trainCalls = new java.util.concurrent.atomic.AtomicInteger()
  @volatile private var lastProgress: Option[FeedProgress] = None

  /** How far the running (or the last) `train()` call got: epoch, rows fed of the total,
   *  rows/s, time left. Another thread may ask while `train()` runs (the Python API's
   *  progress bar does); None before the first `train()`. */
  def progress: Option[FeedProgress.Snapshot] = lastProgress.map(_.snapshot)

  /** The nodes' output lines for the driver's console (the `node_output` setting; InputMode.SPARK).
   */
  private[sparktf] def console: Option[NodeConsole] = nodeConsole

  /** Feeds `df` to the chief and workers `numEpochs` times, then ends the feed: each node's data
   *  feed runs dry after what it holds. Every row is counted and checked against what the nodes
   *  acknowledged and, for a program that has ended, what it took.
   *
   *  Refused before anything is fed, the cluster living on: a bad column, a DataFrame with no
   *  row for some fed node, programs that have returned. Any other error fails the cluster.
   *
   *  @param inputMapping  Spark column -> tensor name; empty feeds every column under its name
   *  @param raggedColumns array columns whose rows differ in length: the node gets them as
   *                       ragged tensors (other arrays must all have one length)
   *  @param validationDf  fed once, before `df`, for the programs'
   *                       `feed.validation_dataset(...)` (see [[io.sparktf.feed.ValidationFeed]]);
   *                       same mapping and ragged columns; fed again to a restarted cluster
   */
  def train(df: DataFrame, numEpochs: Int = 1, inputMapping: Seq[(String, String)] = Nil,
      raggedColumns: Seq[String] = Nil, validationDf: Option[DataFrame] = None): FeedReport = {
    if (config.inputMode != InputMode.SPARK) {
      throw new SparkTFException("train() feeds DataFrames, which needs InputMode.SPARK; this " +
        "cluster runs InputMode.TENSORFLOW, where the nodes read their own files")
    }
    lifecycle.requireRunning("it takes no more data")
    if (numEpochs < 1) throw new SparkTFException(s"num_epochs is $numEpochs: use 1 or more")
    StreamingInput.refuse(df, "train()", "trainStream()")
    streams.endTerminated()
    val columns = FeedColumn.fromSchema(df.schema, inputMapping, raggedColumns.toSet)
    feed(df, columns, ClusterFeed.plan(df, clusterId, layout.fed.size), numEpochs,
      validationDf, inputMapping, raggedColumns)
  }

  private def feed(df: DataFrame, columns: IndexedSeq[FeedColumn], plan: FeedPlan,
      numEpochs: Int, validationDf: Option[DataFrame] = None,
      inputMapping: Seq[(String, String)] = Nil, raggedColumns: Seq[String] = Nil): FeedReport = {
    val progress = new FeedProgress(trainCalls.incrementAndGet(), plan.total, numEpochs)
    lastProgress = Some(progress)
    try {
      // Each incarnation gets the validation rows first: a restarted one holds none.
      val validation = validationDf.map(v =>
        (cluster: ClusterIncarnation) =>
          ValidationFeed.run(cluster, v, inputMapping, raggedColumns, config.feedTimeout))
      new RestartingFeed(supervisor, health, layout, config.feedTimeout,
        checkpointDir = config.checkpointLocation).run(df, columns, plan, numEpochs, Some(progress),
        config.progress, validation)
    } catch {
      case e: FeedRefused => throw e
      case NonFatal(e) => throw fail("feeding the cluster failed", e)
    }
  }

  private lazy val streams = new StreamTraining(supervisor, config.feedTimeout)

  /** Starts a streaming query that feeds every micro-batch of the streaming DataFrame `df` to
   *  the chief and workers as one feed, like `train(batch, 1)`: balanced over the nodes, every
   *  row acknowledged and checked. Returns the query, to stop, monitor and await as any other.
   *  {{{
   *  val query = cluster.trainStream(spark.readStream.schema(schema).parquet("/landing"),
   *    checkpointLocation = "/ckpt/train1", trigger = Trigger.ProcessingTime("10 seconds"))
   *  query.awaitTermination()   // the programs' feed.next_feed() says False once it ends
   *  cluster.shutdown()
   *  }}}
   *  Each micro-batch is fed once: `checkpointLocation/sparktf/fed/<batchId>` records the
   *  micro-batches fed whole, and a query restarted from the checkpoint skips them; a
   *  micro-batch whose feed failed is fed again whole. A micro-batch waits until the nodes have
   *  read all but the one before it (backpressure: the backlog stays in the source). A feed
   *  failure fails the cluster as in `train()`; a query stopped or failing outside a feed
   *  leaves it running (stopping it during a feed lets that micro-batch finish first).
   *  `shutdown()` stops the cluster's active queries first.
   */
  def trainStream(df: DataFrame, checkpointLocation: String,
      trigger: Trigger = Trigger.ProcessingTime(0L), inputMapping: Seq[(String, String)] = Nil,
      raggedColumns: Seq[String] = Nil): StreamingQuery = {
    if (config.inputMode != InputMode.SPARK) {
      throw new SparkTFException("trainStream() feeds DataFrames, which needs InputMode.SPARK")
    }
    lifecycle.requireRunning("it takes no more data")
    val columns = FeedColumn.fromSchema(df.schema, inputMapping, raggedColumns.toSet)
    streams.endTerminated()
    streams.start(df, checkpointLocation, trigger, (batch, plan) => feed(batch, columns, plan, 1),
      fail, () => lifecycle.requireRunning("it takes no more data"))
  }

  /** Streams `df` through the chief and workers, whose programs answer every batch with
   *  `feed.batch_results(...)`, and returns `df` with the answer columns appended: the same
   *  rows, in the same order in each partition. Lazy like any DataFrame: each action streams the
   *  rows again (cache the result to answer once). The nodes serve inference until `shutdown()`.
   *  {{{
   *  val scored = cluster.inference(df, StructType.fromDDL("prediction int"), Seq("pixels" -> "x"))
   *  scored.show()
   *  }}}
   *
   *  @param outputSchema the answer columns, named as the program's result keys
   *  @param inputMapping Spark column -> tensor name; empty sends every column under its name
   *  @param batchRows    rows per batch sent to a node at most
   */
  def inference(df: DataFrame, outputSchema: StructType, inputMapping: Seq[(String, String)] = Nil,
      batchRows: Int = 1024): DataFrame = {
    if (config.inputMode != InputMode.SPARK) {
      throw new SparkTFException("inference() streams DataFrames, which needs InputMode.SPARK")
    }
    lifecycle.requireRunning("it answers no more rows")
    if (batchRows < 1) throw new SparkTFException(s"batch_size is $batchRows: use 1 or more")
    StreamingInput.refuse(df, "inference()", "inference() on each micro-batch in foreachBatch")
    val columns = FeedColumn.fromSchema(df.schema, inputMapping)
    val results = ResultColumn.fromSchema(outputSchema, Map.empty, df.schema.fieldNames.toSeq)
    new ClusterInference(clusterId, fedNodes, supervisor.current.secret, config.feedTimeout)
      .run(df, columns, results, batchRows)
  }

  /** Waits for the programs to return (up to `timeoutSeconds`), then stops every node. Throws if
   *  any node failed, naming it and carrying its traceback. */
  def shutdown(timeoutSeconds: Double = config.shutdownTimeout): Unit = {
    if (!lifecycle.beginShutdown()) return
    streams.stopAll()
    val failures =
      try config.inputMode match {
          case InputMode.SPARK =>
            // InputMode.SPARK restarts only within train(), where the data to feed again is known.
            supervisor.stopRestarting()
            health.endInference()
            health.awaitPrograms(timeoutSeconds)
          case _ => awaitReservationJob(timeoutSeconds)
        }
      catch {
        case NonFatal(e) => Seq(s"waiting for the programs failed: ${TFCluster.rootMessage(e)}")
      }
    // The programs' last lines, before their nodes go.
    Try(nodeConsole.foreach(_.stop()))
    // Whatever the wait saw, every node is stopped.
    try health.stopAll()
    finally lifecycle.ended(failures)
    if (failures.nonEmpty) {
      throw new SparkTFException(s"cluster $clusterId failed:\n${failures.mkString("\n")}")
    }
  }

  /** InputMode.TENSORFLOW, once the programs ended well: the nodes of the last run. */
  private[sparktf] def programResults: Seq[NodeInfo] =
    programEnd.flatMap(_.value).flatMap(_.toOption).getOrElse(Nil)

  /** InputMode.TENSORFLOW: the barrier job lives as long as the programs. */
  private def awaitReservationJob(timeoutSeconds: Double): Seq[String] = programEnd match {
    case Some(f) =>
      try { Await.result(f, timeoutSeconds.seconds); Nil }
      catch {
        case _: java.util.concurrent.TimeoutException =>
          supervisor.stopRestarting()
          supervisor.cancelJobs(clusterId)
          Seq(s"the programs did not end within $timeoutSeconds s (shutdown_timeout); stopped")
        case NonFatal(e) => Seq(TFCluster.rootMessage(e))
      }
    case None => Nil
  }

  /** Stops the cluster after a failure and says which node failed and why. */
  private def fail(what: String, cause: Throwable): SparkTFException = {
    val nodeErrors = health.nodeProblems()
    val detail =
      if (nodeErrors.nonEmpty) nodeErrors.mkString("\n") else TFCluster.rootMessage(cause)
    lifecycle.failed(detail)
    health.stopAfterFailure()
    new SparkTFException(s"$what: $detail", cause)
  }
}

object TFCluster {

  /** Starts a cluster: checks the settings, waits for the executors, reserves them in a barrier
   *  stage and starts one TensorFlow node on each.
   *  {{{
   *  val cluster = TFCluster.run(spark, TFProgram.script("train.py", "main_fun"),
   *    numExecutors = 2, numPs = 0, inputMode = InputMode.SPARK, masterNode = Some("chief"))
   *  // Started again (up to twice) when a node fails; the program resumes from its checkpoints
   *  // in ctx.checkpoint_dir, and train() feeds the epoch in progress again:
   *  TFCluster.run(spark, TFProgram.script("train.py", "main_fun"), numExecutors = 2,
   *    checkpointDir = Some("hdfs:///jobs/run1/ckpt"), maxRestarts = 2)
   *  }}}
   */
  def run(spark: SparkSession, program: TFProgram, numExecutors: Int, numPs: Int = 0,
      inputMode: InputMode.InputMode = InputMode.SPARK, masterNode: Option[String] = Some("chief"),
      evalNode: Boolean = false, modelDir: Option[String] = None,
      exportDir: Option[String] = None, checkpointDir: Option[String] = None,
      maxRestarts: Int = 0): TFCluster =
    run(spark, program,
      ClusterConfig(numExecutors, numPs, inputMode, masterNode, evalNode,
        modelDir, exportDir, checkpointDir = checkpointDir, maxRestarts = maxRestarts))

  def run(spark: SparkSession, program: TFProgram, config: ClusterConfig): TFCluster = {
    val sc = spark.sparkContext
    val layout = ClusterSettings.check(sc, config)
    val python = config.python.getOrElse(io.sparktf.node.NodeLauncher.pythonExecutable(sc.getConf))
    val supervisor = new ClusterSupervisor(sc, program, config, layout, python)
    val lifecycle = new ClusterLifecycle(() => supervisor.current.clusterId)
    val health = new ClusterHealth(sc, supervisor)
    // The barrier stage starts every node or none (a failed start leaves no node behind).
    var console: Option[NodeConsole] = None
    val programEnd = config.inputMode match {
      case InputMode.SPARK =>
        supervisor.start()
        console = NodeConsole.start(supervisor, layout, config.nodeOutput)
        None
      case _ =>
        // The barrier tasks live as long as the programs; the job runs in the background and
        // shutdown() waits for it.
        Some(supervisor.startPrograms())
    }
    lifecycle.started()
    new TFCluster(config, layout, supervisor, health, lifecycle, programEnd, console)
  }

  /** Runs `program` on `config.numExecutors` barrier slots (InputMode.TENSORFLOW: TF_CONFIG set,
   *  no feed), waits for every program (up to `config.shutdownTimeout`) and returns the chief's
   *  return value, cloudpickled (at most `maxResultBytes`); see [[FunctionRunner]].
   *  {{{
   *  val pickled = TFCluster.runFunction(spark, TFProgram.script("train.py", "main_fun"),
   *    ClusterConfig(numExecutors = 2, shutdownTimeout = 3600))
   *  }}}
   */
  def runFunction(spark: SparkSession, program: TFProgram, config: ClusterConfig,
      maxResultBytes: Long = FunctionRunner.DefaultMaxResultBytes): Array[Byte] =
    FunctionRunner.run(spark, program, config, maxResultBytes)

  /** The most specific message in a chain of causes (Spark wraps task errors several times). */
  private[sparktf] def rootMessage(e: Throwable): String = {
    val chain = Iterator.iterate(e)(_.getCause).takeWhile(_ != null).toSeq
    chain.collectFirst { case s: SparkTFException => s.getMessage }
      .orElse(chain.iterator.map(_.getMessage).collectFirst(Function.unlift(taskError)))
      .getOrElse(String.valueOf(chain.last.getMessage))
  }

  private val TaskErrorPrefix = classOf[SparkTFException].getName + ": "

  /** A failed task reaches the driver as text in a SparkException's message, the executor's
   *  exception and its stack trace included: this keeps the sparktf message, without the trace. */
  private[sparktf] def taskError(sparkMessage: String): Option[String] =
    Option(sparkMessage).map(_.indexOf(TaskErrorPrefix)).filter(_ >= 0).map { at =>
      val text = sparkMessage.substring(at + TaskErrorPrefix.length)
      val traceAt = text.indexOf("\n\tat ")
      (if (traceAt >= 0) text.substring(0, traceAt) else text).stripTrailing()
    }
}
