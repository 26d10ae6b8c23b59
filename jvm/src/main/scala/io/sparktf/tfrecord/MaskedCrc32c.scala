package io.sparktf.tfrecord

import java.util.zip.CRC32C

/** The checksum TFRecord framing stores: CRC32C, rotated right by 15 bits plus a constant.
 *  TensorFlow masks CRCs so that a CRC computed over data that itself holds CRCs stays strong
 *  (tensorflow/core/lib/hash/crc32c.h).
 *
 *  {{{
 *  MaskedCrc32c.of("123456789".getBytes("US-ASCII"))  // the mask of 0xE3069283
 *  }}}
 */
object MaskedCrc32c {
  private val MaskDelta = 0xa282ead8

  def mask(crc: Int): Int = ((crc >>> 15) | (crc << 17)) + MaskDelta

  def of(bytes: Array[Byte], offset: Int, length: Int): Int = {
    val crc = new CRC32C()
    crc.update(bytes, offset, length)
    mask(crc.getValue.toInt)
  }

  def of(bytes: Array[Byte]): Int = of(bytes, 0, bytes.length)
}
