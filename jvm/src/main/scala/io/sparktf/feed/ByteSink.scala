package io.sparktf.feed

import java.nio.{ByteBuffer, ByteOrder}

import scala.collection.mutable.ArrayBuffer

import com.google.protobuf.{ByteString, UnsafeByteOperations}

/** A growable little-endian byte buffer: the values (or offsets) of one column of a batch.
 *
 *  The bytes live in chunks of [[ByteSink.ChunkBytes]], handed out together as one rope
 *  `ByteString`. Chunks stay below G1's humongous-object size (half a heap region, 512 KiB at
 *  least): one 4 MiB array per batch was a humongous allocation, and each of those started a
 *  garbage collection that marked the executor's whole heap, cached blocks included, about once
 *  a second while feeding. Small chunks die young and cheaply.
 *
 *  A caller that is done with the bytes of the last [[take]] (they went to a shared-memory file,
 *  not to gRPC, which keeps them until sent) gives their chunks back with [[recycle]]: a feed
 *  then allocates (and zeroes) its chunks once instead of once per batch.
 *  {{{
 *  val sink = new ByteSink()
 *  sink.putInt(7)
 *  val bytes = sink.take()   // the caller owns these chunks now
 *  writeSomewhere(bytes)
 *  sink.recycle()            // ... until it hands them back
 *  }}}
 */
final class ByteSink(chunkBytes: Int = ByteSink.ChunkBytes) {
  private var full: ByteString = ByteString.EMPTY

  /** Chunks of the current batch that are closed into `full`, and of the last take(). */
  private val closed = ArrayBuffer[ByteBuffer]()
  private var taken = ArrayBuffer[ByteBuffer]()
  private val spare = ArrayBuffer[ByteBuffer]()
  private var buf: ByteBuffer = chunk(chunkBytes)

  private def chunk(bytes: Int): ByteBuffer = {
    val want = math.max(bytes, 64)
    val i = spare.lastIndexWhere(_.capacity >= want)
    if (i >= 0) { val b = spare.remove(i); b.clear(); b }
    else ByteBuffer.allocate(want).order(ByteOrder.LITTLE_ENDIAN)
  }

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
    closed += buf
  } else spare += buf

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
    taken = ArrayBuffer.from(closed)
    closed.clear()
    buf = chunk(chunkBytes)
    out
  }

  /** Takes back the chunks of the last [[take]]: the caller no longer reads those bytes (nor
   *  does anything it passed them to), so later batches may overwrite them. */
  def recycle(): Unit = {
    // Keeps at most a batch's worth of chunks: a rare huge value is not held on to.
    val keep = ByteSink.SpareBytes
    var kept = spare.iterator.map(_.capacity.toLong).sum
    taken.foreach { b =>
      if (kept + b.capacity <= keep) { spare += b; kept += b.capacity }
    }
    taken = ArrayBuffer()
  }
}

object ByteSink {

  /** Well under 512 KiB, the smallest size G1 treats as humongous (1 MiB regions). */
  val ChunkBytes: Int = 256 << 10

  /** Spare chunks a sink keeps for reuse: a little more than a default batch. */
  val SpareBytes: Long = 6L << 20
}
