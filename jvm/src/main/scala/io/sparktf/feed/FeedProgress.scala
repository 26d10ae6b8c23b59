package io.sparktf.feed

import com.fasterxml.jackson.databind.ObjectMapper

/** How far one `train()` call has got, as the driver shows it (a progress bar in Python, log
 *  lines in Scala): epoch k of N, rows fed of the rows all epochs feed, rows/s and time left.
 *
 *  [[ClusterFeed]] moves it at each epoch's start and end; during an epoch
 *  [[FeedProgressWatch]] reports the rows the nodes have taken into their queues so far. A
 *  restart ([[RestartingFeed]]) feeds the epoch in progress again, so the count goes back to
 *  the epochs fed whole before it.
 *  {{{
 *  val progress = new FeedProgress(trainNumber = 1, rowsPerEpoch = 60000, epochs = 3)
 *  progress.epochStarted(); progress.rowsInEpoch(12000)
 *  progress.snapshot.describe   // "epoch 1/3: 12,000 of 180,000 rows fed (7%), ..."
 *  }}}
 */
final class FeedProgress(val trainNumber: Int, val rowsPerEpoch: Long, val epochs: Int) {
  private val started = System.nanoTime()
  private var epochsFed = 0
  private var rowsBefore = 0L // rows of the epochs fed whole
  private var live = 0L // rows of the epoch in progress
  private var done = false
  private var doneSeconds = 0.0

  def epochStarted(): Unit = synchronized { live = 0L }

  /** Rows of the epoch in progress that reached the nodes so far; never goes back. */
  def rowsInEpoch(rows: Long): Unit = synchronized {
    live = live.max(rows.min(rowsPerEpoch))
  }

  def epochFed(rows: Long): Unit = synchronized {
    epochsFed += 1
    rowsBefore += rows
    live = 0L
  }

  /** A restart keeps the first `epochsKept` epochs and feeds the rest again. */
  def restarted(epochsKept: Int): Unit = synchronized {
    epochsFed = epochsKept
    rowsBefore = epochsKept * rowsPerEpoch
    live = 0L
  }

  def finished(): Unit = synchronized {
    if (!done) doneSeconds = (System.nanoTime() - started) / 1e9
    done = true
  }

  def snapshot: FeedProgress.Snapshot = synchronized {
    FeedProgress.Snapshot(
      trainNumber,
      (epochsFed + (if (done) 0 else 1)).min(epochs).max(1),
      epochs,
      rowsBefore + live,
      rowsPerEpoch * epochs,
      if (done) doneSeconds else (System.nanoTime() - started) / 1e9,
      done
    )
  }
}

object FeedProgress {
  private val mapper = new ObjectMapper()

  /** @param trainNumber 1 for the cluster's first train() call, 2 for the next, ...
   *  @param epoch       the epoch being fed (1-based; the last one once `done`)
   *  @param rowsFed     rows that reached the nodes, all epochs so far
   *  @param rowsTotal   rows all `epochs` feed */
  final case class Snapshot(trainNumber: Int, epoch: Int, epochs: Int, rowsFed: Long,
      rowsTotal: Long, seconds: Double, done: Boolean) {
    def rowsPerSecond: Double = if (seconds > 0) rowsFed / seconds else 0.0

    def etaSeconds: Option[Double] =
      if (done) Some(0.0)
      else if (rowsFed > 0) Some((rowsTotal - rowsFed) / rowsPerSecond)
      else None

    /** One log line: "epoch 2/3: 90,000 of 180,000 rows fed (50%), 31,000 rows/s, ETA 3 s". */
    def describe: String = {
      val percent = if (rowsTotal > 0) 100 * rowsFed / rowsTotal else 100
      val eta = etaSeconds.fold("")(s => f", ETA ${s}%.0f s")
      f"epoch $epoch/$epochs: $rowsFed%,d of $rowsTotal%,d rows fed ($percent%d%%), " +
        f"$rowsPerSecond%,.0f rows/s" + (if (done) f", done in $seconds%.1f s" else eta)
    }

    /** The Python API's form: snake_case names. */
    def toJson: String = {
      val m = new java.util.LinkedHashMap[String, Any]()
      m.put("train", trainNumber)
      m.put("epoch", epoch)
      m.put("epochs", epochs)
      m.put("rows_fed", rowsFed)
      m.put("rows_total", rowsTotal)
      m.put("seconds", seconds)
      m.put("rows_per_second", rowsPerSecond)
      m.put("eta_seconds", etaSeconds.map(Double.box).orNull)
      m.put("done", done)
      m.put("text", describe)
      mapper.writeValueAsString(m)
    }
  }

  /** For feeds nobody watches (tests of the feed alone). */
  def untracked(rowsPerEpoch: Long, epochs: Int): FeedProgress =
    new FeedProgress(0, rowsPerEpoch, epochs)
}
