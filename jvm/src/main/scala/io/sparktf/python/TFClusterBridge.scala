package io.sparktf.python

import scala.jdk.CollectionConverters._
import scala.util.control.NonFatal

import com.fasterxml.jackson.databind.ObjectMapper
import org.apache.spark.sql.{DataFrame, SparkSession}
import org.apache.spark.sql.types.StructType

import io.sparktf.{ClusterConfig, SparkTFException, TFCluster, TFProgram}

/** [[io.sparktf.TFCluster]] as the Python API (`sparktf.cluster`) calls it over py4j: settings,
 *  mappings and reports cross as JSON text, schemas as DDL, so no Scala collection or option
 *  has to be built from Python. One method per Python call; each only converts and delegates.
 *  {{{
 *  # Python
 *  bridge = jvm.io.sparktf.python.TFClusterBridge
 *  jcluster = bridge.run(spark._jsparkSession, program, json.dumps({"num_executors": 2}))
 *  report = json.loads(bridge.train(jcluster, df._jdf, 1, '{"x": "features"}', ""))
 *  }}}
 */
object TFClusterBridge {

  /** [[TFCluster.run]]: the settings as JSON with TensorFlowOnSpark's names. */
  def run(spark: SparkSession, program: TFProgram, configJson: String): TFCluster =
    TFCluster.run(spark, program, ClusterConfig.fromJson(configJson))

  /** [[TFCluster.nodes]]: a JSON list of objects (role, host, pid, gpus, ...). */
  def nodes(cluster: TFCluster): String =
    new ObjectMapper().writeValueAsString(cluster.nodes.map(_.toJavaMap).asJava)

  /** [[TFCluster.train]]: the mapping as a JSON object, ragged columns as a JSON list (null or
   *  blank: none), the report as JSON. */
  def train(cluster: TFCluster, df: DataFrame, numEpochs: Int, inputMappingJson: String,
      raggedColumnsJson: String, validationDf: DataFrame): String = {
    val ragged = Option(raggedColumnsJson).filter(_.trim.nonEmpty)
      .map(j => new ObjectMapper().readTree(j).elements().asScala.map(_.asText()).toSeq)
      .getOrElse(Nil)
    cluster.train(df, numEpochs, mappingFromJson(inputMappingJson), ragged, Option(validationDf))
      .toJson
  }

  /** [[TFCluster.inference]]: the output schema as a DDL string, the mapping as JSON. */
  def inference(cluster: TFCluster, df: DataFrame, outputSchemaDdl: String,
      inputMappingJson: String, batchRows: Int): DataFrame = {
    val schema =
      try StructType.fromDDL(outputSchemaDdl)
      catch {
        case NonFatal(e) => throw new SparkTFException(
            s"output_schema '$outputSchemaDdl' is not a schema like 'prediction int, probs " +
              s"array<float>': ${e.getMessage}", e)
      }
    cluster.inference(df, schema, mappingFromJson(inputMappingJson), batchRows)
  }

  /** A JSON object of column -> name pairs, in its order; null or blank is empty. */
  private[sparktf] def mappingFromJson(json: String): Seq[(String, String)] =
    Option(json).filter(_.trim.nonEmpty).map { j =>
      new ObjectMapper().readTree(j).properties().asScala.map(e => e.getKey -> e.getValue.asText())
        .toSeq
    }.getOrElse(Nil)
}
