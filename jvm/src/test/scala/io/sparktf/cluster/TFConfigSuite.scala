package io.sparktf.cluster

import com.fasterxml.jackson.databind.ObjectMapper
import org.scalatest.funsuite.AnyFunSuite

class TFConfigSuite extends AnyFunSuite {
  private val roles = Seq(
    NodeRole("ps", 0) -> "h0:1000",
    NodeRole("chief", 0) -> "h1:1001",
    NodeRole("evaluator", 0) -> "h2:0",
    NodeRole("worker", 1) -> "h4:1004",
    NodeRole("worker", 0) -> "h3:1003"
  )

  test("cluster spec groups by job, orders by index, leaves the evaluator out") {
    assert(TFConfig.clusterSpec(roles) == Map(
      "ps" -> Seq("h0:1000"), "chief" -> Seq("h1:1001"), "worker" -> Seq("h3:1003", "h4:1004")))
  }

  test("TF_CONFIG names the task") {
    val spec = TFConfig.clusterSpec(
      Seq(NodeRole("chief", 0) -> "a:1", NodeRole("worker", 0) -> "b:2"))
    val json = new ObjectMapper().readTree(TFConfig.json(spec, NodeRole("chief", 0)))
    assert(json.get("task").get("type").asText() == "chief")
    assert(json.get("task").get("index").asInt() == 0)
    assert(json.get("cluster").get("chief").get(0).asText() == "a:1")
    assert(json.get("cluster").get("worker").get(0).asText() == "b:2")
  }

  test("the evaluator's TF_CONFIG has the cluster but is not in it") {
    val spec = TFConfig.clusterSpec(roles)
    val json = new ObjectMapper().readTree(TFConfig.json(spec, NodeRole("evaluator", 0)))
    assert(json.get("task").get("type").asText() == "evaluator")
    assert(!json.get("cluster").has("evaluator"))
  }
}
