package io.sparktf.cluster

import org.apache.spark.SparkConf
import org.scalatest.funsuite.AnyFunSuite

import io.sparktf.{ClusterConfig, SparkTFException}

/** The settings a cluster is refused for, before anything starts: no SparkContext needed. */
class ClusterSettingsSuite extends AnyFunSuite {
  private def conf(settings: (String, String)*): SparkConf =
    new SparkConf(loadDefaults = false).setAll(settings)

  private def refused(conf: SparkConf, master: String, config: ClusterConfig): String =
    intercept[SparkTFException](ClusterSettings.check(conf, master, config)).getMessage

  private val two = ClusterConfig(numExecutors = 2)

  test("one core per executor, no dynamic allocation: accepted, with the layout") {
    val layout = ClusterSettings.check(conf(), "local-cluster[2,1,1024]", two)
    assert(layout.roles.map(_.address) == Seq("chief:0", "worker:0"))
    ClusterSettings.check(conf("spark.executor.cores" -> "4", "spark.task.cpus" -> "4"),
      "spark://h:7077", two)
    // Unknown cores (standalone without spark.executor.cores): the reservation stage checks.
    ClusterSettings.check(conf(), "spark://h:7077", two)
  }

  test("dynamic allocation on is refused with the setting to change") {
    val m = refused(conf("spark.dynamicAllocation.enabled" -> "true"), "yarn", two)
    assert(m.contains("spark.dynamicAllocation.enabled is true"))
    assert(m.contains("set spark.dynamicAllocation.enabled=false"))
  }

  test("executors with more than one task slot are refused, saying what to set") {
    val m = refused(conf(), "local-cluster[1,2,1024]", two)
    assert(m.contains("executors have 2 cores and spark.task.cpus is 1"))
    assert(m.contains("each runs 2 tasks at once"))
    assert(m.contains("set spark.task.cpus=2 or spark.executor.cores=1"))
    val k8s = refused(conf("spark.executor.cores" -> "8", "spark.task.cpus" -> "2"),
      "k8s://https://h:443", two)
    assert(k8s.contains("each runs 4 tasks at once"))
    assert(k8s.contains("set spark.task.cpus=8 or spark.executor.cores=2"))
  }

  test("a task that needs more cpus than an executor has is refused") {
    val m = refused(conf("spark.executor.cores" -> "1", "spark.task.cpus" -> "2"),
      "spark://h:7077", two)
    assert(m.contains("so no task fits in an executor"))
  }

  test("num_ps that leaves no worker is refused with how many executors are needed") {
    val m = refused(conf(), "local-cluster[2,1,1024]", ClusterConfig(numExecutors = 2, numPs = 2))
    assert(m.contains("num_executors=2 leaves no worker after num_ps=2, master_node='chief'"))
    assert(m.contains("ask for at least 3 executors or fewer ps"))
  }

  test("a master_node that is not a role is refused, naming the roles that are") {
    val m = refused(conf(), "local-cluster[2,1,1024]",
      ClusterConfig(numExecutors = 2, masterNode = Some("boss")))
    assert(m.contains("master_node 'boss' is not a role sparktf knows"))
    assert(m.contains("use 'chief', or none"))
  }

  test("bad timeouts and queue sizes are refused before anything else") {
    assert(refused(conf(), "local-cluster[2,1,1024]", two.copy(reservationTimeout = 0))
        .contains("reservation_timeout is 0.0: it must be a positive number of seconds"))
    assert(refused(conf(), "local-cluster[2,1,1024]", two.copy(queueCapacity = 0))
        .contains("queue_capacity is 0: use 1 or more"))
  }

  test("local-cluster says how many executors it has; other masters do not") {
    assert(ClusterSettings.fixedExecutorCount("local-cluster[2, 1, 1024]").contains(2))
    assert(ClusterSettings.fixedExecutorCount("spark://h:7077").isEmpty)
    assert(ClusterSettings.fixedExecutorCount("yarn").isEmpty)
  }
}
