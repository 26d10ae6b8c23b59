package io.sparktf.cluster

/** The TensorFlow role of one node: its job name and its index within that job.
 *
 *  The predicates below are the JVM's half of one rule; `sparktf/node/roles.py` is the node's.
 *  {{{
 *  NodeRole("worker", 1).address == "worker:1"
 *  NodeRole("ps", 0).takesData == false
 *  }}}
 */
final case class NodeRole(jobName: String, taskIndex: Int) {
  def address: String = s"$jobName:$taskIndex"

  /** Chief and workers run the training program on data; they are the ones fed. */
  def takesData: Boolean = NodeRole.FedJobs.contains(jobName)

  /** Nodes whose addresses go into TF_CONFIG's cluster (the evaluator stays outside it). */
  def inClusterSpec: Boolean = jobName != NodeRole.Evaluator

  /** Whether this node acts as the chief (saves the model, writes summaries, serves
   *  TensorBoard, keeps the checkpoints): the chief, or worker:0 in a cluster without one, as
   *  TensorFlow's `multi_worker_util.is_chief` decides. */
  def actsAsChief(clusterHasChief: Boolean): Boolean =
    jobName == NodeRole.Chief || (!clusterHasChief && this == NodeRole(NodeRole.Worker, 0))
}

object NodeRole {
  val Chief = "chief"
  val Worker = "worker"
  val Ps = "ps"
  val Evaluator = "evaluator"

  /** The jobs Spark feeds in InputMode.SPARK. */
  val FedJobs: Set[String] = Set(Chief, Worker)
}
