package io.sparktf.feed

import io.sparktf.SparkTFException

/** How many rows each fed node takes per epoch: node k takes `total / nodes` rows, one more for
 *  the first `total % nodes` nodes. Every node's share differs from the others' by at most one
 *  row whatever the partition sizes, so every node cuts its share into the same number of steps.
 *  The shares are quotas the nodes enforce (`DataFeed.Reserve`); which rows go where is decided
 *  as the feed goes ([[FeedRouter]]), so the plan needs only the epoch's row count, which a
 *  column-less scan gives without decoding the DataFrame ([[PartitionRowCounts.total]]).
 *  {{{
 *  val plan = FeedPlan(total = 10010L, nodes = 2)
 *  plan.nodeRows(0) == 5005 && plan.minNodeRows == 5005
 *  }}}
 */
final case class FeedPlan(total: Long, nodes: Int) {
  require(nodes >= 1, s"a plan needs at least one node, found $nodes")

  def nodeRows(k: Int): Long = total / nodes + (if (k < total % nodes) 1 else 0)
  def minNodeRows: Long = total / nodes

  /** Every fed node needs rows, or synchronous training would wait for one that has none. */
  def check(): Unit = if (nodes > 1 && minNodeRows == 0) {
    throw new SparkTFException(s"the DataFrame has $total rows for $nodes fed nodes; each node " +
      "needs at least one row per epoch: feed more rows or start fewer nodes")
  }
}
