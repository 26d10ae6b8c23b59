package io.sparktf.feed

import io.sparktf.SparkTFException

/** How one epoch's rows are dealt to the fed nodes: global row `g` (rows numbered in partition
 *  order) goes to node `g % nodes`, like cards. Every node's share differs from the others' by at
 *  most one row whatever the partition sizes, and every feed task deals to every node as it
 *  goes, so all nodes receive data at the same pace: under synchronous training no node starves
 *  while another's queue is full (which would deadlock the two).
 *  {{{
 *  val plan = FeedPlan(partitionRows = IndexedSeq(10L, 10000L), nodes = 2)
 *  plan.nodeRows(0) == 5005 && plan.nodeOf(partition = 1, row = 0) == 0
 *  }}}
 */
final case class FeedPlan(partitionRows: IndexedSeq[Long], nodes: Int) {
  require(nodes >= 1, s"a plan needs at least one node, found $nodes")
  val total: Long = partitionRows.sum
  private val offsets: IndexedSeq[Long] = partitionRows.scanLeft(0L)(_ + _)

  /** Rows of global index `k`, `k + nodes`, `k + 2 * nodes`, ... */
  def nodeRows(k: Int): Long = (total - k + nodes - 1) / nodes
  def minNodeRows: Long = total / nodes

  /** The node that takes row `row` (0-based) of partition `partition`. */
  def nodeOf(partition: Int, row: Long): Int = ((offsets(partition) + row) % nodes).toInt

  /** Every fed node needs rows, or synchronous training would wait for one that has none. */
  def check(): Unit = if (nodes > 1 && minNodeRows == 0) {
    throw new SparkTFException(s"the DataFrame has $total rows for $nodes fed nodes; each node " +
      "needs at least one row per epoch: feed more rows or start fewer nodes")
  }
}
