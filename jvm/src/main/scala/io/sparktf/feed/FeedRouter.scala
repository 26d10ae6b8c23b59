package io.sparktf.feed

import java.util.concurrent.locks.LockSupport

import scala.collection.mutable

import io.sparktf.SparkTFException

/** Picks the node for each range of a feed task's rows, and reserves the range there.
 *
 *  A task feeds its first choice ([[NodePreference]]: the node on its own executor, else one on
 *  its host) while that node grants rows. It moves on, in preference order, when the node's
 *  quota for the epoch is used up (the remainder crosses the network), or when the node has had
 *  no room for `divertAfterNanos` while another node has half its queue or more free. The task
 *  goes back to its first choice for its next partition, so most rows stay local.
 *  {{{
 *  val router = new FeedRouter(NodePreference.order(fed, executorId, host, p), desk, 600.0)
 *  router.reserve(start = row, want = 1024) match {
 *    case FeedRouter.Granted(node, rows) => // send rows [row, row + rows) to fed(node)
 *    case FeedRouter.Terminated => // a program called terminate(): stop feeding
 *  }
 *  }}}
 *
 *  ==Why synchronous training cannot deadlock==
 *  Under MultiWorkerMirroredStrategy a node's program takes a step only when every node's does;
 *  queues are bounded, and a node's program that waits at a collective for a peer stops taking
 *  rows. The feed still always progresses, for four reasons:
 *
 *  1. A node grants rows only while its queue, counting the rows granted and not yet sent, has
 *     room (`DataFeed.Reserve`), and queues granted rows without waiting for its program. So a
 *     task never waits on a node's program once it holds a grant: its stream drains, and its
 *     acknowledgement comes, in network time. The only wait of a task is for a grant, and
 *     before it waits it sends every row it was granted (`beforeWait`): rows held back in a
 *     half-full batch would keep the room they were granted, and the node's program might
 *     wait for exactly those rows. A lease asked for ahead ([[PartitionFeeder]]) is sent, or
 *     returned when the partition ends: a task waits for a grant only when it holds none.
 *  2. Quotas are exact and known up front: node k takes T / n rows (+1 for the first T % n),
 *     so every program cuts its share into the same number of steps, and none waits for a row
 *     that no task will send it.
 *  3. Suppose every running task waits for a grant. By (1) no grant is in flight, so every row
 *     granted is in a node's queue. Every node whose queue is full waits, through collectives,
 *     for some node Y whose program waits for rows; Y's queue is empty, and Y has quota left
 *     (else Y holds its whole share and would step). A waiting task that has had no grant for
 *     `divertAfterNanos` asks another node in turn, so within n rounds it asks Y, which has
 *     room and quota: Y is granted rows. If no running task has rows left, the tasks end
 *     (nothing keeps them, by (1)) and Spark runs the pending partitions in their slots.
 *  4. A failed stream returns what it reserved and did not send to the node's quota, and a
 *     retried task is told what the nodes took: a failure never strands part of a quota.
 *
 *  So some node takes rows within bounded time until every quota is met, whatever the partition
 *  sizes and wherever Spark runs each task. A task that cannot get a grant for
 *  `timeoutSeconds` (every program stopped reading) fails with the nodes' state.
 *
 *  @param order            node indexes, most preferred first ([[NodePreference.order]])
 *  @param divertAfterNanos how long the chosen node may lack room before a roomier one is used
 */
final class FeedRouter(order: IndexedSeq[Int], desk: QuotaDesk, timeoutSeconds: Double,
    describe: Int => String = i => s"node $i", divertAfterNanos: Long = 200L * 1000 * 1000,
    now: () => Long = () => System.nanoTime(),
    pause: Long => Unit = nanos => LockSupport.parkNanos(nanos)) {
  require(order.nonEmpty, "a feed needs at least one fed node")

  import FeedRouter.MaxPauseNanos

  private var current = order.head

  /** Nodes whose quota for the epoch was used up when last asked. */
  private val spent = mutable.Set[Int]()
  private var nextProbe = 1

  /** The node the next range goes to, unless it refuses. */
  def target: Int = current

  /** Reserves up to `want` rows from partition row `start` on some node, sent in batches of
   *  `batchRows` (a lease of several batches; 0: one batch); waits while no node can take
   *  rows, after calling `beforeWait` once: the caller sends the rows it holds of earlier
   *  grants then (a node counts them as room taken until they come). */
  def reserve(start: Long, want: Long, beforeWait: () => Unit = () => (),
      batchRows: Long = 0L): FeedRouter.Route = {
    var flushed = false
    val began = now()
    var fullSince = -1L
    var wait = 1000000L // 1 ms, doubling: a step of training frees room in milliseconds
    val last = mutable.Map[Int, Grant]()
    while (true) {
      val g = desk.reserve(current, start, want, batchRows)
      last(current) = g
      if (g.terminated) return FeedRouter.Terminated
      if (g.granted > 0) return FeedRouter.Granted(current, g.granted)
      if (g.quotaLeft == 0) {
        spent += current
        order.find(i => !spent.contains(i)) match {
          case Some(next) => current = next; fullSince = -1L
          case None =>
            // Every quota is granted: rows come back only from reservations not sent yet.
            if (order.forall(i => last.get(i).exists(_.outstanding == 0))) {
              throw new SparkTFException(s"the partition starting at row $start has more rows " +
                "than were counted when the feed was planned (every node took its whole " +
                "share): the DataFrame is not deterministic; cache or checkpoint it before " +
                "train()")
            }
            if (!flushed) { beforeWait(); flushed = true }
            spent.clear()
            current = order.head
            pause(wait)
            wait = math.min(wait * 2, MaxPauseNanos)
        }
      } else {
        if (!flushed) { beforeWait(); flushed = true }
        val t = now()
        if (fullSince < 0) fullSince = t
        if (t - fullSince >= divertAfterNanos) {
          roomier().foreach { i => current = i; fullSince = -1L }
        }
        if (fullSince >= 0) {
          pause(wait)
          wait = math.min(wait * 2, MaxPauseNanos)
        }
      }
      if (now() - began > (timeoutSeconds * 1e9).toLong) {
        throw new SparkTFException(s"no fed node granted rows for $timeoutSeconds s " +
          s"(${last.map { case (i, g) =>
              s"${describe(i)}: ${g.queueFree} of " +
                s"${g.queueCapacity} chunks free, ${g.quotaLeft} rows of its quota left"
            }.mkString("; ")}); are the programs reading ctx.get_data_feed()? Raise " +
          "feed_timeout_seconds if a step can take that long")
      }
    }
    throw new IllegalStateException("unreachable")
  }

  /** One other node, in turn, asked how it stands: itself when it is roomy. */
  private def roomier(): Option[Int] = {
    val others = order.filter(i => i != current && !spent.contains(i))
    if (others.isEmpty) return None
    val i = others(nextProbe % others.size)
    nextProbe += 1
    Some(i).filter(desk.reserve(_, 0L, 0L).roomy)
  }
}

object FeedRouter {
  private val MaxPauseNanos = 25L * 1000 * 1000

  sealed trait Route

  /** Rows [start, start + rows) are node `node`'s to take. */
  final case class Granted(node: Int, rows: Long) extends Route

  /** A program called terminate(): feeding stops. */
  case object Terminated extends Route
}
