package io.sparktf

import io.sparktf.cluster.{ClusterLayout, NodeRole}

/** The `node_output` setting: whose program output (stdout and stderr lines) the driver's
 *  console shows. Every node's output is in its executor's log whatever the choice.
 *  {{{
 *  NodeOutputChoice.shows(NodeOutputChoice.Chief, layout, NodeRole("chief", 0))   // true
 *  NodeOutputChoice.shows("all", layout, NodeRole("ps", 0))                       // true
 *  }}}
 */
object NodeOutputChoice {

  /** The chief, or worker:0 in a cluster without one (the node that prints Keras' lines). */
  val Chief = "chief"
  val All = "all"
  val NoNode = "none"
  val Choices: Seq[String] = Seq(Chief, All, NoNode)

  def check(choice: String): Unit = if (!Choices.contains(choice)) {
    throw new SparkTFException(s"node_output is '$choice': use one of ${Choices.mkString(", ")} " +
      "(whose stdout/stderr lines the driver's console shows)")
  }

  def shows(choice: String, layout: ClusterLayout, role: NodeRole): Boolean = choice match {
    case All => true
    case Chief => layout.actingChief.contains(role)
    case _ => false
  }
}
