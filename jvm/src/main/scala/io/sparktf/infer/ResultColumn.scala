package io.sparktf.infer

import org.apache.spark.sql.types._

import io.sparktf.SparkTFException
import io.sparktf.feed.FeedColumn
import io.sparktf.proto.v1.{ColumnSpec, DType, Shape}

/** One answer column appended to the rows: the key the answers carry (`result`), the Spark
 *  column it fills (`column`) and its Spark type.
 *  {{{
 *  ResultColumn.fromSchema(StructType.fromDDL("prediction int, probs array<float>"), Map.empty)
 *  }}}
 */
final case class ResultColumn(result: String, column: String, dataType: DataType) {
  def dtype: DType = ResultColumn.wireType(dataType).get._1
  def shape: Shape = ResultColumn.wireType(dataType).get._2

  def spec: ColumnSpec = ColumnSpec.newBuilder().setName(result).setSourceColumn(column)
    .setDtype(dtype).setShape(shape).build()

  def field: StructField = StructField(column, dataType, nullable = false)
}

object ResultColumn {

  /** How a Spark type travels as an answer: numbers and strings one a row, numeric arrays as
   *  lists (element offsets per row). */
  def wireType(t: DataType): Option[(DType, Shape)] = t match {
    case StringType => Some(DType.STRING -> Shape.SCALAR)
    case BinaryType => Some(DType.BINARY -> Shape.SCALAR)
    case ArrayType(e, _) => FeedColumn.numeric(e).map(_ -> Shape.VAR_ARRAY)
    case other => FeedColumn.numeric(other).map(_ -> Shape.SCALAR)
  }

  /** The answer columns of `schema`, refused (naming the column) when a type cannot be one.
   *
   *  @param resultNames Spark column -> the result key the program (or model) answers with;
   *                     columns not named are answered under their own name
   */
  def fromSchema(schema: StructType, resultNames: Map[String, String],
      inputColumns: Seq[String] = Nil): IndexedSeq[ResultColumn] = {
    if (schema.isEmpty) throw new SparkTFException("the output schema names no column to append")
    val columns = schema.fields.map { f =>
      if (wireType(f.dataType).isEmpty) {
        throw new SparkTFException(s"output column '${f.name}' is ${f.dataType.simpleString}: " +
          "answers fill boolean, integer, float, double, string and binary columns, and arrays " +
          "of numbers")
      }
      if (inputColumns.contains(f.name)) {
        throw new SparkTFException(s"output column '${f.name}' is already a column of the " +
          "DataFrame; the answers are appended: name it differently")
      }
      ResultColumn(resultNames.getOrElse(f.name, f.name), f.name, f.dataType)
    }.toIndexedSeq
    val dup = columns.map(_.column).diff(columns.map(_.column).distinct)
    if (dup.nonEmpty) throw new SparkTFException(s"output column '${dup.head}' appears twice")
    columns
  }
}
