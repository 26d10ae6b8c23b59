package io.sparktf.tfrecord

import java.io.OutputStream
import java.nio.{ByteBuffer, ByteOrder}

/** Writes TFRecord framing to a stream: per record a little-endian uint64 length, the masked
 *  CRC32C of those 8 bytes, the data, and the masked CRC32C of the data. The files read with
 *  `tf.data.TFRecordDataset`. The caller owns (and closes) the stream.
 *
 *  {{{
 *  val out = new java.io.FileOutputStream("/tmp/a.tfrecord")
 *  try { val w = new TFRecordWriter(out); w.write("hello".getBytes("UTF-8")) } finally out.close()
 *  }}}
 */
final class TFRecordWriter(out: OutputStream) {
  private val header = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN)
  private val footer = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN)
  private var count = 0L

  def write(record: Array[Byte]): Unit = {
    header.clear()
    header.putLong(record.length.toLong)
    header.putInt(MaskedCrc32c.of(header.array, 0, 8))
    out.write(header.array)
    out.write(record)
    footer.clear()
    footer.putInt(MaskedCrc32c.of(record))
    out.write(footer.array)
    count += 1
  }

  /** Records written so far. */
  def records: Long = count
}
