package io.sparktf.feed

import io.sparktf.cluster.NodeInfo

/** The order in which a task tries the fed nodes: the node on its own executor first (its
 *  batches go through shared memory), then the nodes on its host, then the others. Within each
 *  group the start rotates with the partition index, so the tasks of executors without a node
 *  (spare executors, a ps, an evaluator) spread over the nodes instead of all picking the first.
 *  Feed tasks ([[FeedRouter]]) and inference tasks use it alike.
 *  {{{
 *  val order = NodePreference.order(fed, ExecutorIdentity.executorId, ExecutorIdentity.host, p)
 *  fed(order.head)   // the node this task feeds first
 *  }}}
 */
object NodePreference {

  /** Indexes into `fed`, every node once, most preferred first. */
  def order(fed: IndexedSeq[NodeInfo], executorId: String, host: String,
      partition: Int): IndexedSeq[Int] = {
    val own = fed.indices.filter(i => fed(i).executorId == executorId)
    val sameHost = fed.indices.filter(i => !own.contains(i) && fed(i).host == host)
    val others = fed.indices.filter(i => !own.contains(i) && fed(i).host != host)
    own ++ rotated(sameHost, partition) ++ rotated(others, partition)
  }

  private def rotated(nodes: IndexedSeq[Int], by: Int): IndexedSeq[Int] =
    if (nodes.isEmpty) nodes
    else {
      val k = math.floorMod(by, nodes.size)
      nodes.drop(k) ++ nodes.take(k)
    }
}
