package io.sparktf.python

import scala.jdk.CollectionConverters._
import scala.util.control.NonFatal

import com.fasterxml.jackson.databind.ObjectMapper
import org.apache.spark.sql.{DataFrame, SparkSession}
import org.apache.spark.sql.streaming.{StreamingQuery, Trigger}
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

  /** [[TFCluster.runFunction]]: the settings as JSON; the chief's pickled return value (an Int
   *  bound: a py4j int, and a task result that large is already more than Spark ships well). */
  def runFunction(spark: SparkSession, program: TFProgram, configJson: String,
      maxResultBytes: Int): Array[Byte] =
    TFCluster.runFunction(spark, program, ClusterConfig.fromJson(configJson),
      maxResultBytes.toLong)

  /** [[TFCluster.nodes]]: a JSON list of objects (role, host, pid, gpus, ...). */
  def nodes(cluster: TFCluster): String =
    new ObjectMapper().writeValueAsString(cluster.nodes.map(_.toJavaMap).asJava)

  /** What the driver's Python shows while the cluster runs, as JSON: `lines`, the nodes' output
   *  lines since the last call (see [[io.sparktf.cluster.NodeConsole]]; from the first call on
   *  the JVM prints none itself), `tensorboard_url` ([[TFCluster.tensorboardUrl]]) and
   *  `progress`, the last train()'s
   *  ([[io.sparktf.feed.FeedProgress.Snapshot]]) or null. */
  def console(cluster: TFCluster): String = {
    val lines = cluster.console.fold(Seq.empty[String])(_.take())
    val mapper = new ObjectMapper()
    val out = mapper.createObjectNode()
    val array = out.putArray("lines")
    lines.foreach(l => array.add(l))
    cluster.tensorboardUrl match {
      case Some(u) => out.put("tensorboard_url", u)
      case None => out.putNull("tensorboard_url")
    }
    cluster.progress match {
      case Some(p) => out.set("progress", mapper.readTree(p.toJson))
      case None => out.putNull("progress")
    }
    mapper.writeValueAsString(out)
  }

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

  /** [[TFCluster.trainStream]]: the trigger as JSON, one of `{"processingTime": "5 seconds"}`,
   *  `{"availableNow": true}`, `{"once": true}` (null or blank: Spark's default, micro-batches
   *  as fast as they come), as `DataStreamWriter.trigger` takes them in Python. */
  def trainStream(cluster: TFCluster, df: DataFrame, checkpointLocation: String,
      triggerJson: String, inputMappingJson: String, raggedColumnsJson: String): StreamingQuery =
    cluster.trainStream(df, checkpointLocation, triggerFromJson(triggerJson),
      mappingFromJson(inputMappingJson), listFromJson(raggedColumnsJson))

  private[sparktf] def triggerFromJson(json: String): Trigger =
    Option(json).filter(_.trim.nonEmpty).map { j =>
      val fields = new ObjectMapper().readTree(j).properties().asScala.map(e =>
        e.getKey -> e
          .getValue).toSeq
      fields match {
        case Seq(("processingTime", v)) => Trigger.ProcessingTime(v.asText())
        case Seq(("availableNow", v)) if v.asBoolean() => Trigger.AvailableNow()
        case Seq(("once", v)) if v.asBoolean() => Trigger.Once()
        case _ => throw new SparkTFException(s"trigger $j is not one of processingTime=" +
            "'<interval>', availableNow=True, once=True (a continuous trigger has no " +
            "micro-batches to feed)")
      }
    }.getOrElse(Trigger.ProcessingTime(0L))

  private def listFromJson(json: String): Seq[String] =
    Option(json).filter(_.trim.nonEmpty)
      .map(j => new ObjectMapper().readTree(j).elements().asScala.map(_.asText()).toSeq)
      .getOrElse(Nil)

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
