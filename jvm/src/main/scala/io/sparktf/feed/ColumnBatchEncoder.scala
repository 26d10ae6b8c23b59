package io.sparktf.feed

import java.nio.ByteOrder

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.UnsafeArrayData
import org.apache.spark.sql.catalyst.util.ArrayData
import org.apache.spark.unsafe.Platform

import io.sparktf.SparkTFException
import io.sparktf.proto.v1.{ColumnBatch, ColumnData, DType, FeedSchema, Shape}

/** Packs `InternalRow`s into [[ColumnBatch]]es: per column one little-endian buffer of values
 *  (plus int32 offsets for strings and binary), so the node decodes them with `np.frombuffer`.
 *
 *  A batch closes at `targetBytes` or `maxRows`, whichever comes first. Array widths are learned
 *  from the first row and enforced on every later row.
 *  {{{
 *  val enc = new ColumnBatchEncoder(FeedColumn.fromSchema(df.schema, Nil), partition = 0)
 *  rows.foreach { r => enc.add(r); if (enc.isFull) send(enc.flush()) }
 *  if (enc.rows > 0) send(enc.flush())
 *  }}}
 */
final class ColumnBatchEncoder(
    columns: IndexedSeq[FeedColumn],
    partition: Int,
    targetBytes: Int = ColumnBatchEncoder.DefaultTargetBytes,
    maxRows: Int = ColumnBatchEncoder.DefaultMaxRows) {

  private val values = columns.map(_ => new ByteSink()).toArray
  private val offsets =
    columns.map(c => if (hasOffsets(c)) new ByteSink(64 << 10) else null).toArray
  private val widths = Array.fill(columns.size)(-1)

  /** Elements of each ragged column in the current batch: its next offset. */
  private val elements = new Array[Int](columns.size)
  private var batchRows = 0
  private var rowsSeen = 0L
  private var batchBytes = 0L

  /** Unsafe arrays hold their elements in native order; the fast copy needs that to be LE. */
  private val nativeLittleEndian = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN

  private def hasOffsets(c: FeedColumn): Boolean =
    c.dtype == DType.STRING || c.dtype == DType.BINARY || c.shape == Shape.VAR_ARRAY

  def rows: Int = batchRows

  /** Bytes of the batch so far, as `targetBytes` weighs them. */
  def bytes: Long = batchBytes
  def isFull: Boolean = batchRows >= maxRows || batchBytes >= targetBytes

  /** The schema of the stream: known once the first row was added (array widths). */
  def schema: FeedSchema = FeedColumn.schema(columns, widths.toSeq.map(math.max(_, 0)))

  def add(row: InternalRow): Unit = {
    var i = 0
    while (i < columns.length) {
      val c = columns(i)
      if (row.isNullAt(c.ordinal)) {
        throw new SparkTFException(s"column '${c.source}' has a null in partition $partition " +
          s"(row ${rowsSeen + 1}); sparktf feeds no nulls: fill or drop them first")
      }
      if (c.isVector) writeVector(i, c, row.getStruct(c.ordinal, 4))
      else if (c.isArray) writeArray(i, c, row.getArray(c.ordinal))
      else writeScalar(i, c, row)
      i += 1
    }
    batchRows += 1
    rowsSeen += 1
  }

  private def writeScalar(i: Int, c: FeedColumn, row: InternalRow): Unit = {
    val out = values(i)
    c.dtype match {
      case DType.BOOL => out.putByte(if (row.getBoolean(c.ordinal)) 1 else 0)
      case DType.INT8 => out.putByte(row.getByte(c.ordinal))
      case DType.INT16 => out.putShort(row.getShort(c.ordinal))
      case DType.INT32 => out.putInt(row.getInt(c.ordinal))
      case DType.INT64 => out.putLong(row.getLong(c.ordinal))
      case DType.FLOAT32 => out.putFloat(row.getFloat(c.ordinal))
      case DType.FLOAT64 => out.putDouble(row.getDouble(c.ordinal))
      case DType.STRING | DType.BINARY =>
        val bytes = if (c.dtype == DType.STRING) row.getUTF8String(c.ordinal).getBytes
        else row.getBinary(c.ordinal)
        val off = offsets(i)
        if (off.size == 0) off.putInt(0)
        out.putBytes(bytes)
        off.putInt(out.size)
        batchBytes += 4
      case other => throw new IllegalStateException(s"no scalar writer for $other")
    }
    batchBytes += (if (c.elementBytes > 0) c.elementBytes else 0)
  }

  private def writeArray(i: Int, c: FeedColumn, arr: ArrayData): Unit = {
    val n = arr.numElements()
    if (c.shape == Shape.VAR_ARRAY) {
      // Offsets count elements: row r holds values[offsets(r) until offsets(r + 1)].
      val off = offsets(i)
      if (off.size == 0) off.putInt(0)
      elements(i) += n
      off.putInt(elements(i))
      batchBytes += 4
    } else if (widths(i) < 0) {
      c.checkWidth(n, partition)
      widths(i) = n
    } else if (widths(i) != n) {
      throw new SparkTFException(s"column '${c.source}' holds arrays of ${widths(i)} elements, " +
        s"but row ${rowsSeen + 1} of partition $partition has $n; sparktf feeds array columns " +
        "of one fixed length: pad or trim them to the same length")
    }
    val bytes = n * c.elementBytes
    val out = values(i)
    arr match {
      case u: UnsafeArrayData if nativeLittleEndian && c.dtype != DType.BOOL =>
        val header = UnsafeArrayData.calculateHeaderPortionInBytes(n)
        if (hasNullBits(u, header)) nullInArray(c)
        val pos = out.reserve(bytes)
        Platform.copyMemory(u.getBaseObject, u.getBaseOffset + header, out.array,
          Platform.BYTE_ARRAY_OFFSET + pos, bytes)
        out.advance(bytes)
      case _ =>
        var j = 0
        while (j < n) {
          if (arr.isNullAt(j)) nullInArray(c)
          c.dtype match {
            case DType.BOOL => out.putByte(if (arr.getBoolean(j)) 1 else 0)
            case DType.INT8 => out.putByte(arr.getByte(j))
            case DType.INT16 => out.putShort(arr.getShort(j))
            case DType.INT32 => out.putInt(arr.getInt(j))
            case DType.INT64 => out.putLong(arr.getLong(j))
            case DType.FLOAT32 => out.putFloat(arr.getFloat(j))
            case DType.FLOAT64 => out.putDouble(arr.getDouble(j))
            case other => throw new IllegalStateException(s"no array writer for $other")
          }
          j += 1
        }
    }
    batchBytes += bytes
  }

  /** An ML vector, fed dense: its struct is (type: 0 sparse | 1 dense, size, indices, values). */
  private def writeVector(i: Int, c: FeedColumn, v: InternalRow): Unit = {
    val dense = v.getByte(0) == 1
    val size = if (dense) v.getArray(3).numElements() else v.getInt(1)
    if (widths(i) < 0) {
      c.checkWidth(size, partition)
      widths(i) = size
    } else if (widths(i) != size) {
      throw new SparkTFException(s"column '${c.source}' holds vectors of size ${widths(i)}, but " +
        s"row ${rowsSeen + 1} of partition $partition has size $size; sparktf feeds vectors of " +
        "one size per column")
    }
    if (dense) writeArray(i, c, v.getArray(3))
    else {
      val indices = v.getArray(2)
      val vals = v.getArray(3)
      val out = values(i)
      val pos = out.reserve(size * 8)
      java.util.Arrays.fill(out.array, pos, pos + size * 8, 0.toByte)
      val view = java.nio.ByteBuffer.wrap(out.array).order(ByteOrder.LITTLE_ENDIAN)
      var k = 0
      while (k < indices.numElements()) {
        view.putDouble(pos + 8 * indices.getInt(k), vals.getDouble(k))
        k += 1
      }
      out.advance(size * 8)
      batchBytes += size * 8
    }
  }

  /** The null bits sit in the words after the element count; any bit set is a null element. */
  private def hasNullBits(u: UnsafeArrayData, header: Int): Boolean = {
    var off = 8L
    while (off < header) {
      if (Platform.getLong(u.getBaseObject, u.getBaseOffset + off) != 0L) return true
      off += 8
    }
    false
  }

  private def nullInArray(c: FeedColumn): Nothing = throw new SparkTFException(
    s"column '${c.source}' has an array with a null element in partition $partition " +
      s"(row ${rowsSeen + 1}); sparktf feeds no nulls: fill or drop them first")

  /** Closes the current batch and returns it. */
  def flush(): ColumnBatch = {
    val b = ColumnBatch.newBuilder().setNumRows(batchRows)
    var i = 0
    while (i < columns.length) {
      val data = ColumnData.newBuilder().setValues(values(i).take())
      if (offsets(i) != null) {
        if (offsets(i).size == 0) offsets(i).putInt(0)
        data.setOffsets(offsets(i).take())
      }
      b.addColumns(data)
      i += 1
    }
    batchRows = 0
    batchBytes = 0
    java.util.Arrays.fill(elements, 0)
    b.build()
  }

  /** Reuses the buffers of the batch [[flush]] returned last: call it only once nothing reads
   *  that batch any more (it was written to a file), never after handing it to gRPC. */
  def recycle(): Unit = {
    values.foreach(_.recycle())
    offsets.foreach(o => if (o != null) o.recycle())
  }
}

object ColumnBatchEncoder {

  /** About 4 MiB a message: big enough to amortize per-message cost, well under gRPC limits. */
  val DefaultTargetBytes: Int = 4 << 20
  val DefaultMaxRows: Int = 16384
}
