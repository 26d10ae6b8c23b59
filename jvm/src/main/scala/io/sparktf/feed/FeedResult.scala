package io.sparktf.feed

/** What one feed task did: the rows it read from its partition and the rows the node took.
 *
 *  @param rowsSkipped rows an earlier attempt of this task already delivered (not sent again)
 *  @param terminated  the node's program called `terminate()`: it took fewer rows on purpose
 *  @param rowsShared  rows of `rowsSent` handed over in shared memory (see [[SharedBatchFiles]])
 *  @param socketBytes bytes of the batches sent over the socket instead
 */
final case class FeedResult(
    partition: Int,
    epoch: Int,
    nodeIndex: Int,
    rowsSkipped: Long,
    rowsSent: Long,
    rowsReceived: Long,
    terminated: Boolean,
    seconds: Double,
    rowsShared: Long = 0L,
    socketBytes: Long = 0L) {

  /** Rows of this partition the node holds, from every attempt. */
  def rowsAtNode: Long = rowsSkipped + rowsReceived
}
