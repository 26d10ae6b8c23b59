package io.sparktf.cluster

import scala.concurrent.Await
import scala.concurrent.duration._
import scala.util.control.NonFatal

import org.apache.spark.SparkContext
import org.apache.spark.sparktf.ExecutorIdentity

import io.sparktf.JobDescription
import io.sparktf.node.NodeRegistry

/** Asks the executors of nodes that died how they ended: the exit signal or code and the tail of
 *  the node's stderr, which only the executor that ran the process has.
 *
 *  One task per node, placed on the node's executor (`executor_<host>_<id>` is the location Spark
 *  gives cached blocks). A task that lands elsewhere, or an executor that died with its node,
 *  answers nothing: the driver then says only that the node is gone.
 *  {{{
 *  NodePostMortem.collect(sc, clusterId, goneNodes, timeoutSeconds = 5)
 *  // Map(1 -> "killed by signal 9; its stderr ends with:\n...")
 *  }}}
 */
object NodePostMortem {
  def collect(sc: SparkContext, clusterId: String, gone: Seq[NodeInfo],
      timeoutSeconds: Double): Map[Int, String] = {
    if (gone.isEmpty) return Map.empty
    val rdd = sc.makeRDD(gone.map(n => n -> Seq(s"executor_${n.host}_${n.executorId}")))
    val job = JobDescription.during(sc,
      s"sparktf cluster $clusterId: ask executors how their nodes ended") {
      rdd.map { n =>
        if (ExecutorIdentity.executorId == n.executorId) {
          NodeRegistry.deathOf(clusterId).map(n.barrierIndex -> _)
        } else None
      }.collectAsync()
    }
    // Only an explanation for an error already on its way: never worth waiting long for.
    try Await.result(job, timeoutSeconds.seconds).flatten.toMap
    catch {
      case NonFatal(_) =>
        job.cancel()
        Map.empty
    }
  }
}
