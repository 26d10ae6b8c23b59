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
 *  {{{
 *  ClusterConfig(numExecutors = 2).withModelDir("/tmp/model")
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
    logDir: Option[String] = None) {

  def withModelDir(dir: String): ClusterConfig = copy(modelDir = Some(dir))
  def withExportDir(dir: String): ClusterConfig = copy(exportDir = Some(dir))

  def validate(): Unit = {
    def positive(name: String, v: Double): Unit =
      if (!(v > 0)) throw new SparkTFException(s"$name is $v: it must be a positive number of seconds")
    positive("reservation_timeout", reservationTimeout)
    positive("feed_timeout", feedTimeout)
    positive("shutdown_timeout", shutdownTimeout)
    if (queueCapacity < 1) throw new SparkTFException(s"queue_capacity is $queueCapacity: use 1 or more")
  }
}

object ClusterConfig {
  private val mapper = new ObjectMapper()

  /** The Python API's form: a JSON object with TensorFlowOnSpark's snake_case names. */
  def fromJson(json: String): ClusterConfig = {
    val node = mapper.readTree(json)
    val known = Set("num_executors", "num_ps", "input_mode", "master_node", "eval_node",
      "model_dir", "export_dir", "reservation_timeout", "feed_timeout", "shutdown_timeout",
      "queue_capacity", "env", "python", "ps_gpus", "tensorboard", "log_dir")
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
      logDir = str("log_dir").filter(_.nonEmpty))
  }
}
