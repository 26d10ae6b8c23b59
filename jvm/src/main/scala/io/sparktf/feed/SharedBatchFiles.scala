package io.sparktf.feed

import java.io.IOException
import java.nio.channels.{Channels, FileChannel}
import java.nio.file.{Files, Path, Paths, StandardOpenOption}
import java.util.concurrent.locks.LockSupport

import scala.collection.mutable

import com.google.protobuf.CodedOutputStream

import io.sparktf.proto.v1.{ColumnBatch, SharedBatch}

/** Hands one stream's batches to a node on this machine as files in the node's shared-memory
 *  directory: the node maps each file, deletes it and reads the columns in place, so a batch's
 *  bytes are copied once into shared memory instead of through gRPC, the kernel's socket and
 *  the node's receive buffers.
 *
 *  At most `maxPending` files the node has not deleted yet exist at a time ([[awaitRoom]]): the
 *  node deletes a file when it takes the batch into its bounded queue, so shared memory holds
 *  no more than the queue plus these few.
 *
 *  A file that cannot be written (shared memory full, as a container's small /dev/shm gets, or
 *  the directory gone) turns the stream to the socket for good: [[tryWrite]] says so once in
 *  the log and answers None from then on.
 *  {{{
 *  SharedBatchFiles.open(node.sharedDir, s"$feedId-e0-p3-a0", "node worker:0").foreach { files =>
 *    if (files.awaitRoom(deadline, () => true)) files.tryWrite(batch).foreach(send)
 *    files.discard()
 *  }
 *  }}}
 */
final class SharedBatchFiles(dir: Path, prefix: String, peer: String = "the node",
    maxPending: Int = 4) {
  private val pending = mutable.Queue[Path]()
  private var written = 0L
  private var failed = false

  /** False once a write failed: the stream's batches go over gRPC from then on. */
  def usable: Boolean = !failed

  /** The batch as a file, or None (and None for every later batch) when it cannot be. */
  def tryWrite(batch: ColumnBatch): Option[SharedBatch] =
    if (failed) None
    else try Some(write(batch)) catch {
      case e: IOException =>
        SharedBatchFiles.log.warn(s"$prefix: shared memory for $peer failed ($e); sending " +
          "the stream's batches over gRPC instead")
        failed = true
        None
    }

  /** Waits until fewer than `maxPending` written files are left unread; false when the
   *  deadline (System.nanoTime) passes first or `waiting()` turns false. */
  def awaitRoom(deadlineNanos: Long, waiting: () => Boolean): Boolean = {
    // 50 us, doubling to 10 ms: a node takes a batch in about a millisecond, and one that takes
    // none for longer has a full queue (seconds of training) ahead of it.
    var pause = 50000L
    forgetRead()
    while (pending.size >= maxPending) {
      if (!waiting() || System.nanoTime() > deadlineNanos) return false
      LockSupport.parkNanos(pause)
      pause = math.min(pause * 2, 10000000L)
      forgetRead()
    }
    true
  }

  /** The node reads files in the order they were written, deleting each. */
  private def forgetRead(): Unit = while (pending.nonEmpty && !Files.exists(pending.head)) {
    pending.dequeue()
  }

  /** Writes `batch` to a new file and returns the message that names it. Throws IOException
   *  when it cannot (shared memory full, the directory gone), leaving no file behind. */
  def write(batch: ColumnBatch): SharedBatch = {
    forgetRead()
    val name = s"$prefix-$written"
    val path = dir.resolve(name)
    written += 1
    val channel = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)
    try {
      // Column buffers of 256 KiB chunks go to the file as they are (no serialized copy).
      val out = CodedOutputStream.newInstance(Channels.newOutputStream(channel), 1 << 16)
      batch.writeTo(out)
      out.flush()
    } catch {
      case e: IOException =>
        channel.close()
        Files.deleteIfExists(path)
        throw e
    } finally channel.close()
    pending.enqueue(path)
    SharedBatch.newBuilder().setFile(name).setSize(batch.getSerializedSize)
      .setNumRows(batch.getNumRows).build()
  }

  /** Deletes the files the node did not read (the stream ended early or failed). */
  def discard(): Unit = {
    pending.foreach(p => try Files.deleteIfExists(p) catch { case _: IOException => })
    pending.clear()
  }
}

object SharedBatchFiles {
  private val log = org.slf4j.LoggerFactory.getLogger(classOf[SharedBatchFiles])

  /** The node's shared directory when this JVM sees it (the node runs on this machine), else
   *  None: the stream then sends its batches over gRPC. */
  def open(sharedDir: Option[String], prefix: String,
      peer: String = "the node"): Option[SharedBatchFiles] =
    sharedDir.map(Paths.get(_)).filter(d => Files.isDirectory(d) && Files.isWritable(d))
      .map(new SharedBatchFiles(_, prefix, peer))
}
