package io.sparktf.feed

import java.nio.{ByteBuffer, ByteOrder}

import com.google.protobuf.{ByteString, UnsafeByteOperations}

/** A growable little-endian byte buffer: the values (or offsets) of one column of a batch. */
final class ByteSink(initialBytes: Int) {
  private var buf: ByteBuffer = ByteBuffer.allocate(math.max(initialBytes, 64))
    .order(ByteOrder.LITTLE_ENDIAN)

  def size: Int = buf.position()
  def array: Array[Byte] = buf.array()

  /** Makes room for `bytes` more and returns the write position. */
  def reserve(bytes: Int): Int = {
    if (buf.remaining() < bytes) {
      val grown = ByteBuffer.allocate(math.max(buf.capacity() * 2, buf.position() + bytes))
        .order(ByteOrder.LITTLE_ENDIAN)
      buf.flip()
      grown.put(buf)
      buf = grown
    }
    buf.position()
  }

  /** Marks `bytes` written at the position [[reserve]] returned. */
  def advance(bytes: Int): Unit = buf.position(buf.position() + bytes)

  def putByte(v: Byte): Unit = { reserve(1); buf.put(v) }
  def putShort(v: Short): Unit = { reserve(2); buf.putShort(v) }
  def putInt(v: Int): Unit = { reserve(4); buf.putInt(v) }
  def putLong(v: Long): Unit = { reserve(8); buf.putLong(v) }
  def putFloat(v: Float): Unit = { reserve(4); buf.putFloat(v) }
  def putDouble(v: Double): Unit = { reserve(8); buf.putDouble(v) }
  def putBytes(v: Array[Byte]): Unit = { reserve(v.length); buf.put(v) }

  /** Hands the written bytes out (`size` bytes of the returned array, which the caller now owns)
   *  and starts a new buffer with room for about as many plus an eighth. Handing the array over
   *  instead of copying it saves a read and a write of every byte fed; the headroom keeps the
   *  next batch's last row from doubling the buffer. */
  def take(): ByteString = {
    val used = buf.position()
    val out = UnsafeByteOperations.unsafeWrap(buf.array(), 0, used)
    buf = ByteBuffer.allocate(math.max(used + used / 8, 64)).order(ByteOrder.LITTLE_ENDIAN)
    out
  }
}
