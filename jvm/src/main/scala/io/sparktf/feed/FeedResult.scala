package io.sparktf.feed

/** What one feed task did: the rows it read from its partition and the rows the node took.
 *
 *  @param terminated the node's program called `terminate()`: it took fewer rows on purpose
 */
final case class FeedResult(
    partition: Int,
    epoch: Int,
    nodeIndex: Int,
    rowsSent: Long,
    rowsReceived: Long,
    terminated: Boolean,
    seconds: Double)
