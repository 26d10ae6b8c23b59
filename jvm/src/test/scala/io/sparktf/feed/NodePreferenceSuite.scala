package io.sparktf.feed

import org.scalatest.funsuite.AnyFunSuite

import io.sparktf.cluster.{NodeInfo, NodeRole}

class NodePreferenceSuite extends AnyFunSuite {
  private def node(i: Int, executor: String, host: String) =
    NodeInfo(i, NodeRole("worker", i), executor, host, 0, 0, 0L)

  private val fed = IndexedSeq(node(0, "1", "h1"), node(1, "2", "h1"), node(2, "3", "h2"),
    node(3, "4", "h2"), node(4, "5", "h3"))

  test("the node on the task's executor first, then its host's, then the others") {
    assert(NodePreference.order(fed, "3", "h2", partition = 0) == Seq(2, 3, 0, 1, 4))
    assert(NodePreference.order(fed, "3", "h2", partition = 1) == Seq(2, 3, 1, 4, 0))
  }

  test("an executor without a node rotates over its host's nodes by partition") {
    assert(NodePreference.order(fed, "9", "h1", 0).head == 0)
    assert(NodePreference.order(fed, "9", "h1", 1).head == 1)
    assert((0 until 6).map(p => NodePreference.order(fed, "9", "h4", p).head) ==
      Seq(0, 1, 2, 3, 4, 0))
    assert(NodePreference.order(fed, "9", "h4", 7).sorted == fed.indices)
  }
}
