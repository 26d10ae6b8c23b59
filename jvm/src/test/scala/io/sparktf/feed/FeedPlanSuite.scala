package io.sparktf.feed

import org.scalatest.funsuite.AnyFunSuite

import io.sparktf.SparkTFException

class FeedPlanSuite extends AnyFunSuite {
  test("uneven partitions still give every node an equal share") {
    val plan = FeedPlan(IndexedSeq(10L, 10000L), nodes = 2)
    assert(plan.nodeRows(0) == 5005 && plan.nodeRows(1) == 5005 && plan.minNodeRows == 5005)
    assert((0L until 10L).map(plan.nodeOf(0, _)) == Seq(0, 1, 0, 1, 0, 1, 0, 1, 0, 1))
    assert(plan.nodeOf(1, 0) == 0 && plan.nodeOf(1, 1) == 1)
  }

  test("rows are dealt in turn: shares differ by at most one row and add up") {
    val sizes = IndexedSeq(7L, 0L, 3L, 11L, 1L)
    for (n <- 1 to 5) {
      val plan = FeedPlan(sizes, n)
      val dealt = sizes.indices.flatMap(p => (0L until sizes(p)).map(plan.nodeOf(p, _)))
      val counts = dealt.groupMapReduce(identity)(_ => 1L)(_ + _)
      assert((0 until n).forall(k => counts.getOrElse(k, 0L) == plan.nodeRows(k)))
      val shares = (0 until n).map(plan.nodeRows)
      assert(shares.max - shares.min <= 1 && shares.sum == sizes.sum)
      assert(plan.minNodeRows == shares.min)
      // Within any run of n consecutive rows every node gets one: all nodes fed at one pace.
      assert(dealt.sliding(n).forall(_.distinct.size == n))
    }
  }

  test("fewer rows than nodes is refused with both numbers") {
    val e = intercept[SparkTFException](FeedPlan(IndexedSeq(1L), 2).check())
    assert(e.getMessage.contains("1 rows for 2 fed nodes"))
    FeedPlan(IndexedSeq(0L), 1).check()
  }
}
