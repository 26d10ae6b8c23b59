package io.sparktf.feed

import java.nio.{ByteBuffer, ByteOrder}

import org.scalatest.funsuite.AnyFunSuite

class ByteSinkSuite extends AnyFunSuite {
  test("values spanning many chunks come out whole, in order, little-endian") {
    val sink = new ByteSink(chunkBytes = 64)
    (0 until 100).foreach(i => sink.putInt(i))
    sink.putDouble(2.5)
    assert(sink.size == 408)
    val out = sink.take().toByteArray
    assert(out.length == 408 && sink.size == 0)
    val view = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN)
    assert((0 until 100).map(_ => view.getInt()) == (0 until 100))
    assert(view.getDouble() == 2.5)
  }

  test("reserve gives contiguous room, a chunk of its own for a value larger than a chunk") {
    val sink = new ByteSink(chunkBytes = 64)
    sink.putBytes(Array.fill[Byte](60)(1))
    val pos = sink.reserve(100)
    assert(pos == 0 && sink.array.length >= 100)
    java.util.Arrays.fill(sink.array, pos, pos + 100, 7.toByte)
    sink.advance(100)
    sink.putByte(9)
    val out = sink.take().toByteArray
    assert(out.toSeq == Seq.fill[Byte](60)(1) ++ Seq.fill[Byte](100)(7) :+ 9.toByte)
  }

  test("take hands the bytes over: later writes never change a taken batch") {
    val sink = new ByteSink(chunkBytes = 64)
    sink.putLong(1L)
    val first = sink.take()
    sink.putLong(2L)
    assert(first.toByteArray.toSeq == Seq[Byte](1, 0, 0, 0, 0, 0, 0, 0))
    assert(sink.take().toByteArray.toSeq == Seq[Byte](2, 0, 0, 0, 0, 0, 0, 0))
    assert(sink.take().isEmpty)
  }

  test("recycle reuses the chunks of the last take, and only those") {
    // Chunks of 256 bytes: protobuf copies (not ropes) pieces under 128 bytes when joining.
    val sink = new ByteSink(chunkBytes = 256)
    (0 until 200).foreach(i => sink.putInt(i))
    val first = sink.take()
    val firstChunks = first.asReadOnlyByteBufferList().size
    assert(firstChunks >= 2)
    sink.recycle()
    (0 until 200).foreach(i => sink.putInt(1000 + i))
    val second = sink.take()
    // The second batch was written into the first one's chunks, and reads back whole.
    val view = ByteBuffer.wrap(second.toByteArray).order(ByteOrder.LITTLE_ENDIAN)
    assert((0 until 200).map(_ => view.getInt()) == (1000 until 1200))
    val viewOfFirst = ByteBuffer.wrap(first.toByteArray).order(ByteOrder.LITTLE_ENDIAN)
    assert((0 until 200).map(_ => viewOfFirst.getInt()) != (0 until 200),
      "the first batch's chunks were not reused")
    // Not recycled: a third batch leaves the second alone.
    (0 until 200).foreach(i => sink.putInt(-1))
    sink.take()
    val again = ByteBuffer.wrap(second.toByteArray).order(ByteOrder.LITTLE_ENDIAN)
    assert((0 until 200).map(_ => again.getInt()) == (1000 until 1200))
  }
}
