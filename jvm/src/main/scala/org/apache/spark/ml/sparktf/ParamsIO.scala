package org.apache.spark.ml.sparktf

import org.apache.spark.ml.param.Params
import org.apache.spark.ml.util.{DefaultParamsReader, DefaultParamsWriter}
import org.apache.spark.sql.SparkSession

/** Spark ML's own metadata format for a stage's params (the one Pipeline persistence reads),
 *  for stages that also save files of their own. It lives in Spark's package because those
 *  helpers are `private[ml]`.
 *  {{{
 *  ParamsIO.save(model, path, spark); ParamsIO.load(path, spark, classOf[TFModel].getName, new TFModel(_))
 *  }}}
 */
object ParamsIO {
  def save(instance: Params, path: String, spark: SparkSession): Unit =
    DefaultParamsWriter.saveMetadata(instance, path, spark)

  /** The stage saved at `path`: `make(uid)` with the saved uid, the saved params set on it. */
  def load[T <: Params](path: String, spark: SparkSession, expectedClass: String,
      make: String => T): T = {
    val metadata = DefaultParamsReader.loadMetadata(path, spark, expectedClass)
    val instance = make(metadata.uid)
    metadata.getAndSetParams(instance)
    instance
  }
}
