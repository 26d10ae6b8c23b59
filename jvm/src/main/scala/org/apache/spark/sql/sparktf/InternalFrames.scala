package org.apache.spark.sql.sparktf

import org.apache.spark.rdd.RDD
import org.apache.spark.sql.{DataFrame, SparkSession}
import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.types.StructType

/** A DataFrame over an RDD of Spark's internal rows, without converting every row to a `Row`
 *  and back. It lives in Spark's package because the method is `private[sql]`.
 *  {{{
 *  InternalFrames.create(spark, df.queryExecution.toRdd, df.schema)
 *  }}}
 */
object InternalFrames {
  def create(spark: SparkSession, rows: RDD[InternalRow], schema: StructType): DataFrame =
    spark match {
      case classic: org.apache.spark.sql.classic.SparkSession =>
        classic.internalCreateDataFrame(rows, schema)
      case other => throw new UnsupportedOperationException(
          s"sparktf needs a classic SparkSession (not Spark Connect), found ${other.getClass.getName}")
    }
}
