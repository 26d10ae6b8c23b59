package io.sparktf.cluster

import io.sparktf.SparkTFException

/** Which role each reserved executor plays. Barrier task `i` becomes `roles(i)`.
 *
 *  As in TensorFlowOnSpark: parameter servers first, then the master node (chief), then the
 *  evaluator, then workers.
 *  {{{
 *  ClusterLayout.assign(numExecutors = 4, numPs = 1, masterNode = Some("chief"), evalNode = false)
 *    .roles.map(_.address) == Seq("ps:0", "chief:0", "worker:0", "worker:1")
 *  }}}
 */
final case class ClusterLayout(roles: IndexedSeq[NodeRole]) {
  def size: Int = roles.size
  def fed: IndexedSeq[NodeRole] = roles.filter(_.takesData)
  /** Workers as TensorFlow counts them: chief plus workers. */
  def numWorkers: Int = fed.size

  /** The node that runs TensorBoard when asked: the chief, or worker:0 in a cluster without one
   *  (the nodes that write summaries). */
  def tensorboardRole: Option[NodeRole] =
    roles.find(r => r.jobName == NodeRole.Chief || r.jobName == NodeRole.Master)
      .orElse(roles.find(_ == NodeRole(NodeRole.Worker, 0)))
}

object ClusterLayout {
  def assign(numExecutors: Int, numPs: Int, masterNode: Option[String],
      evalNode: Boolean): ClusterLayout = {
    if (numExecutors < 1) {
      throw new SparkTFException(s"num_executors is $numExecutors: a cluster needs at least 1")
    }
    if (numPs < 0) throw new SparkTFException(s"num_ps is $numPs: it cannot be negative")
    val master = masterNode.map(_.trim).filter(_.nonEmpty)
    master.foreach { m =>
      if (m != NodeRole.Chief && m != NodeRole.Master) {
        throw new SparkTFException(
          s"master_node '$m' is not a role sparktf knows: use 'chief' (or 'master'), or none")
      }
    }
    val extra = numPs + master.size + (if (evalNode) 1 else 0)
    val workers = numExecutors - extra
    if (workers < 0 || (workers == 0 && master.isEmpty)) {
      throw new SparkTFException(
        s"num_executors=$numExecutors leaves no worker after num_ps=$numPs" +
          master.fold("")(m => s", master_node='$m'") + (if (evalNode) ", eval_node" else "") +
          s": ask for at least ${extra + (if (master.isEmpty) 1 else 0)} executors or fewer ps")
    }
    val roles = (0 until numPs).map(NodeRole(NodeRole.Ps, _)) ++
      master.map(m => NodeRole(m, 0)) ++
      (if (evalNode) Seq(NodeRole(NodeRole.Evaluator, 0)) else Nil) ++
      (0 until workers).map(NodeRole(NodeRole.Worker, _))
    ClusterLayout(roles.toIndexedSeq)
  }
}
