package io.sparktf.node

import java.util.concurrent.ConcurrentHashMap

import scala.jdk.CollectionConverters._

import org.slf4j.LoggerFactory

/** The node processes this executor JVM started, by cluster id. In InputMode.SPARK a node outlives
 *  its reservation task; later tasks on the same executor find it here.
 *
 *  When the JVM exits, every node it started is killed (the node also watches its parent). */
object NodeRegistry {
  private val log = LoggerFactory.getLogger("io.sparktf.node")
  private val nodes = new ConcurrentHashMap[String, NodeProcess]()
  // One short text per cluster that lost its node here; kept for the executor's life.
  private val deaths = new ConcurrentHashMap[String, String]()

  Runtime.getRuntime.addShutdownHook(new Thread("sparktf-node-reaper") {
    override def run(): Unit = nodes.values().asScala.foreach(_.process.destroyForcibly())
  })

  def register(clusterId: String, node: NodeProcess): Unit = {
    nodes.put(clusterId, node)
    // Forget the node once it is gone, so a dead process is never mistaken for a live one.
    node.process.onExit().thenRun { () =>
      nodes.remove(clusterId, node)
      if (!node.stoppedByExecutor && node.process.exitValue() != 0) {
        log.warn(s"sparktf node ${node.role.address} (pid ${node.pid}) of cluster $clusterId " +
          s"${node.exitDescription}")
        node.awaitOutput(2000)
        deaths.put(clusterId, s"${node.exitDescription}; its stderr ends with:\n${node.stderrTail}")
      }
      // A node of InputMode.SPARK ends on its own after Stop: nobody else removes its dirs.
      node.removeDirs()
    }
  }

  /** How this executor's node of `clusterId` ended, when it ended on its own with an error
   *  (a signal or a non-zero code), with the tail of its stderr: for the driver's error. */
  def deathOf(clusterId: String): Option[String] = Option(deaths.get(clusterId))
}
