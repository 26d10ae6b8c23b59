package io.sparktf.cluster

/** The TensorFlow role of one node: its job name and its index within that job.
 *
 *  {{{
 *  NodeRole("worker", 1).address == "worker:1"
 *  }}}
 */
final case class NodeRole(jobName: String, taskIndex: Int) {
  def address: String = s"$jobName:$taskIndex"

  /** Chief and workers run the training program on data; they are the ones fed. */
  def takesData: Boolean = jobName == NodeRole.Chief || jobName == NodeRole.Worker

  /** Nodes whose addresses go into TF_CONFIG's cluster (the evaluator stays outside it). */
  def inClusterSpec: Boolean = jobName != NodeRole.Evaluator
}

object NodeRole {
  val Chief = "chief"
  val Worker = "worker"
  val Ps = "ps"
  val Evaluator = "evaluator"
  /** TensorFlowOnSpark calls the chief "master" in some programs: both are accepted. */
  val Master = "master"
  val Names: Seq[String] = Seq(Chief, Worker, Ps, Evaluator, Master)
}
