package io.sparktf.infer

import java.nio.{ByteBuffer, ByteOrder}

import org.apache.spark.sql.sparktf.ResultVectors
import org.apache.spark.sql.types.ArrayType
import org.apache.spark.sql.vectorized.{ColumnVector, ColumnarBatch}

import io.sparktf.SparkTFException
import io.sparktf.proto.v1.{ColumnBatch, ColumnData, DType, Shape}

/** Turns answer batches into Spark column batches of the answer columns, a column at a time,
 *  checking every size so a bad answer is an error that names the column, never a wrong value.
 *  `getRow(r)` of the result is a view of row r (one reused row object per batch).
 *  {{{
 *  val decoder = new ResultDecoder(columns, "node chief:0")
 *  val answers = decoder.decode(batch)
 *  (0 until answers.numRows).foreach(r => println(answers.getRow(r).getFloat(0)))
 *  }}}
 */
final class ResultDecoder(columns: IndexedSeq[ResultColumn], from: String) {

  def decode(batch: ColumnBatch): ColumnarBatch = {
    val n = batch.getNumRows
    if (batch.getColumnsCount != columns.size) {
      throw new SparkTFException(s"$from answered ${batch.getColumnsCount} columns, expected " +
        s"${columns.size} (${columns.map(_.result).mkString(", ")})")
    }
    val vectors = Array.tabulate[ColumnVector](columns.size) { i =>
      column(columns(i), batch.getColumns(i), n)
    }
    new ColumnarBatch(vectors, n)
  }

  private def le(bytes: com.google.protobuf.ByteString): ByteBuffer =
    bytes.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN)

  private def column(c: ResultColumn, data: ColumnData, n: Int): ColumnVector = {
    val values = le(data.getValues)
    val size = values.remaining()
    def bad(why: String) = throw new SparkTFException(
      s"$from answered result '${c.result}' (column '${c.column}') badly: $why")
    val offsets: Array[Int] =
      if (c.shape == Shape.VAR_ARRAY || c.dtype == DType.STRING || c.dtype == DType.BINARY) {
        val o = le(data.getOffsets)
        if (o.remaining() != 4 * (n + 1)) bad(s"${o.remaining()} offset bytes for $n rows")
        val arr = new Array[Int](n + 1)
        o.asIntBuffer().get(arr)
        if (arr(0) != 0 || !rising(arr)) bad("offsets do not rise from 0")
        arr
      } else null
    val width = elementBytes(c.dtype)
    c.shape match {
      case Shape.SCALAR if offsets == null =>
        if (size != n * width) bad(s"$size value bytes for $n rows of ${width}-byte values")
        ResultVectors.numbers(c.dataType, values, n)
      case Shape.SCALAR =>
        if (offsets(n) != size) bad(s"offsets end at ${offsets(n)}, the values hold $size bytes")
        ResultVectors.bytes(c.dataType, values, offsets, n)
      case _ =>
        if (offsets(n).toLong * width != size) {
          bad(s"offsets count ${offsets(n)} elements, the values hold $size bytes")
        }
        ResultVectors.arrays(c.dataType.asInstanceOf[ArrayType], values, offsets, n)
    }
  }

  private def rising(offsets: Array[Int]): Boolean = {
    var k = 1
    while (k < offsets.length && offsets(k) >= offsets(k - 1)) k += 1
    k == offsets.length
  }

  private def elementBytes(d: DType): Int = d match {
    case DType.BOOL | DType.INT8 => 1
    case DType.INT16 => 2
    case DType.INT32 | DType.FLOAT32 => 4
    case DType.INT64 | DType.FLOAT64 => 8
    case _ => 1
  }
}
