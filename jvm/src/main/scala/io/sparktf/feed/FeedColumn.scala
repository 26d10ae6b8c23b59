package io.sparktf.feed

import org.apache.spark.sql.types._

import io.sparktf.SparkTFException
import io.sparktf.proto.v1.{ColumnSpec, DType, FeedSchema, Shape}

/** One DataFrame column as the feed sends it.
 *
 *  @param ordinal   the column's position in the row
 *  @param source    the Spark column name
 *  @param tensor    the tensor name the node sees (after input_mapping)
 *  @param dtype     element type on the wire
 *  @param shape     SCALAR; FIXED_ARRAY (width learned from the first row, or an ML vector's
 *                   size); VAR_ARRAY (arrays named in `raggedColumns`)
 *  @param isVector  a Spark ML vector (dense or sparse), fed dense as float64
 *  @param rowDims   FIXED_ARRAY only: the shape the node gives each row's values (a model's
 *                   input shape without its batch dimension, e.g. 28 x 28 x 1 for 784 values);
 *                   empty leaves rows flat. [[checkWidth]] refuses a width they do not fit.
 */
final case class FeedColumn(ordinal: Int, source: String, tensor: String, dtype: DType,
    shape: Shape, sparkType: DataType, isVector: Boolean = false, rowDims: Seq[Long] = Nil) {
  def elementBytes: Int = FeedColumn.elementBytes(dtype)
  def isArray: Boolean = shape != Shape.SCALAR

  def spec(width: Int): ColumnSpec = {
    val b = ColumnSpec.newBuilder().setName(tensor).setSourceColumn(source).setDtype(dtype)
      .setShape(shape)
    if (shape == Shape.FIXED_ARRAY) {
      b.setWidth(width)
      rowDims.foreach(d => b.addRowDims(d))
    }
    b.build()
  }

  /** The first row's width fits [[rowDims]] (their product), else an error naming both. */
  def checkWidth(width: Int, partition: Int): Unit =
    if (rowDims.nonEmpty && rowDims.product != width) {
      throw new SparkTFException(s"column '$source' holds arrays of $width values (partition " +
        s"$partition), but input '$tensor' takes rows of shape ${rowDims.mkString("[", ", ", "]")}" +
        s" = ${rowDims.product} values: feed a column of ${rowDims.product}-value arrays, or " +
        "map the input to another column")
    }
}

object FeedColumn {
  def elementBytes(dtype: DType): Int = dtype match {
    case DType.BOOL | DType.INT8 => 1
    case DType.INT16 => 2
    case DType.INT32 | DType.FLOAT32 => 4
    case DType.INT64 | DType.FLOAT64 => 8
    case _ => 0 // variable: offsets say
  }

  /** The wire type of a numeric Spark type (feeds and inference answers alike). */
  private[sparktf] def numeric(t: DataType): Option[DType] = t match {
    case BooleanType => Some(DType.BOOL)
    case ByteType => Some(DType.INT8)
    case ShortType => Some(DType.INT16)
    case IntegerType => Some(DType.INT32)
    case LongType => Some(DType.INT64)
    case FloatType => Some(DType.FLOAT32)
    case DoubleType => Some(DType.FLOAT64)
    case _ => None
  }

  /** The columns to feed, checked before any task runs.
   *
   *  @param inputMapping  Spark column -> tensor name; when empty, every column is fed under its
   *                       own name, else only the mapped columns, in the mapping's order.
   *  @param raggedColumns array columns whose rows differ in length (fed as ragged tensors);
   *                       other arrays must all have their first row's length
   */
  def fromSchema(schema: StructType, inputMapping: Seq[(String, String)],
      raggedColumns: Set[String] = Set.empty): IndexedSeq[FeedColumn] = {
    val wanted =
      if (inputMapping.isEmpty) schema.fieldNames.toSeq.map(n => n -> n) else inputMapping
    if (wanted.isEmpty) throw new SparkTFException("the DataFrame has no columns to feed")
    val tensors = wanted.map(_._2)
    tensors.diff(tensors.distinct).distinct.foreach { t =>
      throw new SparkTFException(
        s"input_mapping names tensor '$t' twice: each tensor takes one column")
    }
    raggedColumns.diff(wanted.map(_._1).toSet).foreach { c =>
      throw new SparkTFException(s"ragged_columns names '$c', which is not fed; fed columns: " +
        wanted.map(_._1).mkString(", "))
    }
    wanted.map { case (column, tensor) =>
      val ordinal = schema.fieldNames.indexOf(column)
      if (ordinal < 0) throw new SparkTFException(
        s"input_mapping names column '$column', which the DataFrame lacks; it has: " +
          schema.fieldNames.mkString(", "))
      val field = schema(ordinal)
      def refuse(why: String) = throw new SparkTFException(
        s"column '$column' is ${field.dataType.simpleString}: $why")
      val ragged = raggedColumns.contains(column)
      if (ragged && !field.dataType.isInstanceOf[ArrayType]) {
        refuse("ragged_columns takes array columns only")
      }
      field.dataType match {
        case t if numeric(t).isDefined =>
          FeedColumn(ordinal, column, tensor, numeric(t).get, Shape.SCALAR, t)
        case StringType =>
          FeedColumn(ordinal, column, tensor, DType.STRING, Shape.SCALAR, StringType)
        case BinaryType =>
          FeedColumn(ordinal, column, tensor, DType.BINARY, Shape.SCALAR, BinaryType)
        case ArrayType(e, _) if numeric(e).isDefined =>
          FeedColumn(ordinal, column, tensor, numeric(e).get,
            if (ragged) Shape.VAR_ARRAY else Shape.FIXED_ARRAY, field.dataType)
        case u: UserDefinedType[_] if isVector(u) =>
          FeedColumn(ordinal, column, tensor, DType.FLOAT64, Shape.FIXED_ARRAY, u, isVector = true)
        case ArrayType(e, _) => refuse(
            s"sparktf feeds arrays of booleans, integers, float or double, not of ${e.simpleString}; " +
              "cast the elements or drop the column from input_mapping")
        case _ => refuse(
            "sparktf feeds numeric scalars, numeric arrays, ML vectors, string and binary " +
              "columns; " +
              "cast it or leave it out of input_mapping")
      }
    }.toIndexedSeq
  }

  /** Spark ML (or old MLlib) vectors: struct<type, size, indices, values> underneath. */
  private def isVector(u: UserDefinedType[_]): Boolean =
    u.getClass.getName.endsWith(".linalg.VectorUDT")

  def schema(columns: Seq[FeedColumn], widths: Seq[Int]): FeedSchema = {
    val b = FeedSchema.newBuilder()
    columns.zip(widths).foreach { case (c, w) => b.addColumns(c.spec(w)) }
    b.build()
  }
}
