package io.sparktf.node

import java.nio.file.Path

import io.sparktf.cluster.NodeRole

/** A running TensorFlow node process, as its executor JVM sees it: the [[ManagedProcess]] of
 *  one role. [[NodeLauncher.launch]] makes them; [[NodeRegistry]] keeps them.
 *  {{{
 *  val (node, ready) = NodeLauncher.launch(boot, "python3", readyTimeoutSeconds = 600)
 *  try feed(ready.port) finally node.stop(graceSeconds = 10)
 *  }}}
 */
final class NodeProcess(val role: NodeRole, val managed: ManagedProcess) {
  def process: Process = managed.process
  def pid: Long = managed.pid
  def isAlive: Boolean = managed.isAlive

  /** The last lines the node printed to stderr (its traceback, when it failed). */
  def stderrTail: String = managed.stderrTail
  def exitDescription: String = managed.exitDescription

  /** Whether the executor itself ended the process (its exit then says nothing of the node). */
  def stoppedByExecutor: Boolean = managed.stoppedByOwner

  /** Waits up to `millis` for the output pumps to copy the last lines of an ended process. */
  def awaitOutput(millis: Long): Unit = managed.awaitOutput(millis)

  /** Waits for a voluntary exit, then SIGTERM, then SIGKILL; always returns with it dead and
   *  its working and shared-memory directories removed. */
  def stop(graceSeconds: Double): Unit = managed.stop(graceSeconds)

  /** Deletes the working directory and the shared-memory one, once the process is gone. */
  def removeDirs(): Unit = managed.removeDirs()
}

object NodeProcess {

  /** Deletes `dir` and what it holds, quietly (see [[ManagedProcess.deleteTree]]). */
  def deleteTree(dir: Path): Unit = ManagedProcess.deleteTree(dir)
}
