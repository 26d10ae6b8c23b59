package io.sparktf.cluster

import java.util.concurrent.atomic.AtomicReference

import io.sparktf.SparkTFException
import io.sparktf.cluster.ClusterState._

/** The one owner of a cluster's [[ClusterState]]: every move goes through it, atomically, so a
 *  `shutdown()` racing a failing `train()` ends the cluster once.
 *  {{{
 *  val life = new ClusterLifecycle(() => supervisor.current.clusterId)   // Reserving
 *  life.started()                                                      // Running
 *  life.requireRunning("it takes no more data")
 *  if (life.beginShutdown()) try awaitPrograms() finally life.ended(failures)
 *  }}}
 */
final class ClusterLifecycle(clusterId: () => String) {
  private val state = new AtomicReference[ClusterState](Reserving)

  def current: ClusterState = state.get()

  /** Every node is ready (or, in InputMode.TENSORFLOW, the programs run). */
  def started(): Unit = move(Reserving, Running)

  /** Throws unless Running, saying what the cluster in its state cannot do. */
  def requireRunning(cannot: String): Unit = state.get() match {
    case Running =>
    case other => throw new SparkTFException(s"cluster ${clusterId()} is ${other.name}: $cannot")
  }

  /** Running -> ShuttingDown; false when the cluster is not running (already shut down, or
   *  failed and stopped), and then there is nothing to do. */
  def beginShutdown(): Boolean = state.compareAndSet(Running, ShuttingDown)

  /** ShuttingDown -> Done, or Failed when some node failed. */
  def ended(failures: Seq[String]): Unit =
    move(ShuttingDown, if (failures.isEmpty) Done else Failed(failures.mkString("\n")))

  /** Any state -> Failed: the cluster cannot go on. */
  def failed(reason: String): Unit = state.set(Failed(reason))

  private def move(from: ClusterState, to: ClusterState): Unit =
    if (!state.compareAndSet(from, to)) {
      throw new IllegalStateException(s"cluster ${clusterId()} is ${state.get().name}, not " +
        s"${from.name}: it cannot become ${to.name}")
    }
}
