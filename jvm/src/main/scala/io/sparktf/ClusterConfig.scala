package io.sparktf

import scala.jdk.CollectionConverters._

import com.fasterxml.jackson.databind.ObjectMapper
import com.fasterxml.jackson.databind.node.ObjectNode
import com.google.protobuf.InvalidProtocolBufferException
import com.google.protobuf.util.JsonFormat

import io.sparktf.InputMode.InputMode
import io.sparktf.proto.v1

/** How to run a cluster. Names follow TensorFlowOnSpark's `TFCluster.run` arguments. The
 *  defaults below are the only ones: the Python API passes the settings its caller set and no
 *  others (see [[ClusterConfig.fromJson]]).
 *
 *  @param numExecutors        executors to reserve, one TensorFlow node each
 *  @param numPs               parameter servers among them
 *  @param inputMode           [[InputMode.SPARK]] (feed DataFrames) or [[InputMode.TENSORFLOW]]
 *  @param masterNode          "chief", or None for a cluster of workers only (worker:0 then acts
 *                             as chief); TensorFlow 1's "master" is refused (see ClusterLayout)
 *  @param evalNode            reserve one evaluator
 *  @param modelDir            shared directory for checkpoints/exports, given to the program
 *  @param exportDir           where the chief exports the model, given to the program
 *  @param reservationTimeout  seconds to wait for executors and for every node to be ready
 *  @param feedTimeout         seconds a feed may wait for a node to take data
 *  @param shutdownTimeout     seconds `shutdown` waits for the programs to return
 *  @param queueCapacity       column batches a node buffers (each ~4 MiB at most, so 512 MiB
 *                             at most by default): deep enough that a feed runs ahead of
 *                             training into it instead of beside it, on the same cores
 *  @param env                 extra environment for the node processes
 *  @param python              the Python executable the nodes run; None: spark.sparktf.python,
 *                             spark.pyspark.python, PYSPARK_PYTHON, then python3
 *  @param psGpus              give parameter servers the GPUs Spark scheduled for them; by
 *                             default a ps runs with CUDA_VISIBLE_DEVICES="" (see GpuBinding)
 *  @param tensorboard         start TensorBoard on the chief (worker:0 without a chief)
 *  @param logDir              TensorBoard's log dir (ctx.log_dir); None: model_dir/tensorboard,
 *                             or a directory in the node's working dir without a model_dir
 *  @param checkpointDir       where the program keeps its checkpoints (ctx.checkpoint_dir), the
 *                             same for every node and every restart; None: model_dir/checkpoints
 *                             (see [[checkpointLocation]])
 *  @param maxRestarts         times a cluster whose node failed is torn down and started afresh
 *                             (see [[io.sparktf.cluster.ClusterSupervisor]]); needs a checkpoint
 *                             location, from which the program resumes
 *  @param sharedMemoryFeed    feed tasks on a node's own machine hand it batches as files in a
 *                             shared-memory directory (/dev/shm) instead of on the socket;
 *                             false sends every batch over gRPC
 *  @param maxResultBytes      [[TFCluster.runFunction]] alone (not a setting): the chief's
 *                             pickled return value may take this many bytes; 0 sends none back
 *  @param progress            show train()'s progress on the driver: a bar or log lines in
 *                             Python, log lines in Scala (see [[io.sparktf.feed.FeedProgress]])
 *  @param nodeOutput          whose program output reaches the driver's console, each line
 *                             prefixed "[chief:0] ": "chief", "all" or "none" (see
 *                             [[NodeOutputChoice]])
 *  @param keras3MwmsFix       the nodes patch Keras 3's trainer so that `model.fit`, `evaluate`
 *                             and `predict` work under MultiWorkerMirroredStrategy
 *                             (keras-team/keras#20585), on the Keras versions the fix is tested
 *                             on (an untested one fails the first `fit` under the strategy with
 *                             an error naming them); false runs Keras unchanged
 *  {{{
 *  ClusterConfig(numExecutors = 2).withModelDir("/tmp/model")
 *  ClusterConfig(numExecutors = 2, checkpointDir = Some("hdfs:///ckpt/run1"), maxRestarts = 2)
 *  }}}
 */
final case class ClusterConfig(
    numExecutors: Int,
    numPs: Int = 0,
    inputMode: InputMode = InputMode.SPARK,
    masterNode: Option[String] = Some("chief"),
    evalNode: Boolean = false,
    modelDir: Option[String] = None,
    exportDir: Option[String] = None,
    reservationTimeout: Double = 600.0,
    feedTimeout: Double = 600.0,
    shutdownTimeout: Double = 600.0,
    queueCapacity: Int = 128,
    env: Map[String, String] = Map.empty,
    python: Option[String] = None,
    psGpus: Boolean = false,
    tensorboard: Boolean = false,
    logDir: Option[String] = None,
    checkpointDir: Option[String] = None,
    maxRestarts: Int = 0,
    sharedMemoryFeed: Boolean = true,
    progress: Boolean = true,
    nodeOutput: String = NodeOutputChoice.Chief,
    keras3MwmsFix: Boolean = true,
    maxResultBytes: Long = 0) {

  def withModelDir(dir: String): ClusterConfig = copy(modelDir = Some(dir))
  def withExportDir(dir: String): ClusterConfig = copy(exportDir = Some(dir))
  def withCheckpointDir(dir: String): ClusterConfig = copy(checkpointDir = Some(dir))

  /** The directory every node gets as `ctx.checkpoint_dir`: `checkpointDir` (a relative one under
   *  `modelDir`), else `modelDir/checkpoints`, else None. It does not change across restarts, so
   *  a restarted program finds what the failed one saved. */
  def checkpointLocation: Option[String] = checkpointDir match {
    case Some(dir) if ClusterConfig.isAbsolute(dir) => Some(dir)
    case Some(dir) => modelDir.map(m => ClusterConfig.under(m, dir)).orElse(Some(dir))
    case None => modelDir.map(m => ClusterConfig.under(m, ClusterConfig.CheckpointSubdir))
  }

  def validate(): Unit = {
    def positive(name: String, v: Double): Unit =
      if (!(v > 0)) {
        throw new SparkTFException(s"$name is $v: it must be a positive number of seconds")
      }
    positive("reservation_timeout", reservationTimeout)
    positive("feed_timeout", feedTimeout)
    positive("shutdown_timeout", shutdownTimeout)
    if (queueCapacity < 1) {
      throw new SparkTFException(s"queue_capacity is $queueCapacity: use 1 or more")
    }
    NodeOutputChoice.check(nodeOutput)
    if (maxRestarts < 0) throw new SparkTFException(s"max_restarts is $maxRestarts: use 0 or more")
    if (maxRestarts > 0) checkpointLocation match {
      case None => throw new SparkTFException(s"max_restarts is $maxRestarts but there is no " +
          "checkpoint directory to resume from: set checkpoint_dir (or model_dir, whose " +
          "'checkpoints' folder is then used) to a directory every node can reach")
      case Some(dir) if !ClusterConfig.isAbsolute(dir) =>
        throw new SparkTFException(
          s"max_restarts is $maxRestarts but the checkpoint directory '$dir' is relative: each " +
            "node would resolve it in its own working directory, which changes with every restart; " +
            "give checkpoint_dir (or model_dir) as an absolute path or a URI (hdfs://...)")
      case _ =>
    }
  }
}

object ClusterConfig {
  private val mapper = new ObjectMapper()
  private val parser = JsonFormat.parser()

  /** The folder of model_dir that holds checkpoints when no checkpoint_dir is given. */
  val CheckpointSubdir = "checkpoints"

  private val Uri = "^[A-Za-z][A-Za-z0-9+.-]*://.*".r

  /** An absolute local path or a URI (hdfs://, gs://, file://): the same on every node. */
  private def isAbsolute(path: String): Boolean = path.startsWith("/") || Uri.matches(path)

  private def under(base: String, path: String): String = base.stripSuffix("/") + "/" + path

  /** The Python API's form (and TFEstimator's clusterConfig): the proto3 JSON of
   *  `ClusterSettings` (proto/sparktf/v1/cluster_settings.proto), TensorFlowOnSpark's snake_case
   *  names. A setting left out takes the default above; JSON null is the same as leaving it out,
   *  except for master_node, where null (Python's None) means a cluster without a chief.
   *  {{{
   *  ClusterConfig.fromJson("""{"num_executors": 2, "master_node": null, "num_ps": 1}""")
   *  }}}
   */
  def fromJson(json: String): ClusterConfig = {
    val tree =
      try mapper.readTree(json)
      catch {
        case e: java.io.IOException => throw new SparkTFException(
            s"cluster settings are not JSON (${e.getMessage}): $json", e)
      }
    val obj = tree match {
      case o: ObjectNode => o
      case _ => throw new SparkTFException(s"cluster settings must be a JSON object: $json")
    }
    val known = v1.ClusterSettings.getDescriptor.getFields.asScala.map(_.getName).sorted
    obj.fieldNames().asScala.filterNot(known.contains).foreach { f =>
      throw new SparkTFException(s"unknown cluster setting '$f'; known: ${known.mkString(", ")}")
    }
    if (obj.has("master_node") && obj.get("master_node").isNull) obj.put("master_node", "")
    // Any case, as InputMode.parse reads it, with its error naming the value.
    Option(obj.get("input_mode")).filter(_.isTextual).foreach { m =>
      obj.put("input_mode", InputMode.parse(m.asText()).toString)
    }
    val settings = v1.ClusterSettings.newBuilder()
    // One setting at a time, so an error names the setting (JsonFormat's names only the type).
    obj.properties().asScala.foreach { e =>
      val one = mapper.createObjectNode().set[ObjectNode](e.getKey, e.getValue)
      try parser.merge(mapper.writeValueAsString(one), settings)
      catch {
        case err: InvalidProtocolBufferException => throw new SparkTFException(
            s"cluster setting '${e.getKey}' is ${e.getValue}: ${err.getMessage}", err)
      }
    }
    fromSettings(settings.build())
  }

  /** The config the settings give: each setting present replaces the default. */
  def fromSettings(s: v1.ClusterSettings): ClusterConfig = {
    if (!s.hasNumExecutors) throw new SparkTFException("num_executors is required")
    def opt[T](has: Boolean, value: => T): Option[T] = if (has) Some(value) else None
    val d = ClusterConfig(numExecutors = s.getNumExecutors)
    d.copy(
      numPs = opt(s.hasNumPs, s.getNumPs).getOrElse(d.numPs),
      inputMode = opt(s.hasInputMode, InputMode.fromProto(s.getInputMode)).getOrElse(d.inputMode),
      masterNode = opt(s.hasMasterNode, s.getMasterNode).fold(d.masterNode)(m =>
        Some(m.trim).filter(_.nonEmpty)),
      evalNode = opt(s.hasEvalNode, s.getEvalNode).getOrElse(d.evalNode),
      modelDir = opt(s.hasModelDir, s.getModelDir).orElse(d.modelDir),
      exportDir = opt(s.hasExportDir, s.getExportDir).orElse(d.exportDir),
      reservationTimeout = opt(s.hasReservationTimeout, s.getReservationTimeout)
        .getOrElse(d.reservationTimeout),
      feedTimeout = opt(s.hasFeedTimeout, s.getFeedTimeout).getOrElse(d.feedTimeout),
      shutdownTimeout = opt(s.hasShutdownTimeout, s.getShutdownTimeout)
        .getOrElse(d.shutdownTimeout),
      queueCapacity = opt(s.hasQueueCapacity, s.getQueueCapacity).getOrElse(d.queueCapacity),
      env = if (s.getEnvCount > 0) s.getEnvMap.asScala.toMap else d.env,
      python = opt(s.hasPython, s.getPython).filter(_.nonEmpty).orElse(d.python),
      psGpus = opt(s.hasPsGpus, s.getPsGpus).getOrElse(d.psGpus),
      tensorboard = opt(s.hasTensorboard, s.getTensorboard).getOrElse(d.tensorboard),
      logDir = opt(s.hasLogDir, s.getLogDir).filter(_.nonEmpty).orElse(d.logDir),
      checkpointDir = opt(s.hasCheckpointDir, s.getCheckpointDir).filter(_.nonEmpty)
        .orElse(d.checkpointDir),
      maxRestarts = opt(s.hasMaxRestarts, s.getMaxRestarts).getOrElse(d.maxRestarts),
      sharedMemoryFeed = opt(s.hasSharedMemoryFeed, s.getSharedMemoryFeed)
        .getOrElse(d.sharedMemoryFeed),
      progress = opt(s.hasProgress, s.getProgress).getOrElse(d.progress),
      nodeOutput = opt(s.hasNodeOutput, s.getNodeOutput).getOrElse(d.nodeOutput),
      keras3MwmsFix = opt(s.hasKeras3MwmsFix, s.getKeras3MwmsFix).getOrElse(d.keras3MwmsFix)
    )
  }
}
