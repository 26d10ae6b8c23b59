package io.sparktf.feed

import java.util.concurrent.{CountDownLatch, TimeUnit}
import java.util.concurrent.locks.ReentrantLock

import io.grpc.Status
import io.grpc.stub.{ClientCallStreamObserver, ClientResponseObserver}
import org.apache.spark.sql.catalyst.InternalRow

import io.sparktf.SparkTFException
import io.sparktf.cluster.NodeInfo
import io.sparktf.proto.v1.{DataFeedGrpc, FeedAck, FeedMessage, FeedStart, PartitionKey}
import io.sparktf.proto.v1.{FeedPlan => PlanMessage}
import io.sparktf.rpc.{ClusterSecret, NodeChannels}

/** Streams one partition to one node over a client-streaming `DataFeed.Feed` call and checks
 *  that the node took every row.
 *
 *  Exactly once: `BeginPartition` first tells the node this attempt now owns the partition and
 *  returns how many leading rows earlier attempts delivered; those are skipped (Spark recomputes
 *  a partition in the same order), so a retried task never hands the node a row twice.
 *
 *  Backpressure: a batch is sent only when gRPC flow control says the stream is ready; the node
 *  stops granting credit while its bounded queue is full. A node that takes nothing for
 *  `idleTimeoutSeconds` fails the task instead of hanging it.
 *  {{{
 *  new PartitionFeeder(node, secret, clusterId, feedId, columns, plan, epoch, partition, attempt)
 *    .feed(rows)   // FeedResult(rowsSent = rowsReceived = rows in the partition)
 *  }}}
 */
final class PartitionFeeder(
    node: NodeInfo,
    secret: ClusterSecret,
    clusterId: String,
    feedId: String,
    columns: IndexedSeq[FeedColumn],
    plan: PlanMessage,
    epoch: Int,
    partition: Int,
    attempt: Int,
    idleTimeoutSeconds: Double = 600.0) {

  private val lock = new ReentrantLock()
  private val ready = lock.newCondition()
  private val done = new CountDownLatch(1)
  @volatile private var ack: FeedAck = _
  @volatile private var failure: Throwable = _

  def feed(rows: Iterator[InternalRow]): FeedResult = {
    val started = System.nanoTime()
    if (!rows.hasNext) {
      return FeedResult(partition, epoch, node.barrierIndex, 0, 0, 0, terminated = false, 0.0)
    }
    val channel = NodeChannels.get(node.host, node.port, secret)
    val progress = try DataFeedGrpc.newBlockingStub(channel)
      .withDeadlineAfter(60, TimeUnit.SECONDS)
      .beginPartition(PartitionKey.newBuilder().setClusterId(clusterId).setFeedId(feedId)
        .setEpoch(epoch).setPartition(partition).setAttempt(attempt).build())
      catch { case e: io.grpc.StatusRuntimeException => throw feedFailed(e) }
    val skipped = progress.getRowsTaken
    if (progress.getComplete) {
      return FeedResult(partition, epoch, node.barrierIndex, skipped, 0, 0, terminated = false, 0.0)
    }
    var toSkip = skipped
    while (toSkip > 0 && rows.hasNext) { rows.next(); toSkip -= 1 }
    if (toSkip > 0) {
      throw new SparkTFException(s"partition $partition has fewer rows on attempt $attempt than " +
        s"the $skipped an earlier attempt delivered; sparktf needs partitions recomputed in the " +
        "same order (cache or checkpoint the DataFrame before train())")
    }
    if (!rows.hasNext) {
      return FeedResult(partition, epoch, node.barrierIndex, skipped, 0, 0, terminated = false, 0.0)
    }
    val encoder = new ColumnBatchEncoder(columns, partition)
    val stub = DataFeedGrpc.newStub(channel)
    var requests: ClientCallStreamObserver[FeedMessage] = null
    val observer = new ClientResponseObserver[FeedMessage, FeedAck] {
      override def beforeStart(s: ClientCallStreamObserver[FeedMessage]): Unit = {
        requests = s
        s.setOnReadyHandler(() => signalReady())
      }
      override def onNext(value: FeedAck): Unit = ack = value
      override def onError(t: Throwable): Unit = { failure = t; done.countDown(); signalReady() }
      override def onCompleted(): Unit = { done.countDown(); signalReady() }
    }
    stub.feed(observer)
    var sent = 0L
    var startSent = false
    try {
      while (rows.hasNext && done.getCount > 0) {
        encoder.add(rows.next())
        if (encoder.isFull || !rows.hasNext) {
          if (!startSent) {
            send(requests, FeedMessage.newBuilder().setStart(start(encoder)).build())
            startSent = true
          }
          val n = encoder.rows
          send(requests, FeedMessage.newBuilder().setBatch(encoder.flush()).build())
          sent += n
        }
      }
      if (done.getCount > 0) requests.onCompleted()
      if (!done.await((idleTimeoutSeconds * 1000).toLong, TimeUnit.MILLISECONDS)) {
        requests.cancel("no acknowledgement", null)
        throw new SparkTFException(s"node ${node.describe} did not acknowledge partition " +
          s"$partition within $idleTimeoutSeconds s after the last batch; is its program stuck?")
      }
    } catch {
      case e: Throwable =>
        // Whatever failed (the node, or computing the partition), end the call: the node then
        // frees the stream and keeps exactly the rows it took, for a retry to continue from.
        if (requests != null) requests.cancel(s"feed task failed: ${e.getMessage}", e)
        throw e
    }
    if (failure != null) throw feedFailed(failure)
    if (ack == null) throw new SparkTFException(s"node ${node.describe} closed the feed of " +
      s"partition $partition without an acknowledgement")
    val received = ack.getRowsReceived
    if (!ack.getTerminated && received != sent) {
      throw new SparkTFException(s"node ${node.describe} acknowledged $received rows of " +
        s"partition $partition, but the task sent $sent: rows were lost on the way")
    }
    FeedResult(partition, epoch, node.barrierIndex, skipped, sent, received, ack.getTerminated,
      (System.nanoTime() - started) / 1e9)
  }

  private def start(encoder: ColumnBatchEncoder): FeedStart = FeedStart.newBuilder()
    .setClusterId(clusterId).setFeedId(feedId).setEpoch(epoch).setPartition(partition)
    .setAttempt(attempt).setSchema(encoder.schema.toBuilder.setPlan(plan)).build()

  private def signalReady(): Unit = {
    lock.lock()
    try ready.signalAll() finally lock.unlock()
  }

  /** Sends once flow control allows; gives up after `idleTimeoutSeconds` without credit. */
  private def send(requests: ClientCallStreamObserver[FeedMessage], msg: FeedMessage): Unit = {
    val deadline = System.nanoTime() + (idleTimeoutSeconds * 1e9).toLong
    lock.lock()
    try {
      while (!requests.isReady && done.getCount > 0) {
        val left = deadline - System.nanoTime()
        if (left <= 0) {
          throw new SparkTFException(s"node ${node.describe} took no data for " +
            s"$idleTimeoutSeconds s while partition $partition waited to send; its program may " +
            "have stopped reading the feed")
        }
        ready.await(math.min(left, 1000000000L), TimeUnit.NANOSECONDS)
      }
    } finally lock.unlock()
    if (done.getCount > 0) requests.onNext(msg)
  }

  private def feedFailed(t: Throwable): SparkTFException = {
    val status = Status.fromThrowable(t)
    val what = status.getCode match {
      case Status.Code.UNAVAILABLE => "is unreachable (did its process die?)"
      case Status.Code.UNAUTHENTICATED => "refused the cluster secret"
      case _ => s"failed the feed (${status.getCode})"
    }
    new SparkTFException(s"node ${node.describe} $what while taking partition $partition: " +
      Option(status.getDescription).getOrElse(""), t)
  }
}
