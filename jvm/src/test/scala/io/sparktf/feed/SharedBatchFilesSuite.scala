package io.sparktf.feed

import java.nio.file.{Files, Path}

import scala.jdk.CollectionConverters._

import com.google.protobuf.ByteString
import org.scalatest.funsuite.AnyFunSuite

import io.sparktf.node.NodeProcess
import io.sparktf.proto.v1.{ColumnBatch, ColumnData}

class SharedBatchFilesSuite extends AnyFunSuite {
  private def batch(rows: Int, bytes: Int): ColumnBatch = ColumnBatch.newBuilder()
    .setNumRows(rows)
    .addColumns(ColumnData.newBuilder().setValues(ByteString.copyFrom(Array.tabulate(bytes)(_.toByte))))
    .build()

  private def withDir(f: Path => Unit): Unit = {
    val dir = Files.createTempDirectory("shared-batches-")
    try f(dir) finally NodeProcess.deleteTree(dir)
  }

  private def files(dir: Path): Seq[String] =
    Files.list(dir).iterator().asScala.map(_.getFileName.toString).toSeq.sorted

  test("each batch is a file holding the serialized ColumnBatch the message names") {
    withDir { dir =>
      val shared = SharedBatchFiles.open(Some(dir.toString), "feed-e0-p2-a0").get
      val first = batch(3, 600000) // bigger than a write buffer: written as it is
      val message = shared.write(first)
      assert(message.getFile == "feed-e0-p2-a0-0")
      assert(message.getNumRows == 3 && message.getSize == first.getSerializedSize)
      assert(ColumnBatch.parseFrom(Files.readAllBytes(dir.resolve(message.getFile))) == first)
      assert(shared.write(batch(1, 5)).getFile == "feed-e0-p2-a0-1")
      assert(files(dir) == Seq("feed-e0-p2-a0-0", "feed-e0-p2-a0-1"))
    }
  }

  test("waits for room while maxPending files are unread, and gives up at the deadline") {
    withDir { dir =>
      val shared = new SharedBatchFiles(dir, "f", maxPending = 2)
      val soon = () => System.nanoTime() + 200000000L // 0.2 s
      assert(shared.awaitRoom(soon(), () => true))
      shared.write(batch(1, 8))
      assert(shared.awaitRoom(soon(), () => true))
      shared.write(batch(1, 8))
      val began = System.nanoTime()
      assert(!shared.awaitRoom(soon(), () => true))
      assert(System.nanoTime() - began >= 150000000L)
      assert(!shared.awaitRoom(System.nanoTime() + 10000000000L, () => false)) // stream ended
      Files.delete(dir.resolve("f-0")) // the node took the oldest batch
      assert(shared.awaitRoom(soon(), () => true))
    }
  }

  test("discard deletes the files the node did not read") {
    withDir { dir =>
      val shared = new SharedBatchFiles(dir, "f")
      (1 to 3).foreach(_ => shared.write(batch(1, 8)))
      Files.delete(dir.resolve("f-1"))
      shared.discard()
      assert(files(dir).isEmpty)
    }
  }

  test("a write that fails leaves no file and no pending entry") {
    withDir { dir =>
      val shared = new SharedBatchFiles(dir, "f", maxPending = 1)
      shared.write(batch(1, 8))
      NodeProcess.deleteTree(dir)
      intercept[java.io.IOException](shared.write(batch(1, 8)))
      Files.createDirectory(dir)
      // Only the vanished first file was pending: once it is gone there is room again.
      assert(shared.awaitRoom(System.nanoTime() + 100000000L, () => true))
    }
  }

  test("a directory this JVM cannot see means the socket") {
    assert(SharedBatchFiles.open(None, "f").isEmpty)
    assert(SharedBatchFiles.open(Some("/dev/shm/sparktf-no-such-dir-4f1c"), "f").isEmpty)
  }
}
