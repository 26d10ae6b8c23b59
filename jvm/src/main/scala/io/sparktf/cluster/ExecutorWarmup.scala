package io.sparktf.cluster

import scala.concurrent.Await
import scala.concurrent.duration._
import scala.util.Try
import scala.util.control.NonFatal

import org.apache.spark.SparkContext
import org.apache.spark.sparktf.{ExecutorDirectory, ExecutorIdentity}
import org.slf4j.LoggerFactory

import io.sparktf.JobDescription
import io.sparktf.feed.NodePreference
import io.sparktf.rpc.{ChannelWarmup, ClusterSecret}

/** At cluster start, the executors that host no fed node (spare executors, a ps's, an
 *  evaluator's) open their channels to the nodes their feed tasks send to first (those on
 *  their host, else another: see `feed.NodePreference`), in one short job of a task per such
 *  executor, so their first feed task pays no gRPC set-up (0.3-0.7 s each; the executors that
 *  host a node did theirs in the reservation). Best effort and bounded: a task Spark places
 *  elsewhere warms that executor instead, and a job that outlasts `timeoutSeconds` (10 s) is
 *  cancelled; neither fails the start. It costs the start what it saves the first feed: on 2
 *  cores, 10 executors feeding 2 nodes started in 13 s instead of 6.
 *  {{{
 *  ExecutorWarmup.run(sc, clusterId, nodes, secret)   // executors warmed
 *  }}}
 */
object ExecutorWarmup {
  private val log = LoggerFactory.getLogger(getClass)

  /** Nodes a task on an executor without a fed node warms: one other host's node is enough to
   *  load the classes. */
  private val OtherHostNodes = 1

  def run(sc: SparkContext, clusterId: String, nodes: Seq[NodeInfo], secret: ClusterSecret,
      timeoutSeconds: Double = 10.0): Int = {
    val fed = nodes.filter(_.role.takesData).toIndexedSeq
    val spare = ExecutorDirectory.executors(sc).filterNot { case (id, _) =>
      fed.exists(_.executorId == id)
    }
    if (fed.isEmpty || spare.isEmpty) return 0
    val job = JobDescription.during(sc,
      s"sparktf cluster $clusterId: open the feed's channels on ${spare.size} executors") {
      sc.makeRDD(spare.map { case (id, host) => (id, Seq(ExecutorDirectory.location(host, id))) })
        .mapPartitionsWithIndex { (p, _) =>
          val host = ExecutorIdentity.host
          // The feed's own preference: this host's nodes first, then the other hosts'.
          val order = NodePreference.order(fed, ExecutorIdentity.executorId, host, p).map(fed)
          val local = order.takeWhile(_.host == host)
          val targets = if (local.nonEmpty) local else order.take(OtherHostNodes)
          Iterator(ChannelWarmup.warm(targets, secret).size)
        }.collectAsync()
    }
    try {
      Await.result(job, timeoutSeconds.seconds)
      spare.size
    } catch {
      case NonFatal(e) =>
        job.cancel()
        Try(Await.ready(job, 10.seconds))
        log.info(s"sparktf cluster $clusterId: opening the feed's channels on the executors " +
          s"without a node did not end ($e); the first feed opens them")
        0
    }
  }
}
