package io.sparktf.feed

import java.nio.{ByteBuffer, ByteOrder}

import com.google.protobuf.{ByteString, UnsafeByteOperations}

/** A growable little-endian byte buffer: the values (or offsets) of one column of a batch.
 *
 *  The bytes live in chunks of [[ByteSink.ChunkBytes]], handed out together as one rope
 *  `ByteString`. Chunks stay below G1's humongous-object size (half a heap region, 512 KiB at
 *  least): one 4 MiB array per batch was a humongous allocation, and each of those started a
 *  garbage collection that marked the executor's whole heap, cached blocks included, about once
 *  a second while feeding. Small chunks die young and cheaply.
 */
final class ByteSink(chunkBytes: Int = ByteSink.ChunkBytes) {
  private var full: ByteString = ByteString.EMPTY
  private var buf: ByteBuffer = chunk(chunkBytes)

  private def chunk(bytes: Int): ByteBuffer =
    ByteBuffer.allocate(math.max(bytes, 64)).order(ByteOrder.LITTLE_ENDIAN)

  /** Bytes written since the last [[take]]. */
  def size: Int = full.size + buf.position()

  /** The current chunk, where the position [[reserve]] returned is. */
  def array: Array[Byte] = buf.array()

  /** Makes room for `bytes` more, contiguous in the current chunk, and returns the write
   *  position there (a value larger than a chunk gets a chunk of its own). */
  def reserve(bytes: Int): Int = {
    if (buf.remaining() < bytes) {
      close()
      buf = chunk(math.max(chunkBytes, bytes))
    }
    buf.position()
  }

  private def close(): Unit = if (buf.position() > 0) {
    full = full.concat(UnsafeByteOperations.unsafeWrap(buf.array(), 0, buf.position()))
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

  /** Hands the written bytes out (the caller owns their chunks now) and starts afresh. */
  def take(): ByteString = {
    close()
    val out = full
    full = ByteString.EMPTY
    buf = chunk(chunkBytes)
    out
  }
}

object ByteSink {
  /** Well under 512 KiB, the smallest size G1 treats as humongous (1 MiB regions). */
  val ChunkBytes: Int = 256 << 10
}
