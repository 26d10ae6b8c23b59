package io.sparktf.feed

import io.sparktf.SparkTFException

/** How one epoch's rows are split over the fed nodes: node `k` takes the global rows
 *  `[total * k / n, total * (k + 1) / n)` in partition order, so the shares differ by at most one
 *  row whatever the partition sizes (10 rows in one partition and 10,000 in another included).
 *  A partition that straddles a boundary is split between two nodes.
 *  {{{
 *  val plan = FeedPlan(partitionRows = IndexedSeq(10L, 10000L), nodes = 2)
 *  plan.nodeRows(0) == 5005 && plan.segments(1) == Seq(0 -> 4995L, 1 -> 5005L)
 *  }}}
 */
final case class FeedPlan(partitionRows: IndexedSeq[Long], nodes: Int) {
  require(nodes >= 1, s"a plan needs at least one node, found $nodes")
  val total: Long = partitionRows.sum
  private val offsets: IndexedSeq[Long] = partitionRows.scanLeft(0L)(_ + _)

  private def nodeStart(k: Int): Long = total * k / nodes

  def nodeRows(k: Int): Long = nodeStart(k + 1) - nodeStart(k)
  def minNodeRows: Long = (0 until nodes).map(nodeRows).min

  /** The (node, rows) pieces of partition `p`, in row order. */
  def segments(p: Int): Seq[(Int, Long)] = {
    val (lo, hi) = (offsets(p), offsets(p + 1))
    (0 until nodes).flatMap { k =>
      val (s, e) = (math.max(lo, nodeStart(k)), math.min(hi, nodeStart(k + 1)))
      if (e > s) Some(k -> (e - s)) else None
    }
  }

  /** Every fed node needs rows, or synchronous training would wait for one that has none. */
  def check(): Unit = if (nodes > 1 && minNodeRows == 0) {
    throw new SparkTFException(s"the DataFrame has $total rows for $nodes fed nodes; each node " +
      "needs at least one row per epoch: feed more rows or start fewer nodes")
  }
}
