package io.sparktf.cluster

import org.apache.spark.SparkContext

import io.sparktf.{ClusterConfig, SparkTFException}

/** Checks, before anything starts, that Spark can host the cluster: one node per executor needs
 *  executors with exactly one task slot and a fixed set of executors. */
object ClusterSettings {
  def check(sc: SparkContext, config: ClusterConfig): Unit = {
    config.validate()
    val conf = sc.getConf
    if (conf.getBoolean("spark.dynamicAllocation.enabled", defaultValue = false)) {
      throw new SparkTFException("spark.dynamicAllocation.enabled is true: sparktf keeps one " +
        "TensorFlow node per executor for the cluster's life; set it to false")
    }
    val taskCpus = conf.getInt("spark.task.cpus", 1)
    val executorCores = executorCoresOf(sc)
    executorCores.foreach { cores =>
      if (cores / taskCpus != 1) {
        throw new SparkTFException(s"executors have $cores cores and spark.task.cpus is " +
          s"$taskCpus, so each runs ${cores / taskCpus} tasks at once; sparktf needs exactly one " +
          s"task slot per executor: set spark.task.cpus=$cores (or spark.executor.cores=$taskCpus)")
      }
    }
  }

  /** Cores per executor: from spark.executor.cores, or what local-cluster[N,cores,mem] says. */
  private def executorCoresOf(sc: SparkContext): Option[Int] = {
    val LocalCluster = """local-cluster\[\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*]""".r
    sc.master match {
      case LocalCluster(_, cores, _) => Some(cores.toInt)
      case m if m.startsWith("local") => None // one JVM: checked by the executor count instead
      case _ => sc.getConf.getOption("spark.executor.cores").map(_.toInt)
    }
  }

  /** Waits until `n` executors are registered; a cluster that has fewer fails with what it has. */
  def awaitExecutors(sc: SparkContext, n: Int, timeoutSeconds: Double): Unit = {
    if (sc.isLocal) {
      // Master local[...] is one JVM: it can host one node only.
      if (n > 1) throw new SparkTFException(s"master ${sc.master} runs a single executor, but " +
        s"the cluster needs $n: use local-cluster[$n,1,1024] or a real cluster")
      return
    }
    val deadline = System.nanoTime() + (timeoutSeconds * 1e9).toLong
    // The status tracker lists the driver too.
    def executors: Int = sc.statusTracker.getExecutorInfos.length - 1
    while (executors < n && System.nanoTime() < deadline) Thread.sleep(200)
    if (executors < n) {
      throw new SparkTFException(s"the cluster needs $n executors (one per TensorFlow node) but " +
        s"only $executors registered within $timeoutSeconds s; ask for fewer nodes " +
        "(num_executors) or start more executors")
    }
  }
}
