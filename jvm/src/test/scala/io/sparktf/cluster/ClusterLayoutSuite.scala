package io.sparktf.cluster

import org.scalatest.funsuite.AnyFunSuite

import io.sparktf.SparkTFException

class ClusterLayoutSuite extends AnyFunSuite {
  private def addresses(l: ClusterLayout) = l.roles.map(_.address)

  test("ps first, then chief, evaluator, workers, as TensorFlowOnSpark orders them") {
    val l = ClusterLayout.assign(5, numPs = 1, masterNode = Some("chief"), evalNode = true)
    assert(addresses(l) == Seq("ps:0", "chief:0", "evaluator:0", "worker:0", "worker:1"))
    assert(l.numWorkers == 3)
    assert(l.fed.map(_.address) == Seq("chief:0", "worker:0", "worker:1"))
  }

  test("workers only when there is no master node") {
    assert(addresses(ClusterLayout.assign(2, 0, None, evalNode = false)) == Seq("worker:0",
      "worker:1"))
  }

  test("TensorBoard runs on the chief, or on worker:0 without one") {
    def tb(ps: Int, master: Option[String]) =
      ClusterLayout.assign(3, ps, master, evalNode = false).tensorboardRole.map(_.address)
    assert(tb(1, Some("chief")).contains("chief:0"))
    assert(tb(1, None).contains("worker:0"))
  }

  test("worker:0 acts as chief only in a cluster without one") {
    assert(NodeRole("worker", 0).actsAsChief(clusterHasChief = false))
    assert(!NodeRole("worker", 0).actsAsChief(clusterHasChief = true))
    assert(!NodeRole("worker", 1).actsAsChief(clusterHasChief = false))
    assert(NodeRole("chief", 0).actsAsChief(clusterHasChief = true))
    assert(!NodeRole("ps", 0).actsAsChief(clusterHasChief = false))
    assert(ClusterLayout.assign(3, 1, Some("chief"), evalNode = false).actingChief
        .contains(NodeRole("chief", 0)))
  }

  test("TensorFlow 1's master is refused: TF2's TF_CONFIG has no such job") {
    val e = intercept[SparkTFException](
      ClusterLayout.assign(3, 0, Some("master"), evalNode = false))
    assert(e.getMessage.contains("master_node 'master' is TensorFlow 1's name for the chief"))
    assert(e.getMessage.contains("use master_node='chief'"))
  }

  test("a chief alone is a cluster") {
    assert(addresses(ClusterLayout.assign(1, 0, Some("chief"), evalNode = false)) == Seq("chief:0"))
  }

  test("too many ps names the numbers and what to do") {
    val e = intercept[SparkTFException](ClusterLayout.assign(2, 2, Some("chief"), evalNode = false))
    assert(e.getMessage.contains("num_executors=2") && e.getMessage.contains("num_ps=2"))
    assert(e.getMessage.contains("at least 3"))
  }

  test("bad role names and counts are refused") {
    assert(intercept[SparkTFException](ClusterLayout.assign(2, 0, Some("boss"), evalNode = false))
        .getMessage.contains("'boss'"))
    assert(intercept[SparkTFException](ClusterLayout.assign(0, 0, None, evalNode = false))
        .getMessage.contains("num_executors is 0"))
    assert(intercept[SparkTFException](ClusterLayout.assign(2, -1, None, evalNode = false))
        .getMessage.contains("num_ps is -1"))
  }
}
