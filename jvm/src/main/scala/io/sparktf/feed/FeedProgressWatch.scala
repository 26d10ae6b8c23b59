package io.sparktf.feed

import java.util.concurrent.{Executors, ScheduledExecutorService, TimeUnit}

import scala.util.Try

import org.slf4j.LoggerFactory

import io.sparktf.cluster.NodeInfo
import io.sparktf.rpc.{ClusterSecret, NodeChannelFactory, NodeControlClient}

/** While a feed runs, asks the fed nodes every `pollSeconds` how many rows they have received
 *  (`NodeControl.GetStatus`) and moves `progress` by what arrived since the epoch began; logs
 *  the progress every `logSeconds` and at each epoch's end. Off (`enabled = false`) it polls and
 *  logs nothing: the epochs still move `progress`.
 *  {{{
 *  val watch = new FeedProgressWatch("c1", fed, secret, channels, progress, enabled = true)
 *  try { watch.epochStarted(); runEpoch(); watch.epochFed(rows) } finally watch.close()
 *  }}}
 */
final class FeedProgressWatch(clusterId: String, fed: IndexedSeq[NodeInfo],
    secret: ClusterSecret, channels: NodeChannelFactory, progress: FeedProgress,
    enabled: Boolean, pollSeconds: Double = FeedProgressWatch.PollSeconds,
    logSeconds: Double = FeedProgressWatch.LogSeconds) extends AutoCloseable {
  private val log = LoggerFactory.getLogger(classOf[FeedProgressWatch])
  private val clients = fed.map(n => new NodeControlClient(n, secret, channels))
  @volatile private var baseline = 0L
  @volatile private var lastLog = System.nanoTime()

  private val poller: Option[ScheduledExecutorService] = if (!enabled) None
  else {
    val p = Executors.newSingleThreadScheduledExecutor { r =>
      val t = new Thread(r, s"sparktf-feed-progress-$clusterId")
      t.setDaemon(true)
      t
    }
    val ms = (pollSeconds * 1000).toLong
    p.scheduleWithFixedDelay(() => poll(), ms, ms, TimeUnit.MILLISECONDS)
    Some(p)
  }

  /** Rows every fed node received so far; a node that does not answer counts as none more. */
  private def received(): Option[Long] = {
    val counts = clients.map(c =>
      Try(c.status(FeedProgressWatch.StatusTimeoutSeconds)).toOption
        .flatten.map(_.getRowsReceived))
    if (counts.forall(_.isDefined)) Some(counts.flatten.sum) else None
  }

  private def poll(): Unit = Try {
    received().foreach(r => progress.rowsInEpoch(r - baseline))
    if ((System.nanoTime() - lastLog) / 1e9 >= logSeconds) {
      lastLog = System.nanoTime()
      log.info(s"sparktf cluster $clusterId: ${progress.snapshot.describe}")
    }
  }

  def epochStarted(): Unit = {
    if (enabled) baseline = received().getOrElse(baseline)
    progress.epochStarted()
  }

  def epochFed(rows: Long): Unit = {
    progress.epochFed(rows)
    if (enabled) {
      // The counts of the next epoch start from here (a node that did not answer at its start).
      baseline += rows
      lastLog = System.nanoTime()
      log.info(s"sparktf cluster $clusterId: ${progress.snapshot.describe}")
    }
  }

  override def close(): Unit = poller.foreach { p =>
    p.shutdownNow()
    p.awaitTermination(FeedProgressWatch.StatusTimeoutSeconds.toLong + 1, TimeUnit.SECONDS)
  }
}

object FeedProgressWatch {
  val PollSeconds = 0.5
  val LogSeconds = 10.0
  private val StatusTimeoutSeconds = 2.0
}
