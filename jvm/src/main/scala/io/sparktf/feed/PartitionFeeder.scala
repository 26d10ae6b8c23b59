package io.sparktf.feed

import scala.collection.mutable
import scala.util.Try
import scala.util.control.NonFatal

import org.apache.spark.sql.catalyst.InternalRow

import io.sparktf.SparkTFException

/** One feed task's partition: its rows go out in contiguous ranges (leases of up to
 *  [[PartitionFeeder.MaxLeaseBatches]] batches), each reserved from one node by the
 *  [[FeedRouter]] before the rows are sent (the next lease from the same node is asked for
 *  while the current one is sent, off the task's path), over at most [[PartitionFeeder.MaxStreams]]
 *  streams at a time whatever the number of nodes (the first choice's, usually the node on this
 *  executor, and the current other one).
 *
 *  Exactly once: attempt 0 sends from its first row without asking anything first. A retried
 *  attempt asks every fed node which ranges of the partition it took (which also makes it the
 *  partition's current attempt there: the old attempt's streams and reservations are refused,
 *  and its unsent reservations return to the quotas), then skips those rows as it iterates:
 *  Spark recomputes a partition in the same order.
 *  {{{
 *  new PartitionFeeder(p, epoch, attempt, fed.size, router, k => stream(k), desk).run(rows)
 *  }}}
 *
 *  @param openStream     a new stream of this partition attempt to node k
 *  @param barrierIndexOf the barrier index of fed node k, which results name nodes by
 */
final class PartitionFeeder(partition: Int, epoch: Int, attempt: Int, nodes: Int,
    router: FeedRouter, openStream: Int => NodeStream, desk: QuotaDesk,
    barrierIndexOf: Int => Int = identity) {
  import PartitionFeeder._

  private val home = router.target
  private val streams = mutable.LinkedHashMap[Int, NodeStream]()
  private val results = mutable.ArrayBuffer[FeedResult]()

  /** The next lease, asked for while the current one is sent. */
  private var ahead: Option[Ahead] = None

  /** Rows the lease asked for ahead grants from `row` on the current node, 0 if none (then
   *  the router asks, and moves on if need be). */
  private def takeAhead(row: Long): Long = ahead match {
    case None => 0L
    case Some(a) =>
      ahead = None
      if (a.start != row) {
        throw new IllegalStateException(s"a lease from row ${a.start} was asked for ahead, " +
          s"but partition $partition goes on at row $row")
      }
      a.answer().granted
  }

  def run(rows: Iterator[InternalRow]): Seq[FeedResult] = {
    val skips = if (attempt == 0) IndexedSeq.empty else takenRanges()
    var row = 0L
    var left = 0L // rows of the current range not offered yet
    var node = -1
    var batchRows = FirstRangeRows
    var leaseBatches = 0 // 0 until a batch measured the rows per batch, then 1, 2, 4 ...
    var stopped = false
    var nextSkip = 0
    try {
      while (!stopped && rows.hasNext) {
        while (nextSkip < skips.size && skips(nextSkip)._2 <= row) nextSkip += 1
        if (nextSkip < skips.size && skips(nextSkip)._1 <= row) {
          rows.next()
          row += 1
        } else {
          if (left == 0) {
            if (node >= 0) {
              batchRows = streams(node).rowsPerBatch(batchRows)
              leaseBatches = math.min(MaxLeaseBatches, math.max(1, leaseBatches * 2))
            }
            val until = if (nextSkip < skips.size) skips(nextSkip)._1 else Long.MaxValue
            val want = batchRows.toLong * math.max(1, leaseBatches)
            val holding = node
            val leased = takeAhead(row)
            val route = if (leased > 0) FeedRouter.Granted(node, leased)
            else router.reserve(row, math.min(want, until - row),
              () => if (holding >= 0) streams(holding).flushNow(),
              batchRows = if (leaseBatches > 0) batchRows.toLong else 0L)
            route match {
              case FeedRouter.Terminated =>
                // Said even when no stream of this task reached the node: the driver then knows
                // the epoch ended early on purpose, not that rows went missing.
                results += FeedResult(partition, epoch, barrierIndexOf(router.target),
                  rowsSkipped = 0, rowsSent = 0, rowsReceived = 0, terminated = true, seconds = 0)
                stopped = true
              case FeedRouter.Granted(k, n) =>
                if (node >= 0 && k != node) streams(node).flushNow()
                streamTo(k)
                node = k
                left = n
                // The next lease is asked for now, answered while this one is sent. Not after
                // the first range: most partitions that small end within it.
                val next = math.min(batchRows.toLong * math.min(MaxLeaseBatches, leaseBatches * 2),
                  until - (row + n))
                if (leaseBatches > 0 && next > 0) {
                  ahead = Some(Ahead(k, row + n, desk.reserveAhead(k, row + n, next, batchRows)))
                }
            }
          }
          if (!stopped) {
            val sent = offerRange(rows, streams(node), left)
            left -= sent
            row += sent
            // A stream the node closed (terminate()) takes no more rows.
            stopped = streams.valuesIterator.exists(_.closedByNode)
          }
        }
      }
      val delivered = skips.lastOption.map(_._2).getOrElse(0L)
      if (!stopped && row < delivered) {
        throw new SparkTFException(s"partition $partition has $row rows on attempt $attempt, " +
          s"fewer than the $delivered an earlier attempt delivered; sparktf needs partitions " +
          "recomputed in the same order (cache or checkpoint the DataFrame before train())")
      }
      // Rows reserved and not sent (the partition ended first) return to the quota when the
      // stream ends; a lease asked for ahead must be on the node's books before that.
      ahead.foreach(_.answer())
      ahead = None
      results ++= streams.values.map(_.finish())
      results.toSeq
    } catch {
      case NonFatal(e) =>
        Try(ahead.foreach(_.answer()))
        streams.values.foreach(_.cancel(e))
        throw e
    }
  }

  /** The stream to node `k`, opened if need be; the oldest other than the first choice's is
   *  finished to make room. */
  private def streamTo(k: Int): NodeStream = streams.getOrElse(
    k, {
      if (streams.size >= MaxStreams) {
        val victim = streams.keys.find(_ != home).getOrElse(streams.keys.head)
        results += streams.remove(victim).get.finish()
      }
      val s = openStream(k)
      streams(k) = s
      s
    }
  )

  /** [start, end) ranges every node took of this partition, sorted; the rows of earlier
   *  attempts are reported as skipped, node by node. */
  private def takenRanges(): IndexedSeq[(Long, Long)] = {
    val taken = (0 until nodes).map(k => k -> desk.taken(k))
    taken.foreach { case (k, ranges) =>
      val rows = ranges.map(_._2).sum
      if (rows > 0) {
        results += FeedResult(partition, epoch, barrierIndexOf(k), rowsSkipped = rows, rowsSent = 0,
          rowsReceived = 0, terminated = false, seconds = 0)
      }
    }
    // A range of no row (a lease the partition ended before) delivered nothing.
    taken.flatMap(_._2).collect { case (start, n) if n > 0 => (start, start + n) }.sortBy(_._1)
  }
}

object PartitionFeeder {

  /** Offers the next `most` rows to `stream` (fewer at the partition's end, or once the node
   *  closed the stream: looked at every 256 rows, off the per-row path) and says how many.
   *
   *  The per-row loop is this small method of its own so that the JIT compiles it alone: as a
   *  loop inside `run`, the JIT compiled all of `run` with it, twice (on-stack and whole): 0.61 s
   *  of compiler time in one executor's second feed (JFR), against 0.07-0.12 s for this one. */
  private def offerRange(rows: Iterator[InternalRow], stream: NodeStream, most: Long): Long = {
    var sent = 0L
    while (sent < most && rows.hasNext) {
      stream.offer(rows.next())
      sent += 1
      if ((sent & 255) == 0 && stream.closedByNode) return sent
    }
    sent
  }

  /** A reservation of rows from `start` on node `node`, sent and not answered yet. */
  private final case class Ahead(node: Int, start: Long, answer: () => Grant)

  /** Streams a task holds open at once, whatever the number of nodes. */
  val MaxStreams = 2

  /** Rows asked for before a batch measured how many fit one (64 rows of 784 floats: 200 KB). */
  val FirstRangeRows = 64

  /** Batches a task leases from a node at most per reservation; leases double from one, so a
   *  small partition holds little of a quota it will not use. A round trip per batch (~10 ms
   *  on a busy 2-core machine) took half a feed task's time. */
  val MaxLeaseBatches = 8
}
