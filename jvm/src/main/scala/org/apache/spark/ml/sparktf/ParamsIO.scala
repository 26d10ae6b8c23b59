package org.apache.spark.ml.sparktf

import org.apache.spark.ml.param.Params
import org.apache.spark.ml.util.{DefaultParamsReader, DefaultParamsWriter}
import org.apache.spark.sql.SparkSession

/** Spark ML's own metadata format for a stage's params (the one Pipeline persistence reads),
 *  for stages that also save files of their own. It lives in Spark's package because those
 *  helpers are `private[ml]`.
 *  {{{
 *  ParamsIO.save(model, path, spark); ParamsIO.load(path, spark, classOf[TFModel].getName, fresh)
 *  }}}
 */
object ParamsIO {
  def save(instance: Params, path: String, spark: SparkSession): Unit =
    DefaultParamsWriter.saveMetadata(instance, path, spark)

  /** Sets on `instance` the params saved at `path`; returns the uid they were saved with. */
  def load(path: String, spark: SparkSession, expectedClass: String, instance: Params): String = {
    val metadata = DefaultParamsReader.loadMetadata(path, spark, expectedClass)
    metadata.getAndSetParams(instance)
    metadata.uid
  }

  def savedUid(path: String, spark: SparkSession, expectedClass: String): String =
    DefaultParamsReader.loadMetadata(path, spark, expectedClass).uid
}
