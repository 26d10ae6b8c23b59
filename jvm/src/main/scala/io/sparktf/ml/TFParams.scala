package io.sparktf.ml

import scala.jdk.CollectionConverters._

import com.fasterxml.jackson.databind.ObjectMapper
import org.apache.spark.ml.param.{DoubleParam, IntParam, Param, Params, ParamValidators}

/** Params shared by [[TFEstimator]] and [[TFModel]], named as in TensorFlowOnSpark's pipeline.
 *  Mappings are kept as JSON objects so every language sets them the same way. */
trait TFParams extends Params {
  final val inputMapping = new Param[String](
    this,
    "inputMapping",
    "JSON object: DataFrame column -> input tensor name (the feed's tensor when training, the " +
      "signature's input when transforming); {} feeds columns under their own names"
  )
  final val outputMapping = new Param[String](this, "outputMapping",
    "JSON object: signature output -> output column; {} appends every output under its own name")
  final val batchSize = new IntParam(this, "batchSize", "rows per batch sent to TensorFlow",
    ParamValidators.gt(0))
  final val exportDir = new Param[String](this, "exportDir",
    "directory of the SavedModel: where fit() has the chief export, where transform() reads")
  final val signature = new Param[String](this, "signature", "the SavedModel signature to call")
  final val python = new Param[String](this, "python",
    "Python executable of the TensorFlow processes; empty: the one Spark uses for Python")
  final val startTimeout = new DoubleParam(this, "startTimeout",
    "seconds a model server may take to load the model", ParamValidators.gt(0))
  final val idleTimeout = new DoubleParam(this, "idleTimeout",
    "seconds a task waits for answers before it fails", ParamValidators.gt(0))

  setDefault(inputMapping -> "{}", outputMapping -> "{}", batchSize -> 1024,
    signature -> "serving_default", python -> "", startTimeout -> 300.0, idleTimeout -> 600.0)

  def getInputMapping: Map[String, String] = TFParams.parse($(inputMapping))
  def getOutputMapping: Map[String, String] = TFParams.parse($(outputMapping))
  def getBatchSize: Int = $(batchSize)
  def getExportDir: String = $(exportDir)
  def getSignature: String = $(signature)

  /** Input mapping pairs in the order they were given. */
  def inputPairs: Seq[(String, String)] = TFParams.pairs($(inputMapping))
  def outputPairs: Seq[(String, String)] = TFParams.pairs($(outputMapping))
}

object TFParams {
  private val mapper = new ObjectMapper()

  def toJson(m: Iterable[(String, String)]): String = {
    val node = mapper.createObjectNode()
    m.foreach { case (k, v) => node.put(k, v) }
    mapper.writeValueAsString(node)
  }

  def pairs(json: String): Seq[(String, String)] =
    mapper.readTree(json).properties().asScala.map(e => e.getKey -> e.getValue.asText()).toSeq

  def parse(json: String): Map[String, String] = pairs(json).toMap
}
