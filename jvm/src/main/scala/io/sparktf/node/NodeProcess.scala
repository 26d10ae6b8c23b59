package io.sparktf.node

import java.io.File
import java.nio.file.{Files, Path}
import java.util.Comparator
import java.util.concurrent.TimeUnit

import io.sparktf.cluster.NodeRole

/** A running TensorFlow node process, as its executor JVM sees it. */
final class NodeProcess(
    val role: NodeRole,
    val process: Process,
    val workingDir: Path,
    stdout: OutputPump,
    stderr: OutputPump,
    sharedDir: Option[Path] = None) {

  def pid: Long = process.pid()
  def isAlive: Boolean = process.isAlive

  /** The last lines the node printed to stderr (its traceback, when it failed). */
  def stderrTail: String = stderr.lastOutput

  def exitDescription: String =
    if (process.isAlive) "still running"
    else {
      val code = process.exitValue()
      if (code > 128) s"killed by signal ${code - 128}" else s"exited with code $code"
    }

  @volatile private var stopping = false

  /** Whether the executor itself ended the process (its exit then says nothing of the node). */
  def stoppedByExecutor: Boolean = stopping

  /** Waits up to `millis` for the output pumps to copy the last lines of an ended process. */
  def awaitOutput(millis: Long): Unit = {
    stdout.join(millis)
    stderr.join(millis)
  }

  /** Waits for a voluntary exit, then SIGTERM, then SIGKILL; always returns with it dead. */
  def stop(graceSeconds: Double): Unit = {
    stopping = true
    if (!process.waitFor((graceSeconds * 1000).toLong, TimeUnit.MILLISECONDS)) {
      process.destroy()
      if (!process.waitFor(5, TimeUnit.SECONDS)) {
        process.destroyForcibly()
        process.waitFor(10, TimeUnit.SECONDS)
      }
    }
    stdout.join(2000)
    stderr.join(2000)
    removeDirs()
  }

  /** Deletes the working directory and the shared-memory one (batch files a feed left there
   *  when the node died, and released files kept for reuse), once the process is gone. */
  def removeDirs(): Unit = {
    NodeProcess.deleteTree(workingDir)
    sharedDir.foreach(NodeProcess.deleteTree)
  }
}

object NodeProcess {
  /** Deletes `dir` and what it holds, quietly: another thread may be deleting it too. */
  def deleteTree(dir: Path): Unit = if (Files.exists(dir)) {
    try {
      val paths = Files.walk(dir)
      try paths.sorted(Comparator.reverseOrder[Path]()).forEach(p => new File(p.toString).delete())
      finally paths.close()
    } catch {
      case _: java.io.IOException | _: java.io.UncheckedIOException =>
    }
  }
}
