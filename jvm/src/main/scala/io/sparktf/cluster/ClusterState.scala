package io.sparktf.cluster

/** Where a cluster is in its life: Reserving -> Running -> ShuttingDown -> Done | Failed, or
 *  Reserving | Running -> Failed. Only [[ClusterLifecycle]] moves it.
 *  {{{
 *  cluster.state match {
 *    case ClusterState.Running => cluster.train(df)
 *    case ClusterState.Failed(why) => println(why)
 *    case other => println(s"the cluster is ${other.name}")
 *  }
 *  }}}
 */
sealed trait ClusterState {

  /** How errors name the state: "cluster c1 is shutting down: it takes no more data". */
  def name: String
}

object ClusterState {

  /** The barrier stage is reserving executors and starting the nodes. */
  case object Reserving extends ClusterState { val name = "reserving" }

  /** Every node started; the cluster takes data (InputMode.SPARK) or runs its programs. */
  case object Running extends ClusterState { val name = "running" }

  /** `shutdown()` waits for the programs and stops the nodes. */
  case object ShuttingDown extends ClusterState { val name = "shutting down" }

  /** Every program returned and every node stopped. */
  case object Done extends ClusterState { val name = "done" }

  /** A node failed, or the cluster did not start; every node was stopped. */
  final case class Failed(reason: String) extends ClusterState { val name = "failed" }
}
