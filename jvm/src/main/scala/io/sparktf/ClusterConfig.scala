package io.sparktf

import scala.jdk.CollectionConverters._

import com.fasterxml.jackson.databind.{JsonNode, ObjectMapper}

import io.sparktf.InputMode.InputMode

/** How to run a cluster. Names follow TensorFlowOnSpark's `TFCluster.run` arguments.
 *
 *  @param numExecutors        executors to reserve, one TensorFlow node each
 *  @param numPs               parameter servers among them
 *  @param inputMode           [[InputMode.SPARK]] (feed DataFrames) or [[InputMode.TENSORFLOW]]
 *  @param masterNode          the chief's job name ("chief"), or None for workers only
 *  @param evalNode            reserve one evaluator
 *  @param modelDir            shared directory for checkpoints/exports, given to the program
 *  @param exportDir           where the chief exports the model, given to the program
 *  @param reservationTimeout  seconds to wait for executors and for every node to be ready
 *  @param feedTimeout         seconds a feed may wait for a node to take data
 *  @param shutdownTimeout     seconds `shutdown` waits for the programs to return
 *  @param queueCapacity       column batches a node buffers (each ~4 MiB at most)
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
    queueCapacity: Int = 16,
    env: Map[String, String] = Map.empty,
    python: Option[String] = None,
    psGpus: Boolean = false,
    tensorboard: Boolean = false,
    logDir: Option[String] = None,
    checkpointDir: Option[String] = None,
    maxRestarts: Int = 0,
    sharedMemoryFeed: Boolean = true) {

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
      if (!(v > 0)) throw new SparkTFException(s"$name is $v: it must be a positive number of seconds")
    positive("reservation_timeout", reservationTimeout)
    positive("feed_timeout", feedTimeout)
    positive("shutdown_timeout", shutdownTimeout)
    if (queueCapacity < 1) throw new SparkTFException(s"queue_capacity is $queueCapacity: use 1 or more")
    if (maxRestarts < 0) throw new SparkTFException(s"max_restarts is $maxRestarts: use 0 or more")
    if (maxRestarts > 0) checkpointLocation match {
      case None => throw new SparkTFException(s"max_restarts is $maxRestarts but there is no " +
        "checkpoint directory to resume from: set checkpoint_dir (or model_dir, whose " +
        "'checkpoints' folder is then used) to a directory every node can reach")
      case Some(dir) if !ClusterConfig.isAbsolute(dir) => throw new SparkTFException(
        s"max_restarts is $maxRestarts but the checkpoint directory '$dir' is relative: each " +
        "node would resolve it in its own working directory, which changes with every restart; " +
        "give checkpoint_dir (or model_dir) as an absolute path or a URI (hdfs://...)")
      case _ =>
    }
  }
}

object ClusterConfig {
  private val mapper = new ObjectMapper()
  /** The folder of model_dir that holds checkpoints when no checkpoint_dir is given. */
  val CheckpointSubdir = "checkpoints"

  private val Uri = "^[A-Za-z][A-Za-z0-9+.-]*://.*".r

  /** An absolute local path or a URI (hdfs://, gs://, file://): the same on every node. */
  private def isAbsolute(path: String): Boolean = path.startsWith("/") || Uri.matches(path)

  private def under(base: String, path: String): String = base.stripSuffix("/") + "/" + path

  /** The Python API's form: a JSON object with TensorFlowOnSpark's snake_case names. */
  def fromJson(json: String): ClusterConfig = {
    val node = mapper.readTree(json)
    val known = Set("num_executors", "num_ps", "input_mode", "master_node", "eval_node",
      "model_dir", "export_dir", "reservation_timeout", "feed_timeout", "shutdown_timeout",
      "queue_capacity", "env", "python", "ps_gpus", "tensorboard", "log_dir", "checkpoint_dir",
      "max_restarts", "shared_memory_feed")
    node.fieldNames().asScala.filterNot(known).foreach { f =>
      throw new SparkTFException(s"unknown cluster setting '$f'; known: ${known.toSeq.sorted.mkString(", ")}")
    }
    def opt(name: String): Option[JsonNode] = Option(node.get(name)).filterNot(_.isNull)
    def str(name: String): Option[String] = opt(name).map(_.asText())
    val d = ClusterConfig(numExecutors = opt("num_executors").map(_.asInt()).getOrElse(
      throw new SparkTFException("num_executors is required")))
    d.copy(
      numPs = opt("num_ps").map(_.asInt()).getOrElse(d.numPs),
      inputMode = str("input_mode").map(InputMode.parse).getOrElse(d.inputMode),
      masterNode = if (node.has("master_node")) str("master_node") else d.masterNode,
      evalNode = opt("eval_node").exists(_.asBoolean()),
      modelDir = str("model_dir"),
      exportDir = str("export_dir"),
      reservationTimeout = opt("reservation_timeout").map(_.asDouble()).getOrElse(d.reservationTimeout),
      feedTimeout = opt("feed_timeout").map(_.asDouble()).getOrElse(d.feedTimeout),
      shutdownTimeout = opt("shutdown_timeout").map(_.asDouble()).getOrElse(d.shutdownTimeout),
      queueCapacity = opt("queue_capacity").map(_.asInt()).getOrElse(d.queueCapacity),
      env = opt("env").map(_.properties().asScala.map(e => e.getKey -> e.getValue.asText()).toMap)
        .getOrElse(Map.empty),
      python = str("python").filter(_.nonEmpty),
      psGpus = opt("ps_gpus").exists(_.asBoolean()),
      tensorboard = opt("tensorboard").exists(_.asBoolean()),
      logDir = str("log_dir").filter(_.nonEmpty),
      checkpointDir = str("checkpoint_dir").filter(_.nonEmpty),
      maxRestarts = opt("max_restarts").map(_.asInt()).getOrElse(d.maxRestarts),
      sharedMemoryFeed = opt("shared_memory_feed").map(_.asBoolean()).getOrElse(d.sharedMemoryFeed))
  }
}
