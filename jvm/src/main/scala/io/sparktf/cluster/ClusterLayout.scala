package io.sparktf.cluster

import io.sparktf.SparkTFException

/** Which role each reserved executor plays. Barrier task `i` becomes `roles(i)`.
 *
 *  As in TensorFlowOnSpark: parameter servers first, then the master node (chief), then the
 *  evaluator, then workers. `master_node` is "chief" or none: TensorFlow 1's "master" is
 *  refused, since TensorFlow 2's TF_CONFIG has no such job.
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

  /** The node that acts as chief: the chief, or worker:0 in a cluster without one. It runs
   *  TensorBoard when asked (it writes the summaries). */
  def actingChief: Option[NodeRole] = {
    val hasChief = roles.exists(_.jobName == NodeRole.Chief)
    roles.find(_.actsAsChief(hasChief))
  }

  def tensorboardRole: Option[NodeRole] = actingChief
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
      if (m == "master") {
        // TensorFlow 2 refuses a "master" job in TF_CONFIG (multi_worker_util allows chief,
        // worker, ps and evaluator), and renaming it to chief would give one node two names.
        throw new SparkTFException("master_node 'master' is TensorFlow 1's name for the chief, " +
          "which TensorFlow 2 no longer accepts in TF_CONFIG: use master_node='chief' (and " +
          "ctx.job_name == 'chief', or ctx.is_chief, in the program)")
      }
      if (m != NodeRole.Chief) {
        throw new SparkTFException(
          s"master_node '$m' is not a role sparktf knows: use 'chief', or none")
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
