package io.sparktf.tfrecord

import org.apache.spark.sql.types._

import io.sparktf.SparkTFException

/** A schema for TFRecord files that carry no sidecar (written by TensorFlow or another tool),
 *  from the features of their first records: int64_list -> long, float_list -> float,
 *  bytes_list -> string (binary for the features named binary); a feature with exactly one
 *  value in every sampled record is a scalar, else an array. Columns are sorted by name and
 *  nullable (a later record may lack a feature).
 *
 *  {{{
 *  SchemaInference.infer(records.map(r => ExampleDecoder.describe(r, file, 0)), Set("image"))
 *  }}}
 */
object SchemaInference {

  /** How many records the inference looks at, from the first files on. */
  val SampleRecords = 100

  def infer(records: Seq[Seq[(String, FeatureKind, Int)]], binaryFeatures: Set[String],
      where: String): StructType = {
    if (records.isEmpty) throw new SparkTFException(s"$where holds no records to infer a schema " +
      "from: pass a schema")
    val seen = records.flatten.groupBy(_._1)
    val fields = seen.toSeq.sortBy(_._1).map { case (name, uses) =>
      val kinds = uses.map(_._2).distinct
      if (kinds.size > 1) throw new SparkTFException(s"feature '$name' is " +
        s"${kinds.mkString(" in some records and ")} in others in $where: pass a schema")
      val element = kinds.head match {
        case FeatureKind.Int64 => LongType
        case FeatureKind.Float => FloatType
        case FeatureKind.Bytes => if (binaryFeatures.contains(name)) BinaryType else StringType
      }
      val scalar = uses.forall(_._3 == 1)
      StructField(name, if (scalar) element else ArrayType(element, containsNull = false))
    }
    if (fields.isEmpty) throw new SparkTFException(s"the records of $where have no features: " +
      "pass a schema")
    StructType(fields)
  }

  /** `schema` with the string columns named in `binaryFeatures` read as binary instead. */
  def withBinary(schema: StructType, binaryFeatures: Set[String]): StructType = {
    binaryFeatures.diff(schema.fieldNames.toSet).foreach { n =>
      throw new SparkTFException(s"binary_features names '$n', which is not a column; columns: " +
        schema.fieldNames.mkString(", "))
    }
    StructType(schema.fields.map { f =>
      if (!binaryFeatures.contains(f.name)) f
      else f.dataType match {
        case StringType | BinaryType => f.copy(dataType = BinaryType)
        case ArrayType(StringType | BinaryType, n) => f.copy(dataType = ArrayType(BinaryType, n))
        case t => throw new SparkTFException(s"binary_features names '${f.name}', which is " +
            s"${t.simpleString}: only bytes features (string columns) can be read as binary")
      }
    })
  }
}
