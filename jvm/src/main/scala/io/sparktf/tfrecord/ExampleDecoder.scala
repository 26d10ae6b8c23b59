package io.sparktf.tfrecord

import java.nio.charset.StandardCharsets

import scala.collection.immutable.ArraySeq
import scala.jdk.CollectionConverters._

import com.google.protobuf.InvalidProtocolBufferException
import org.apache.spark.sql.Row
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow
import org.apache.spark.sql.catalyst.util.GenericArrayData
import org.apache.spark.sql.types._

import io.sparktf.SparkTFException
import io.sparktf.proto.v1.{Example, Feature}

/** Turns serialized tf.train.Example records into rows of `schema`, the inverse of
 *  [[ExampleEncoder]]: an absent feature is null, features the schema does not name are
 *  skipped, and a feature that does not fit its column fails naming the file, the record and
 *  the column.
 *
 *  {{{
 *  val decoder = new ExampleDecoder(schema)
 *  val row = decoder.decode(record, "part-00000.tfrecord", 0)
 *  }}}
 */
final class ExampleDecoder(schema: StructType) extends Serializable {
  private val columns = ExampleColumn.fromSchema(schema)

  /** @param source the file the record came from and `index` its position, for errors */
  def decode(record: Array[Byte], source: String, index: Long): Row = {
    val features =
      try Example.parseFrom(record).getFeatures.getFeatureMap
      catch {
        case e: InvalidProtocolBufferException => throw new SparkTFException(
            s"record $index of $source is not a tf.train.Example: ${e.getMessage}", e)
      }
    val values = new Array[Any](columns.length)
    columns.foreach { c =>
      val f = features.get(c.name)
      values(c.ordinal) =
        if (f != null) value(f, c, source, index)
        else if (schema(c.ordinal).nullable) null
        else throw new SparkTFException(s"record $index of $source has no feature '${c.name}', " +
          s"but column '${c.name}' is not nullable; read with a schema where it is nullable")
    }
    Row.fromSeq(ArraySeq.unsafeWrapArray(values))
  }

  private def value(f: Feature, c: ExampleColumn, source: String, index: Long): Any = {
    def refuse(why: String): Nothing = throw new SparkTFException(s"feature '${c.name}' of " +
      s"record $index in $source $why, so it does not fit column '${c.name}' " +
      s"(${c.dataType.simpleString})")
    val expected = c.kind match {
      case FeatureKind.Int64 => Feature.KindCase.INT64_LIST
      case FeatureKind.Float => Feature.KindCase.FLOAT_LIST
      case FeatureKind.Bytes => Feature.KindCase.BYTES_LIST
    }
    if (f.getKindCase != expected) {
      refuse(s"is ${kindName(f.getKindCase)}, not ${kindName(expected)}")
    }
    val n = f.getKindCase match {
      case Feature.KindCase.INT64_LIST => f.getInt64List.getValueCount
      case Feature.KindCase.FLOAT_LIST => f.getFloatList.getValueCount
      case _ => f.getBytesList.getValueCount
    }
    def int64(k: Int, min: Long, max: Long): Long = {
      val v = f.getInt64List.getValue(k)
      if (v < min || v > max) refuse(s"holds $v, outside $min..$max") else v
    }
    def element(k: Int): Any = c.element match {
      case BooleanType => f.getInt64List.getValue(k) match {
          case 0L => false
          case 1L => true
          case v => refuse(s"holds $v, not 0 or 1")
        }
      case ByteType => int64(k, Byte.MinValue, Byte.MaxValue).toByte
      case ShortType => int64(k, Short.MinValue, Short.MaxValue).toShort
      case IntegerType => int64(k, Int.MinValue, Int.MaxValue).toInt
      case LongType => f.getInt64List.getValue(k)
      case FloatType => f.getFloatList.getValue(k)
      case DoubleType => f.getFloatList.getValue(k).toDouble
      case StringType => new String(f.getBytesList.getValue(k).toByteArray, StandardCharsets.UTF_8)
      case _ => f.getBytesList.getValue(k).toByteArray
    }
    if (c.isVector) {
      val dense = Array.tabulate(n)(k => f.getFloatList.getValue(k).toDouble)
      // The struct of a dense vector: (type 1, no size, no indices, values).
      val struct = new GenericInternalRow(
        Array[Any](1.toByte, null, null, new GenericArrayData(dense)))
      c.dataType.asInstanceOf[UserDefinedType[_]].deserialize(struct)
    } else if (c.isArray) {
      ArraySeq.unsafeWrapArray(Array.tabulate[Any](n)(element))
    } else {
      if (n != 1) refuse(s"holds $n values, not one (an array column takes lists)")
      element(0)
    }
  }

  private def kindName(k: Feature.KindCase): String = k match {
    case Feature.KindCase.INT64_LIST => "an int64_list"
    case Feature.KindCase.FLOAT_LIST => "a float_list"
    case Feature.KindCase.BYTES_LIST => "a bytes_list"
    case _ => "an empty feature (no list)"
  }
}

object ExampleDecoder {

  /** The features of a record as (name, list kind, value count), for schema inference. */
  def describe(record: Array[Byte], source: String,
      index: Long): Seq[(String, FeatureKind, Int)] = {
    val features =
      try Example.parseFrom(record).getFeatures.getFeatureMap
      catch {
        case e: InvalidProtocolBufferException => throw new SparkTFException(
            s"record $index of $source is not a tf.train.Example: ${e.getMessage}", e)
      }
    features.asScala.toSeq.flatMap { case (name, f) =>
      f.getKindCase match {
        case Feature.KindCase.INT64_LIST =>
          Some((name, FeatureKind.Int64, f.getInt64List.getValueCount))
        case Feature.KindCase.FLOAT_LIST =>
          Some((name, FeatureKind.Float, f.getFloatList.getValueCount))
        case Feature.KindCase.BYTES_LIST =>
          Some((name, FeatureKind.Bytes, f.getBytesList.getValueCount))
        case _ => None
      }
    }
  }
}
