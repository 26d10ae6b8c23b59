package io.sparktf.feed

import org.scalatest.funsuite.AnyFunSuite

import io.sparktf.SparkTFException

class FeedPlanSuite extends AnyFunSuite {
  test("uneven partitions still give every node an equal share: only the total counts") {
    val plan = FeedPlan(total = 10L + 10000L, nodes = 2)
    assert(plan.nodeRows(0) == 5005 && plan.nodeRows(1) == 5005 && plan.minNodeRows == 5005)
  }

  test("shares differ by at most one row and add up, the first nodes taking the remainder") {
    for (total <- Seq(0L, 1L, 7L, 22L, 1001L); n <- 1 to 5) {
      val plan = FeedPlan(total, n)
      val shares = (0 until n).map(plan.nodeRows)
      assert(shares.max - shares.min <= 1 && shares.sum == total)
      assert(plan.minNodeRows == shares.min)
      assert(shares == shares.sorted.reverse)
    }
  }

  test("fewer rows than nodes is refused with both numbers") {
    val e = intercept[SparkTFException](FeedPlan(1L, 2).check())
    assert(e.getMessage.contains("1 rows for 2 fed nodes"))
    FeedPlan(0L, 1).check()
  }
}
