package io.sparktf

import java.util.concurrent.atomic.AtomicReference

import scala.concurrent.{Await, ExecutionContext, Future}
import scala.concurrent.duration._
import scala.jdk.CollectionConverters._
import scala.util.Try
import scala.util.control.NonFatal

import com.fasterxml.jackson.databind.ObjectMapper
import org.apache.spark.sql.{DataFrame, SparkSession}
import org.apache.spark.sql.types.StructType
import org.slf4j.LoggerFactory

import io.sparktf.cluster._
import io.sparktf.feed.{FeedColumn, RestartingFeed}
import io.sparktf.proto.v1.{NodeState, NodeStatus}
import io.sparktf.rpc.{ClusterSecret, NodeChannels, NodeControlClient}

/** A running TensorFlow cluster on Spark executors: one node per executor.
 *
 *  {{{
 *  import io.sparktf._
 *  val cluster = TFCluster.run(spark, TFProgram.script("train.py", "main_fun"), numExecutors = 2)
 *  try cluster.train(df, numEpochs = 3)   // InputMode.SPARK: the JVM streams df to the nodes
 *  finally cluster.shutdown()             // waits for the programs, stops every node
 *  }}}
 *  States: running -> (feeding)* -> shutting down -> done | failed. With `maxRestarts` a failed
 *  cluster is started again (see [[io.sparktf.cluster.ClusterSupervisor]]): `clusterId`, `nodes`
 *  and `tensorboardUrl` then describe the fresh one.
 */
final class TFCluster private (
    spark: SparkSession,
    val config: ClusterConfig,
    val layout: ClusterLayout,
    supervisor: ClusterSupervisor,
    programEnd: Option[Future[Seq[NodeInfo]]]) {

  import TFCluster.log

  private val state = new AtomicReference[String]("running")

  /** The current incarnation's id: a restart gives the cluster a new one. */
  def clusterId: String = supervisor.current.clusterId
  private def nodeInfos: Seq[NodeInfo] = supervisor.current.nodes
  private def secret: ClusterSecret = supervisor.current.secret

  /** Times the cluster was restarted after a failure (at most `config.maxRestarts`). */
  def restarts: Int = supervisor.restarts

  /** The started nodes, in reservation order (empty in InputMode.TENSORFLOW: the nodes report
   *  when their programs end). */
  def nodes: Seq[NodeInfo] = nodeInfos
  def fedNodes: IndexedSeq[NodeInfo] = nodeInfos.filter(_.role.takesData).toIndexedSeq
  def currentState: String = state.get()

  /** Where the cluster's TensorBoard answers (`tensorboard = true`, InputMode.SPARK), e.g.
   *  `Some("http://10.0.0.5:39871/")`; it stops with the cluster. */
  def tensorboardUrl: Option[String] = nodeInfos.flatMap(_.tensorboardUrl).headOption

  /** Python's form of [[nodes]]: a JSON list of objects (role, host, pid, gpus, ...). */
  def nodesJson: String = new ObjectMapper().writeValueAsString(nodeInfos.map(_.toJavaMap).asJava)

  /** Feeds `df` to the chief and workers `numEpochs` times, then ends the feed: each node's data
   *  feed runs dry after what it holds. Every row is counted and checked against what the nodes
   *  acknowledged.
   *
   *  @param inputMapping  Spark column -> tensor name; empty feeds every column under its name
   *  @param raggedColumns array columns whose rows differ in length: the node gets them as
   *                       ragged tensors (other arrays must all have one length)
   */
  def train(df: DataFrame, numEpochs: Int = 1, inputMapping: Seq[(String, String)] = Nil,
      raggedColumns: Seq[String] = Nil): FeedReport = {
    if (config.inputMode != InputMode.SPARK) {
      throw new SparkTFException("train() feeds DataFrames, which needs InputMode.SPARK; this " +
        "cluster runs InputMode.TENSORFLOW, where the nodes read their own files")
    }
    if (state.get() != "running") {
      throw new SparkTFException(s"cluster $clusterId is ${state.get()}: it takes no more data")
    }
    if (numEpochs < 1) throw new SparkTFException(s"num_epochs is $numEpochs: use 1 or more")
    // Bad columns are refused before anything is fed; the cluster lives on.
    val columns = FeedColumn.fromSchema(df.schema, inputMapping, raggedColumns.toSet)
    try new RestartingFeed(supervisor, layout, config.feedTimeout, () => nodeProblems(),
      () => stopAfterFailure()).run(df, columns, numEpochs)
    catch {
      case NonFatal(e) => throw fail("feeding the cluster failed", e)
    }
  }

  /** Python's form of [[train]]: the mapping as a JSON object, ragged columns as a JSON list,
   *  the report as JSON. */
  def trainJson(df: DataFrame, numEpochs: Int, inputMappingJson: String,
      raggedColumnsJson: String): String = {
    val mapper = new ObjectMapper()
    val mapping = TFCluster.mappingFromJson(inputMappingJson)
    val ragged = Option(raggedColumnsJson).filter(_.trim.nonEmpty)
      .map(j => mapper.readTree(j).elements().asScala.map(_.asText()).toSeq).getOrElse(Nil)
    train(df, numEpochs, mapping, ragged).toJson
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
    if (state.get() != "running") {
      throw new SparkTFException(s"cluster $clusterId is ${state.get()}: it answers no more rows")
    }
    if (batchRows < 1) throw new SparkTFException(s"batch_size is $batchRows: use 1 or more")
    val columns = FeedColumn.fromSchema(df.schema, inputMapping)
    val results = io.sparktf.infer.ResultColumn.fromSchema(outputSchema, Map.empty,
      df.schema.fieldNames.toSeq)
    new io.sparktf.infer.ClusterInference(clusterId, fedNodes, secret, config.feedTimeout)
      .run(df, columns, results, batchRows)
  }

  /** Python's form of [[inference]]: the output schema as a DDL string, the mapping as JSON. */
  def inferenceJson(df: DataFrame, outputSchemaDdl: String, inputMappingJson: String,
      batchRows: Int): DataFrame = {
    val schema = try StructType.fromDDL(outputSchemaDdl) catch {
      case NonFatal(e) => throw new SparkTFException(
        s"output_schema '$outputSchemaDdl' is not a schema like 'prediction int, probs " +
          s"array<float>': ${e.getMessage}", e)
    }
    inference(df, schema, TFCluster.mappingFromJson(inputMappingJson), batchRows)
  }

  /** Waits for the programs to return (up to `timeoutSeconds`), then stops every node. Throws if
   *  any node failed, naming it and carrying its traceback. */
  def shutdown(timeoutSeconds: Double = config.shutdownTimeout): Unit = {
    if (!state.compareAndSet("running", "shutting down")) return
    // InputMode.SPARK restarts only within train(), where the data to feed again is known.
    if (config.inputMode == InputMode.SPARK) {
      supervisor.stopRestarting()
      endInference()
    }
    val failures = config.inputMode match {
      case InputMode.SPARK => awaitPrograms(timeoutSeconds)
      case _ => awaitReservationJob(timeoutSeconds)
    }
    stopAll()
    state.set(if (failures.isEmpty) "done" else "failed")
    if (failures.nonEmpty) {
      throw new SparkTFException(s"cluster $clusterId failed:\n${failures.mkString("\n")}")
    }
  }

  /** No more inference streams will come: the programs' feeds run dry, so their serving loops
   *  end (`should_stop()`), and a program waiting for one more feed is told there is none. A
   *  node that does not answer is judged by [[awaitPrograms]]. */
  private def endInference(): Unit = fedNodes.foreach { n =>
    Try(new NodeControlClient(n, secret).endFeed(TFCluster.InferenceFeedId, -1, 10)).failed
      .foreach(e => log.info(s"ending inference on node ${n.describe}: ${e.getMessage}"))
  }

  private def awaitPrograms(timeoutSeconds: Double): Seq[String] = {
    val deadline = System.nanoTime() + (timeoutSeconds * 1e9).toLong
    val clients = fedNodes.map(n => n -> new NodeControlClient(n, secret))
    var pending = clients
    val failures = scala.collection.mutable.ArrayBuffer[String]()
    val gone = scala.collection.mutable.ArrayBuffer[NodeInfo]()
    while (pending.nonEmpty && System.nanoTime() < deadline) {
      pending = pending.filter { case (n, c) =>
        // A node too busy to answer within the call's deadline is still running.
        Try(c.status(5)).getOrElse(Some(NodeStatus.getDefaultInstance.toBuilder
            .setState(NodeState.RUNNING).build())) match {
          case None =>
            gone += n
            false
          case Some(s) if s.getState == NodeState.FAILED =>
            failures += s"node ${n.describe} failed:\n${s.getError}"
            false
          case Some(s) => s.getState == NodeState.RUNNING
        }
      }
      if (pending.nonEmpty) Thread.sleep(250)
    }
    pending.foreach { case (n, _) =>
      failures += s"node ${n.describe} was still running its program after $timeoutSeconds s " +
        "(shutdown_timeout); it was stopped"
    }
    failures.toSeq ++ deathsOf(gone.toSeq)
  }

  private def awaitReservationJob(timeoutSeconds: Double): Seq[String] = programEnd match {
    case Some(f) =>
      try { Await.result(f, timeoutSeconds.seconds); Nil }
      catch {
        case _: java.util.concurrent.TimeoutException =>
          supervisor.stopRestarting()
          spark.sparkContext.cancelJobGroup(supervisor.jobGroup(clusterId))
          Seq(s"the programs did not end within $timeoutSeconds s (shutdown_timeout); stopped")
        case NonFatal(e) => Seq(TFCluster.rootMessage(e))
      }
    case None => Nil
  }

  /** Asks every node to exit (its program gets `graceSeconds` to return) and waits until none
   *  answers any more. */
  private def stopAll(graceSeconds: Double = TFCluster.StopGraceSeconds): Unit = {
    val clients = nodeInfos.map(n => n -> new NodeControlClient(n, secret))
    clients.foreach(_._2.stop(graceSeconds))
    // A node exits at most grace + its server's own stop time after Stop; beyond that it hangs.
    val deadline = System.nanoTime() + ((graceSeconds + 25) * 1e9).toLong
    var alive = clients
    while (alive.nonEmpty && System.nanoTime() < deadline) {
      alive = alive.filter { case (_, c) => Try(c.status(2).isDefined).getOrElse(true) }
      if (alive.nonEmpty) Thread.sleep(200)
    }
    alive.foreach { case (n, _) => log.warn(s"node ${n.describe} still answers after stop") }
    NodeChannels.closeAll(secret)
  }

  /** Stops the cluster after a failure and says which node failed and why. */
  private def fail(what: String, cause: Throwable): SparkTFException = {
    state.set("failed")
    val nodeErrors = nodeProblems()
    stopAfterFailure()
    val detail =
      if (nodeErrors.nonEmpty) nodeErrors.mkString("\n") else TFCluster.rootMessage(cause)
    new SparkTFException(s"$what: $detail", cause)
  }

  /** The other nodes' programs are stopped after a short grace: the cluster cannot go on. */
  private def stopAfterFailure(): Unit =
    try stopAll(TFCluster.FailureGraceSeconds) catch {
      case NonFatal(e) => log.warn("stopping the nodes failed", e)
    }

  /** What the driver can learn of each node that is not well: its traceback, or its absence.
   *  The nodes are asked at once, so a node that hangs costs one deadline, not one each. */
  private def nodeProblems(): Seq[String] = {
    implicit val ec: ExecutionContext = ExecutionContext.global
    val asked = nodeInfos.map(n => n -> Future(new NodeControlClient(n, secret).status(5)))
    val gone = scala.collection.mutable.ArrayBuffer[NodeInfo]()
    val problems = asked.flatMap { case (n, f) =>
      try Await.result(f, 10.seconds) match {
        case Some(s) if s.getState == NodeState.FAILED =>
          Some(s"node ${n.describe} failed:\n${s.getError}")
        case Some(_) => None
        case None =>
          gone += n
          None
      } catch {
        case NonFatal(e) => Some(s"node ${n.describe} does not answer: ${TFCluster.rootMessage(e)}")
      }
    }
    problems ++ deathsOf(gone.toSeq)
  }

  /** Nodes whose process is gone: how each ended (signal or exit code, stderr tail) when its
   *  executor is still there to say. */
  private def deathsOf(gone: Seq[NodeInfo]): Seq[String] = {
    val deaths = try NodePostMortem.collect(spark.sparkContext, clusterId, gone, 5) catch {
      case NonFatal(e) =>
        log.warn("asking the executors how nodes ended failed", e)
        Map.empty[Int, String]
    }
    gone.map { n =>
      deaths.get(n.barrierIndex) match {
        case Some(death) => s"node ${n.describe} died: $death"
        case None => s"node ${n.describe} is gone: its process died and its executor could not " +
          "say how (the executor was lost, or the process was already forgotten); the " +
          "executor's log has the node's last output"
      }
    }
  }
}

object TFCluster {
  private val log = LoggerFactory.getLogger(classOf[TFCluster])
  /** Seconds a program gets to return after Stop at shutdown. */
  private val StopGraceSeconds = 5.0
  /** After a failure the cluster cannot go on: the other programs get less time. */
  private val FailureGraceSeconds = 2.0

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
    run(spark, program, ClusterConfig(numExecutors, numPs, inputMode, masterNode, evalNode,
      modelDir, exportDir, checkpointDir = checkpointDir, maxRestarts = maxRestarts))

  def run(spark: SparkSession, program: TFProgram, config: ClusterConfig): TFCluster = {
    val sc = spark.sparkContext
    val layout = ClusterSettings.check(sc, config)
    val python = config.python.getOrElse(io.sparktf.node.NodeLauncher.pythonExecutable(sc.getConf))
    val supervisor = new ClusterSupervisor(sc, program, config, layout, python)
    config.inputMode match {
      case InputMode.SPARK =>
        supervisor.start()
        new TFCluster(spark, config, layout, supervisor, None)
      case _ =>
        if (config.tensorboard) {
          log.warn("sparktf: in InputMode.TENSORFLOW the driver learns no TensorBoard URL (the " +
            "nodes report when their programs end); the chief's executor log has it")
        }
        // The barrier tasks live as long as the programs; the job runs in the background and
        // shutdown() waits for it.
        val end = supervisor.startPrograms()
        new TFCluster(spark, config, layout, supervisor, Some(end))
    }
  }

  /** The feed lane of the nodes that every inference stream shares (the node's name for it). */
  private val InferenceFeedId = "inference"

  /** A JSON object of column -> name pairs, in its order; null or blank is empty. */
  private[sparktf] def mappingFromJson(json: String): Seq[(String, String)] =
    Option(json).filter(_.trim.nonEmpty).map { j =>
      new ObjectMapper().readTree(j).properties().asScala.map(e => e.getKey -> e.getValue.asText())
        .toSeq
    }.getOrElse(Nil)

  /** Python's form of [[run]]: the settings as JSON with TensorFlowOnSpark's names. */
  def runJson(spark: SparkSession, program: TFProgram, configJson: String): TFCluster =
    run(spark, program, ClusterConfig.fromJson(configJson))

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
