package org.apache.spark.sparktf

import org.apache.spark.SparkEnv

/** Who the executor running this code is: Spark's id for it, and the host its block manager (and
 *  so the scheduler's task locations) name it by. It lives in Spark's package because `SparkEnv`
 *  is Spark's developer API: sparktf reaches it through this shim alone.
 *  {{{
 *  rdd.map(_ => s"${ExecutorIdentity.executorId} on ${ExecutorIdentity.host}")
 *  }}}
 */
object ExecutorIdentity {
  def executorId: String = SparkEnv.get.executorId
  def host: String = SparkEnv.get.blockManager.blockManagerId.host
}
