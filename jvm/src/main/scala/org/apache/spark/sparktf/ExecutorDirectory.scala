package org.apache.spark.sparktf

import org.apache.spark.SparkContext
import org.apache.spark.scheduler.ExecutorCacheTaskLocation

/** The executors registered with the driver, and the task location that names each one (a
 *  task preferring it runs there when its slot is free). In Spark's package because the block
 *  manager master and executor task locations are Spark's own API: sparktf reaches them through
 *  this shim alone.
 *  {{{
 *  val rdd = sc.makeRDD(ExecutorDirectory.executors(sc).map { case (id, host) =>
 *    (id, Seq(ExecutorDirectory.location(host, id))) })   // one task per executor
 *  }}}
 */
object ExecutorDirectory {

  /** (executor id, host) of every executor, the driver left out. */
  def executors(sc: SparkContext): Seq[(String, String)] =
    sc.env.blockManager.master.getMemoryStatus.keys.toSeq.filterNot(_.isDriver)
      .map(b => (b.executorId, b.host)).sorted

  /** The preferred location of a task to run on executor `executorId` of `host`. */
  def location(host: String, executorId: String): String =
    ExecutorCacheTaskLocation(host, executorId).toString
}
