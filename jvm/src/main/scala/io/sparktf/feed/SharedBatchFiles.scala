package io.sparktf.feed

import java.io.IOException
import java.nio.channels.{Channels, FileChannel}
import java.nio.file.{Files, Path, Paths, StandardOpenOption}
import java.util.concurrent.locks.LockSupport

import scala.collection.mutable

import com.google.protobuf.CodedOutputStream

import io.sparktf.proto.v1.{ColumnBatch, SharedBatch}

/** Hands one stream's batches to a node on this machine as files in the node's shared-memory
 *  directory: the node maps each file and reads the columns in place, so a batch's bytes are
 *  copied once into shared memory instead of through gRPC, the kernel's socket and the node's
 *  receive buffers.
 *
 *  The node takes a file by renaming it to "<name>.taken", and releases it, once nothing reads
 *  its mapping any more, by renaming it to "<name>.free" (`SharedBatch.reuse`). A later batch of
 *  the stream is written into a released file: its memory pages are already there, so the
 *  kernel need not allocate, zero and free pages for every batch.
 *
 *  At most `maxPending` files the node has not taken yet exist at a time ([[awaitRoom]]): the
 *  node takes a file when it puts the batch into its bounded queue, so shared memory holds no
 *  more than the queue, what the node's program still reads, and these few.
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

  /** Files written and not taken yet, oldest first. */
  private val pending = mutable.Queue[String]()

  /** Files taken ("<name>.taken") and perhaps released ("<name>.free"), oldest first. */
  private val taken = mutable.ArrayBuffer[String]()
  private var written = 0L
  private var failed = false

  /** False once a write failed: the stream's batches go over gRPC from then on. */
  def usable: Boolean = !failed

  /** The batch as a file, or None (and None for every later batch) when it cannot be. */
  def tryWrite(batch: ColumnBatch): Option[SharedBatch] =
    if (failed) None
    else
      try Some(write(batch))
      catch {
        case e: IOException =>
          SharedBatchFiles.log.warn(s"$prefix: shared memory for $peer failed ($e); sending " +
            "the stream's batches over gRPC instead")
          failed = true
          None
      }

  /** Waits until fewer than `maxPending` written files are left untaken; false when the
   *  deadline (System.nanoTime) passes first or `waiting()` turns false. */
  def awaitRoom(deadlineNanos: Long, waiting: () => Boolean): Boolean = {
    // 50 us, doubling to 10 ms: a node takes a batch in about a millisecond, and one that takes
    // none for longer has a full queue (seconds of training) ahead of it.
    var pause = 50000L
    forgetTaken()
    while (pending.size >= maxPending) {
      if (!waiting() || System.nanoTime() > deadlineNanos) return false
      LockSupport.parkNanos(pause)
      pause = math.min(pause * 2, 10000000L)
      forgetTaken()
    }
    true
  }

  /** The node takes files in the order they were written. */
  private def forgetTaken(): Unit =
    while (pending.nonEmpty && !Files.exists(dir.resolve(pending.head))) {
      taken += pending.dequeue()
    }

  /** A released file, renamed to `name`; looks at the oldest few taken files only (the node
   *  releases them about in order, and a look is a system call). One still read goes to the
   *  back, so a batch the node's program keeps does not stop the reuse of later ones. */
  private def reuse(name: String): Boolean = {
    val i = taken.iterator.take(SharedBatchFiles.ReuseLookups)
      .indexWhere(t => Files.exists(dir.resolve(s"$t.free")))
    if (i < 0) {
      if (taken.size > SharedBatchFiles.ReuseLookups) taken += taken.remove(0)
      return false
    }
    // Forgotten only once moved: a file that failed to move stays for discard() to delete.
    Files.move(dir.resolve(s"${taken(i)}.free"), dir.resolve(name))
    taken.remove(i)
    true
  }

  /** Writes `batch` to a released file or a new one and returns the message that names it.
   *  Throws IOException when it cannot (shared memory full, the directory gone), leaving no
   *  file behind. */
  def write(batch: ColumnBatch): SharedBatch = {
    forgetTaken()
    val name = s"$prefix-$written"
    val path = dir.resolve(name)
    written += 1
    val reused = reuse(name)
    val channel = if (reused) FileChannel.open(path, StandardOpenOption.WRITE)
    else FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)
    try {
      // Column buffers of 256 KiB chunks go to the file as they are (no serialized copy).
      val out = CodedOutputStream.newInstance(Channels.newOutputStream(channel), 1 << 16)
      batch.writeTo(out)
      out.flush()
      if (reused) channel.truncate(batch.getSerializedSize.toLong)
    } catch {
      case e: IOException =>
        Files.deleteIfExists(path)
        throw e
    } finally channel.close()
    pending.enqueue(name)
    SharedBatch.newBuilder().setFile(name).setSize(batch.getSerializedSize)
      .setNumRows(batch.getNumRows).setReuse(true).build()
  }

  /** Deletes the stream's files: untaken, taken (a node still reading one keeps its mapping)
   *  and released. In that order for each, so a file the node renames meanwhile is found. */
  def discard(): Unit = {
    (pending ++ taken).foreach { name =>
      Seq(name, s"$name.taken", s"$name.free").foreach { n =>
        try Files.deleteIfExists(dir.resolve(n))
        catch { case _: IOException => }
      }
    }
    pending.clear()
    taken.clear()
  }
}

object SharedBatchFiles {

  /** Taken files looked at for one released: more than the node holds at once, reading a few. */
  val ReuseLookups = 4
  private val log = org.slf4j.LoggerFactory.getLogger(classOf[SharedBatchFiles])

  /** The node's shared directory when this JVM sees it (the node runs on this machine), else
   *  None: the stream then sends its batches over gRPC. */
  def open(sharedDir: Option[String], prefix: String,
      peer: String = "the node"): Option[SharedBatchFiles] =
    sharedDir.map(Paths.get(_)).filter(d => Files.isDirectory(d) && Files.isWritable(d))
      .map(new SharedBatchFiles(_, prefix, peer))
}
