package io.sparktf.connect

import scala.jdk.CollectionConverters._

import com.fasterxml.jackson.databind.ObjectMapper
import org.apache.spark.ml.param.{Param, ParamMap, Params}

import io.sparktf.SparkTFException

/** A Spark ML stage's params as a Connect client holds them: a JSON object of name -> value (the
 *  Python stage's own values), read and written with each Param's own JSON codec.
 *  {{{
 *  val estimator = ConnectParams.applied(new TFEstimator(), """{"clusterSize": 2}""")
 *  ConnectParams.toJson(model)   // {"exportDir": "/tmp/export", "batchSize": 1024, ...}
 *  }}}
 */
object ConnectParams {
  private val mapper = new ObjectMapper()

  /** A copy of `stage` with the params in `json` set. */
  def applied[T <: Params](stage: T, json: String): T = {
    val extra = new ParamMap()
    if (json != null && json.trim.nonEmpty) {
      mapper.readTree(json).properties().asScala.foreach { e =>
        if (!stage.hasParam(e.getKey)) throw new SparkTFException(
          s"${stage.getClass.getSimpleName} has no param '${e.getKey}'; it has: " +
            stage.params.map(_.name).mkString(", "))
        val param = stage.getParam(e.getKey).asInstanceOf[Param[Any]]
        extra.put(param, param.jsonDecode(mapper.writeValueAsString(e.getValue)))
      }
    }
    stage.copy(extra).asInstanceOf[T]
  }

  /** Every param with a value (set or default), as a JSON object. */
  def toJson(stage: Params): String = {
    val node = mapper.createObjectNode()
    stage.extractParamMap().toSeq.foreach { pair =>
      val param = pair.param.asInstanceOf[Param[Any]]
      node.replace(param.name, mapper.readTree(param.jsonEncode(pair.value)))
    }
    mapper.writeValueAsString(node)
  }
}
