package io.sparktf.cluster

/** A cluster's incarnations: the current one and, after a failure, a fresh one. What the feed
 *  and the health checks need of [[ClusterSupervisor]], so they run against a fake in tests.
 *  {{{
 *  if (incarnations.canRestart) incarnations.restart("node worker:0 died: killed by signal 9")
 *  val fed = incarnations.current.nodes.filter(_.role.takesData)
 *  }}}
 */
trait ClusterIncarnations {

  /** The running (or last) incarnation. */
  def current: ClusterIncarnation

  /** Whether a failure now may restart the cluster: restarts remain, and no shutdown began. */
  def canRestart: Boolean

  /** Starts a fresh incarnation after `cause`; the failed one must be stopped already. */
  def restart(cause: String): ClusterIncarnation
}
