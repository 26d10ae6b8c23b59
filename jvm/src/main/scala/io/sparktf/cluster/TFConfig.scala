package io.sparktf.cluster

import com.fasterxml.jackson.databind.ObjectMapper

import scala.jdk.CollectionConverters._

/** Builds TensorFlow's cluster spec and TF_CONFIG from the reserved addresses.
 *
 *  {{{
 *  val spec = TFConfig.clusterSpec(Seq(NodeRole("chief", 0) -> "h1:2222",
 *                                      NodeRole("worker", 0) -> "h2:2222"))
 *  TFConfig.json(spec, NodeRole("worker", 0))
 *  // {"cluster":{"chief":["h1:2222"],"worker":["h2:2222"]},"task":{"type":"worker","index":0}}
 *  }}}
 */
object TFConfig {
  private val mapper = new ObjectMapper()

  /** Role name -> addresses ordered by task index. */
  def clusterSpec(addresses: Seq[(NodeRole, String)]): Map[String, Seq[String]] =
    addresses.filter(_._1.inClusterSpec)
      .groupBy { case (role, _) => role.jobName }
      .map { case (job, members) => job -> members.sortBy(_._1.taskIndex).map(_._2) }

  def json(spec: Map[String, Seq[String]], role: NodeRole): String = {
    val cluster = new java.util.TreeMap[String, java.util.List[String]]()
    spec.foreach { case (job, members) => cluster.put(job, members.asJava) }
    val task = new java.util.LinkedHashMap[String, Any]()
    task.put("type", role.jobName)
    task.put("index", role.taskIndex)
    val root = new java.util.LinkedHashMap[String, Any]()
    root.put("cluster", cluster)
    root.put("task", task)
    mapper.writeValueAsString(root)
  }
}
