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
    .addColumns(
      ColumnData.newBuilder().setValues(ByteString.copyFrom(Array.tabulate(bytes)(_.toByte))))
    .build()

  private def withDir(f: Path => Unit): Unit = {
    val dir = Files.createTempDirectory("shared-batches-")
    try f(dir)
    finally NodeProcess.deleteTree(dir)
  }

  /** What the node does on taking a file, and on releasing it once nothing reads it. */
  private def take(dir: Path, name: String): Unit =
    Files.move(dir.resolve(name), dir.resolve(s"$name.taken"))
  private def release(dir: Path, name: String): Unit =
    Files.move(dir.resolve(s"$name.taken"), dir.resolve(s"$name.free"))

  private def files(dir: Path): Seq[String] =
    Files.list(dir).iterator().asScala.map(_.getFileName.toString).toSeq.sorted

  test("each batch is a file holding the serialized ColumnBatch the message names") {
    withDir { dir =>
      val shared = SharedBatchFiles.open(Some(dir.toString), "feed-e0-p2-a0").get
      val first = batch(3, 600000) // bigger than a write buffer: written as it is
      val message = shared.write(first)
      assert(message.getFile == "feed-e0-p2-a0-0")
      assert(message.getNumRows == 3 && message.getSize == first.getSerializedSize)
      assert(message.getReuse)
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
      take(dir, "f-0") // the node took the oldest batch
      assert(shared.awaitRoom(soon(), () => true))
    }
  }

  test("discard deletes the stream's files: untaken, taken and released") {
    withDir { dir =>
      val shared = new SharedBatchFiles(dir, "f")
      (1 to 3).foreach(_ => shared.write(batch(1, 8)))
      take(dir, "f-0")
      release(dir, "f-0")
      take(dir, "f-1")
      assert(shared.awaitRoom(System.nanoTime() + 100000000L, () => true))
      assert(files(dir) == Seq("f-0.free", "f-1.taken", "f-2"))
      shared.discard()
      assert(files(dir).isEmpty)
    }
  }

  test("a released file takes a later batch under that batch's name; one still read does not") {
    withDir { dir =>
      val shared = new SharedBatchFiles(dir, "f")
      val big = batch(3, 600000)
      shared.write(big)
      take(dir, "f-0")
      val second = shared.write(batch(2, 100)) // f-0 is taken but not released: a new file
      assert(files(dir) == Seq("f-0.taken", "f-1"))
      release(dir, "f-0")
      take(dir, "f-1")
      val small = batch(1, 40)
      val third = shared.write(small)
      assert(third.getFile == "f-2" && third.getReuse)
      assert(files(dir) == Seq("f-1.taken", "f-2"))
      // Cut to the new batch's size: nothing of the bigger batch before it is left.
      assert(Files.size(dir.resolve("f-2")) == small.getSerializedSize)
      assert(ColumnBatch.parseFrom(Files.readAllBytes(dir.resolve("f-2"))) == small)
      assert(second.getFile == "f-1")
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
