package io.sparktf.tfrecord

import java.io.{EOFException, InputStream}
import java.nio.{ByteBuffer, ByteOrder}

import io.sparktf.SparkTFException

/** Reads TFRecord framing from a stream, one record at a time, checking both CRCs of every
 *  record. A corrupt or truncated record fails with the file's name and the record's byte offset.
 *  The caller owns (and closes) the stream.
 *
 *  {{{
 *  val in = new java.io.FileInputStream("/tmp/a.tfrecord")
 *  try new TFRecordReader(in, "/tmp/a.tfrecord").foreach(r => println(r.length)) finally in.close()
 *  }}}
 *
 *  @param source the file's name, for error messages
 */
final class TFRecordReader(in: InputStream, source: String) extends Iterator[Array[Byte]] {
  private val header = new Array[Byte](12)
  private val footer = new Array[Byte](4)
  private var offset = 0L
  private var nextRecord: Array[Byte] = _
  private var done = false

  override def hasNext: Boolean = {
    if (nextRecord == null && !done) nextRecord = readRecord()
    nextRecord != null
  }

  override def next(): Array[Byte] = {
    if (!hasNext) throw new NoSuchElementException(s"no more records in $source")
    val r = nextRecord
    nextRecord = null
    r
  }

  private def readRecord(): Array[Byte] = {
    val start = offset
    val got = readUpTo(header, header.length)
    if (got == 0) { done = true; return null }
    if (got < header.length) corrupt(start, s"truncated header ($got of 12 bytes)")
    val buf = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN)
    val length = buf.getLong(0)
    val lengthCrc = buf.getInt(8)
    if (MaskedCrc32c.of(header, 0, 8) != lengthCrc) corrupt(start, "length CRC mismatch")
    if (length < 0 || length > Int.MaxValue - 16) corrupt(start, s"record length $length too large")
    val data = new Array[Byte](length.toInt)
    val gotData = readUpTo(data, data.length)
    if (gotData < data.length) corrupt(start, s"truncated data ($gotData of $length bytes)")
    if (readUpTo(footer, 4) < 4) corrupt(start, "truncated data CRC")
    val dataCrc = ByteBuffer.wrap(footer).order(ByteOrder.LITTLE_ENDIAN).getInt(0)
    if (MaskedCrc32c.of(data) != dataCrc) corrupt(start, "data CRC mismatch")
    data
  }

  private def readUpTo(into: Array[Byte], n: Int): Int = {
    var got = 0
    while (got < n) {
      val r = in.read(into, got, n - got)
      if (r < 0) { offset += got; return got }
      got += r
    }
    offset += got
    got
  }

  private def corrupt(at: Long, why: String): Nothing = {
    done = true
    throw new SparkTFException(
      s"corrupt TFRecord in $source at byte offset $at: $why; the file " +
        "is damaged or not a TFRecord file (a compressed file needs its .gz suffix)",
      new EOFException(why)
    )
  }
}
