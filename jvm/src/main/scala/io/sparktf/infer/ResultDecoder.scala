package io.sparktf.infer

import java.nio.{ByteBuffer, ByteOrder}

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.{GenericInternalRow, UnsafeArrayData}
import org.apache.spark.unsafe.types.UTF8String

import io.sparktf.SparkTFException
import io.sparktf.proto.v1.{ColumnBatch, DType, Shape}

/** Turns answer batches into rows of the answer columns, checking every size so a bad answer
 *  is an error that names the column, never a wrong value.
 *  {{{
 *  val decoder = new ResultDecoder(columns, "node chief:0")
 *  decoder.rows(batch).foreach(r => println(r.numFields))
 *  }}}
 */
final class ResultDecoder(columns: IndexedSeq[ResultColumn], from: String) {

  def rows(batch: ColumnBatch): IndexedSeq[InternalRow] = {
    val n = batch.getNumRows
    if (batch.getColumnsCount != columns.size) {
      throw new SparkTFException(s"$from answered ${batch.getColumnsCount} columns, expected " +
        s"${columns.size} (${columns.map(_.result).mkString(", ")})")
    }
    val decoded = columns.indices.map { i => column(columns(i), batch, i, n) }
    (0 until n).map { r =>
      val values = new Array[Any](columns.size)
      var i = 0
      while (i < values.length) { values(i) = decoded(i)(r); i += 1 }
      new GenericInternalRow(values)
    }
  }

  private def le(bytes: com.google.protobuf.ByteString): ByteBuffer =
    bytes.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN)

  private def column(c: ResultColumn, batch: ColumnBatch, i: Int, n: Int): Int => Any = {
    val data = batch.getColumns(i)
    val values = le(data.getValues)
    val size = values.remaining()
    def bad(why: String) = throw new SparkTFException(
      s"$from answered result '${c.result}' (column '${c.column}') badly: $why")
    val offsets: Array[Int] =
      if (c.shape == Shape.VAR_ARRAY || c.dtype == DType.STRING || c.dtype == DType.BINARY) {
        val o = le(data.getOffsets)
        if (o.remaining() != 4 * (n + 1)) bad(s"${o.remaining()} offset bytes for $n rows")
        val arr = Array.tabulate(n + 1)(k => o.getInt(4 * k))
        if (arr(0) != 0 || (1 to n).exists(k => arr(k) < arr(k - 1))) bad("offsets do not rise from 0")
        arr
      } else null
    val width = elementBytes(c.dtype)
    c.shape match {
      case Shape.SCALAR if offsets == null =>
        if (size != n * width) bad(s"$size value bytes for $n rows of ${width}-byte values")
        scalar(c.dtype, values)
      case Shape.SCALAR =>
        if (offsets(n) != size) bad(s"offsets end at ${offsets(n)}, the values hold $size bytes")
        val bytes = new Array[Byte](size)
        values.get(bytes)
        if (c.dtype == DType.STRING) {
          (r: Int) => UTF8String.fromBytes(bytes, offsets(r), offsets(r + 1) - offsets(r))
        } else {
          (r: Int) => java.util.Arrays.copyOfRange(bytes, offsets(r), offsets(r + 1))
        }
      case _ =>
        if (offsets(n).toLong * width != size) {
          bad(s"offsets count ${offsets(n)} elements, the values hold $size bytes")
        }
        (r: Int) => array(c.dtype, values, offsets(r), offsets(r + 1))
    }
  }

  private def elementBytes(d: DType): Int = d match {
    case DType.BOOL | DType.INT8 => 1
    case DType.INT16 => 2
    case DType.INT32 | DType.FLOAT32 => 4
    case DType.INT64 | DType.FLOAT64 => 8
    case _ => 1
  }

  private def scalar(d: DType, b: ByteBuffer): Int => Any = d match {
    case DType.BOOL => r => b.get(r) != 0
    case DType.INT8 => r => b.get(r)
    case DType.INT16 => r => b.getShort(2 * r)
    case DType.INT32 => r => b.getInt(4 * r)
    case DType.INT64 => r => b.getLong(8 * r)
    case DType.FLOAT32 => r => b.getFloat(4 * r)
    case DType.FLOAT64 => r => b.getDouble(8 * r)
    case other => throw new IllegalStateException(s"no scalar reader for $other")
  }

  private def array(d: DType, b: ByteBuffer, from: Int, until: Int): UnsafeArrayData = {
    val n = until - from
    // A view from a byte offset on; a duplicate forgets the byte order, so it is set again.
    def at(offset: Int): ByteBuffer = b.duplicate().order(ByteOrder.LITTLE_ENDIAN).position(offset)
      .asInstanceOf[ByteBuffer]
    d match {
      case DType.BOOL => UnsafeArrayData.fromPrimitiveArray(Array.tabulate(n)(k => b.get(from + k) != 0))
      case DType.INT8 => UnsafeArrayData.fromPrimitiveArray(Array.tabulate(n)(k => b.get(from + k)))
      case DType.INT16 =>
        UnsafeArrayData.fromPrimitiveArray(Array.tabulate(n)(k => b.getShort(2 * (from + k))))
      case DType.INT32 =>
        val a = new Array[Int](n); at(4 * from).asIntBuffer().get(a)
        UnsafeArrayData.fromPrimitiveArray(a)
      case DType.INT64 =>
        val a = new Array[Long](n); at(8 * from).asLongBuffer().get(a)
        UnsafeArrayData.fromPrimitiveArray(a)
      case DType.FLOAT32 =>
        val a = new Array[Float](n); at(4 * from).asFloatBuffer().get(a)
        UnsafeArrayData.fromPrimitiveArray(a)
      case DType.FLOAT64 =>
        val a = new Array[Double](n); at(8 * from).asDoubleBuffer().get(a)
        UnsafeArrayData.fromPrimitiveArray(a)
      case other => throw new IllegalStateException(s"no array reader for $other")
    }
  }
}
