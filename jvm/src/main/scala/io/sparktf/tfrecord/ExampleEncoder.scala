package io.sparktf.tfrecord

import com.google.protobuf.ByteString
import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.util.ArrayData
import org.apache.spark.sql.types._

import io.sparktf.SparkTFException
import io.sparktf.proto.v1.{BytesList, Example, Feature, Features, FloatList, Int64List}

/** Turns rows into serialized tf.train.Example records, one feature per column (see
 *  [[ExampleColumn]] for the mapping). Built on the driver, where its columns are checked; used
 *  in the write tasks.
 *
 *  {{{
 *  val encoder = new ExampleEncoder(df.schema)
 *  df.queryExecution.toRdd.map(row => encoder.encode(row))
 *  }}}
 */
final class ExampleEncoder(schema: StructType) extends Serializable {
  private val columns = ExampleColumn.fromSchema(schema)

  /** The serialized Example of `row`; a null value becomes an absent feature. */
  def encode(row: InternalRow): Array[Byte] = {
    val features = Features.newBuilder()
    columns.foreach { c =>
      if (!row.isNullAt(c.ordinal)) features.putFeature(c.name, feature(row, c))
    }
    Example.newBuilder().setFeatures(features).build().toByteArray
  }

  private def feature(row: InternalRow, c: ExampleColumn): Feature = {
    val i = c.ordinal
    val f = Feature.newBuilder()
    if (c.isVector) f.setFloatList(denseVector(row.getStruct(i, 4)))
    else if (c.isArray) {
      val a = row.getArray(i)
      val n = a.numElements()
      var k = 0
      while (k < n) {
        if (a.isNullAt(k)) throw new SparkTFException(s"column '${c.name}' holds an array with " +
          s"a null at index $k; a TFRecord list holds no nulls: fill or drop them (a null array " +
          "is fine: it is written as an absent feature)")
        k += 1
      }
      c.kind match {
        case FeatureKind.Int64 =>
          val l = Int64List.newBuilder()
          k = 0
          while (k < n) { l.addValue(long(a, k, c.element)); k += 1 }
          f.setInt64List(l)
        case FeatureKind.Float =>
          val l = FloatList.newBuilder()
          k = 0
          while (k < n) {
            l.addValue(if (c.element == FloatType) a.getFloat(k) else a.getDouble(k).toFloat)
            k += 1
          }
          f.setFloatList(l)
        case FeatureKind.Bytes =>
          val l = BytesList.newBuilder()
          k = 0
          while (k < n) { l.addValue(bytes(a, k, c.element)); k += 1 }
          f.setBytesList(l)
      }
    } else c.element match {
      case BooleanType =>
        f.setInt64List(Int64List.newBuilder().addValue(if (row.getBoolean(i)) 1L else 0L))
      case ByteType => f.setInt64List(Int64List.newBuilder().addValue(row.getByte(i).toLong))
      case ShortType => f.setInt64List(Int64List.newBuilder().addValue(row.getShort(i).toLong))
      case IntegerType => f.setInt64List(Int64List.newBuilder().addValue(row.getInt(i).toLong))
      case LongType => f.setInt64List(Int64List.newBuilder().addValue(row.getLong(i)))
      case FloatType => f.setFloatList(FloatList.newBuilder().addValue(row.getFloat(i)))
      case DoubleType => f.setFloatList(FloatList.newBuilder().addValue(row.getDouble(i).toFloat))
      case StringType =>
        val utf8 = ByteString.copyFrom(row.getUTF8String(i).getBytes)
        f.setBytesList(BytesList.newBuilder().addValue(utf8))
      case BinaryType =>
        f.setBytesList(BytesList.newBuilder().addValue(ByteString.copyFrom(row.getBinary(i))))
      case other => throw new IllegalStateException(s"no scalar writer for $other")
    }
    f.build()
  }

  private def long(a: ArrayData, k: Int, t: DataType): Long = t match {
    case BooleanType => if (a.getBoolean(k)) 1L else 0L
    case ByteType => a.getByte(k).toLong
    case ShortType => a.getShort(k).toLong
    case IntegerType => a.getInt(k).toLong
    case _ => a.getLong(k)
  }

  private def bytes(a: ArrayData, k: Int, t: DataType): ByteString =
    if (t == StringType) ByteString.copyFrom(a.getUTF8String(k).getBytes)
    else ByteString.copyFrom(a.getBinary(k))

  /** An ML vector's struct is (type: 0 sparse | 1 dense, size, indices, values). */
  private def denseVector(v: InternalRow): FloatList = {
    val values = v.getArray(3)
    val l = FloatList.newBuilder()
    if (v.getByte(0) == 1) {
      var k = 0
      while (k < values.numElements()) { l.addValue(values.getDouble(k).toFloat); k += 1 }
    } else {
      val dense = new Array[Float](v.getInt(1))
      val indices = v.getArray(2)
      var k = 0
      while (k < indices.numElements()) {
        dense(indices.getInt(k)) = values.getDouble(k).toFloat
        k += 1
      }
      dense.foreach(x => l.addValue(x))
    }
    l.build()
  }
}
