package io.sparktf.tfrecord

import org.apache.spark.sql.types._

import io.sparktf.SparkTFException

/** One DataFrame column as a tf.train.Example feature of the same name.
 *
 *  | Spark type                              | feature                                  |
 *  |-----------------------------------------|------------------------------------------|
 *  | boolean (0/1), byte, short, int, long   | int64_list of one value                  |
 *  | float, double (stored as float32)       | float_list of one value                  |
 *  | string (UTF-8), binary                  | bytes_list of one value                  |
 *  | array of any of the above               | the list (its elements must not be null) |
 *  | Spark ML / MLlib vector, dense or sparse| dense float_list of the vector's size    |
 *
 *  A null value is an absent feature, as `tf.io.parse_example` expects for a `default_value`.
 *
 *  @param ordinal  the column's position in the row
 *  @param element  the scalar type (an array's element type; DoubleType for vectors)
 */
final case class ExampleColumn(ordinal: Int, name: String, dataType: DataType,
    element: DataType, isArray: Boolean, isVector: Boolean) {
  def kind: FeatureKind = ExampleColumn.kindOf(element)
}

/** The list a feature holds. */
sealed trait FeatureKind
object FeatureKind {
  case object Int64 extends FeatureKind { override def toString: String = "int64_list" }
  case object Float extends FeatureKind { override def toString: String = "float_list" }
  case object Bytes extends FeatureKind { override def toString: String = "bytes_list" }
}

object ExampleColumn {
  private def kindOf(t: DataType): FeatureKind = t match {
    case BooleanType | ByteType | ShortType | IntegerType | LongType => FeatureKind.Int64
    case FloatType | DoubleType => FeatureKind.Float
    case _ => FeatureKind.Bytes
  }

  private def scalar(t: DataType): Boolean = t match {
    case BooleanType | ByteType | ShortType | IntegerType | LongType | FloatType | DoubleType |
        StringType | BinaryType => true
    case _ => false
  }

  /** Spark ML (or old MLlib) vectors: struct<type, size, indices, values> underneath. */
  def isVector(t: DataType): Boolean =
    t.isInstanceOf[UserDefinedType[_]] && t.getClass.getName.endsWith(".linalg.VectorUDT")

  /** Every column of `schema`, checked before any task runs: a type TFRecords cannot hold, or
   *  two columns with one name, fails naming the column. */
  def fromSchema(schema: StructType): IndexedSeq[ExampleColumn] = {
    if (schema.isEmpty) throw new SparkTFException("the DataFrame has no columns to write")
    val names = schema.fieldNames.toSeq
    names.diff(names.distinct).distinct.foreach { n =>
      throw new SparkTFException(s"column name '$n' appears twice; a tf.train.Example has one " +
        "feature per name: rename or drop one of them")
    }
    schema.fields.toIndexedSeq.zipWithIndex.map { case (f, i) =>
      f.dataType match {
        case t if scalar(t) => ExampleColumn(i, f.name, t, t, isArray = false, isVector = false)
        case ArrayType(e, _) if scalar(e) =>
          ExampleColumn(i, f.name, f.dataType, e, isArray = true, isVector = false)
        case t if isVector(t) =>
          ExampleColumn(i, f.name, t, DoubleType, isArray = true, isVector = true)
        case t => throw new SparkTFException(s"column '${f.name}' is ${t.simpleString}, which a " +
            "TFRecord cannot hold: sparktf writes boolean, integer, float, double, string and " +
            "binary columns, arrays of those, and ML vectors; cast it (a timestamp or date to " +
            "long, a decimal to double) or drop it")
      }
    }
  }
}
