package io.sparktf.feed

import org.scalatest.funsuite.AnyFunSuite

import io.sparktf.SparkTFException

class FeedPlanSuite extends AnyFunSuite {
  test("uneven partitions still give every node an equal share, split where needed") {
    val plan = FeedPlan(IndexedSeq(10L, 10000L), nodes = 2)
    assert(plan.nodeRows(0) == 5005 && plan.nodeRows(1) == 5005)
    assert(plan.segments(0) == Seq(0 -> 10L))
    assert(plan.segments(1) == Seq(0 -> 4995L, 1 -> 5005L))
  }

  test("shares differ by at most one row and cover every row once") {
    val sizes = IndexedSeq(7L, 0L, 3L, 11L, 1L)
    for (n <- 1 to 5) {
      val plan = FeedPlan(sizes, n)
      val shares = (0 until n).map(plan.nodeRows)
      assert(shares.max - shares.min <= 1)
      val fromSegments = sizes.indices.flatMap(plan.segments).groupMapReduce(_._1)(_._2)(_ + _)
      assert((0 until n).forall(k => fromSegments.getOrElse(k, 0L) == shares(k)))
      assert(shares.sum == sizes.sum)
    }
    assert(FeedPlan(sizes, 3).segments(1).isEmpty, "an empty partition has no segment")
  }

  test("fewer rows than nodes is refused with both numbers") {
    val e = intercept[SparkTFException](FeedPlan(IndexedSeq(1L), 2).check())
    assert(e.getMessage.contains("1 rows for 2 fed nodes"))
    FeedPlan(IndexedSeq(0L), 1).check()
  }
}
