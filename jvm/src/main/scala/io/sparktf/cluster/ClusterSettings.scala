package io.sparktf.cluster

import org.apache.spark.{SparkConf, SparkContext}

import io.sparktf.{ClusterConfig, SparkTFException}

/** Checks, before anything starts, that Spark can host the cluster: one node per executor needs
 *  executors with exactly one task slot and a fixed set of executors.
 *  {{{
 *  ClusterSettings.check(sc.getConf, sc.master, ClusterConfig(numExecutors = 2))
 *  }}}
 *  Every error says which setting to change.
 */
object ClusterSettings {
  def check(sc: SparkContext, config: ClusterConfig): ClusterLayout =
    check(sc.getConf, sc.master, config)

  /** Checks the cluster settings against Spark's; returns the layout they give. */
  def check(conf: SparkConf, master: String, config: ClusterConfig): ClusterLayout = {
    config.validate()
    val layout = ClusterLayout.assign(config.numExecutors, config.numPs, config.masterNode,
      config.evalNode)
    if (conf.getBoolean("spark.dynamicAllocation.enabled", defaultValue = false)) {
      throw new SparkTFException("spark.dynamicAllocation.enabled is true: sparktf keeps one " +
        "TensorFlow node per executor for the cluster's life, and Spark would remove idle " +
        "executors (and their nodes); set spark.dynamicAllocation.enabled=false")
    }
    val taskCpus = conf.getInt("spark.task.cpus", 1)
    if (taskCpus < 1) {
      throw new SparkTFException(s"spark.task.cpus is $taskCpus: set it to 1 or more")
    }
    executorCoresOf(conf, master).foreach { cores =>
      val slots = cores / taskCpus
      if (slots != 1) {
        val found = if (slots == 0) "so no task fits in an executor"
        else
          s"so each runs $slots tasks at once"
        throw new SparkTFException(s"executors have $cores cores and spark.task.cpus is " +
          s"$taskCpus, $found; sparktf needs exactly one task slot per executor (one " +
          s"TensorFlow node each): set spark.task.cpus=$cores or spark.executor.cores=$taskCpus")
      }
    }
    layout
  }

  private val LocalCluster = """local-cluster\[\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*]""".r

  /** Cores per executor: what local-cluster[N,cores,mem] says, else spark.executor.cores. Unknown
   *  (None) on a standalone cluster without spark.executor.cores: the reservation stage then
   *  refuses two nodes on one executor. */
  private def executorCoresOf(conf: SparkConf, master: String): Option[Int] = master match {
    case LocalCluster(_, cores, _) => Some(cores.toInt)
    case m if m.startsWith("local") => None // one JVM: checked by the executor count instead
    case _ => conf.getOption("spark.executor.cores").map(_.trim.toInt)
  }

  /** How many executors a master has for sure, when it says so (local-cluster[N,cores,mem]). */
  def fixedExecutorCount(master: String): Option[Int] = master match {
    case LocalCluster(n, _, _) => Some(n.toInt)
    case _ => None
  }

  /** Waits until `n` executors are registered; a cluster that has fewer fails with what it has. */
  def awaitExecutors(sc: SparkContext, n: Int, timeoutSeconds: Double): Unit = {
    if (sc.isLocal) {
      // Master local[...] is one JVM: it can host one node only.
      if (n > 1) throw new SparkTFException(s"master ${sc.master} runs a single executor, but " +
        s"the cluster needs $n: use local-cluster[$n,1,1024] or a real cluster")
      return
    }
    fixedExecutorCount(sc.master).filter(_ < n).foreach { has =>
      // local-cluster never grows: waiting would only delay the same answer.
      throw new SparkTFException(s"the cluster needs $n executors (one per TensorFlow node) " +
        s"but master ${sc.master} has only $has; ask for fewer nodes (num_executors) or use " +
        s"local-cluster[$n,1,1024]")
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
