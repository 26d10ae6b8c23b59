package io.sparktf.feed

import java.util.concurrent.{CountDownLatch, TimeUnit}
import java.util.concurrent.locks.ReentrantLock

import io.grpc.Status
import io.grpc.stub.{ClientCallStreamObserver, ClientResponseObserver}
import org.apache.spark.sql.catalyst.InternalRow

import io.sparktf.SparkTFException
import io.sparktf.cluster.NodeInfo
import io.sparktf.proto.v1.{ColumnBatch, DataFeedGrpc, FeedAck, FeedFinish, FeedMessage, FeedStart}
import io.sparktf.proto.v1.{FeedPlan => PlanMessage}
import io.sparktf.rpc.{ClusterSecret, NodeChannelFactory, NodeChannels}

/** The rows of one partition that go to one node, pushed row by row into a client-streaming
 *  `DataFeed.Feed` call, checked against what the node acknowledges. A node on this machine
 *  gets each batch as a file in its shared-memory directory, named by a `SharedBatch` message
 *  ([[SharedBatchFiles]]); other nodes get the batch itself on the stream.
 *
 *  The rows offered are those of the ranges the task reserved from this node
 *  ([[PartitionFeeder]]), in order: the node counts them against those ranges. Backpressure: a
 *  batch is sent only when gRPC flow control allows (the node set room aside for reserved rows,
 *  so that wait is short); a node that takes nothing for `idleTimeoutSeconds` fails the task
 *  instead of hanging it. The channel comes from `channels` (an in-process one in tests).
 *  {{{
 *  val s = new NodeStream(node, secret, clusterId, feedId, columns, plan, epoch, p, attempt)
 *  reservedRows.foreach(s.offer); val result = s.finish()
 *  }}}
 */
final class NodeStream(
    node: NodeInfo,
    secret: ClusterSecret,
    clusterId: String,
    feedId: String,
    columns: IndexedSeq[FeedColumn],
    plan: PlanMessage,
    epoch: Int,
    partition: Int,
    attempt: Int,
    idleTimeoutSeconds: Double = 600.0,
    channels: NodeChannelFactory = NodeChannels,
    batchRows: Int = ColumnBatchEncoder.DefaultMaxRows) {

  private val lock = new ReentrantLock()
  private val ready = lock.newCondition()
  private val done = new CountDownLatch(1)
  @volatile private var ack: FeedAck = _
  @volatile private var failure: Throwable = _
  private val started = System.nanoTime()
  private val encoder = new ColumnBatchEncoder(columns, partition, maxRows = batchRows)
  private var requests: ClientCallStreamObserver[FeedMessage] = _
  private var shared: Option[SharedBatchFiles] = None
  private var lastBatchRows = 0
  private var lastBatchBytes = 0L
  private var sent = 0L
  private var sentShared = 0L
  private var socketBytes = 0L

  /** True once the node answered early: its program called `terminate()` (or failed). */
  def closedByNode: Boolean = done.getCount == 0

  def offer(row: InternalRow): Unit = {
    if (closedByNode) return
    encoder.add(row)
    if (encoder.isFull) flush()
  }

  /** Sends the rows offered so far: the task moves on to another node. */
  def flushNow(): Unit = if (encoder.rows > 0 && !closedByNode) flush()

  /** Rows that fit one batch, as the rows encoded so far measure them; `fallback` before any. */
  def rowsPerBatch(fallback: Int): Int = {
    val (rows, bytes) = if (encoder.rows > 0) (encoder.rows.toLong, encoder.bytes)
    else (lastBatchRows.toLong, lastBatchBytes)
    if (rows == 0 || bytes == 0) fallback
    else math.max(1L,
      math.min(ColumnBatchEncoder.DefaultMaxRows.toLong,
        ColumnBatchEncoder.DefaultTargetBytes * rows / bytes)).toInt
  }

  /** Sends what is left, closes the stream and checks the node's count. */
  def finish(): FeedResult = {
    if (encoder.rows > 0 && !closedByNode) flush()
    if (requests == null) {
      return FeedResult(partition, epoch, node.barrierIndex, 0, 0, 0, terminated = false, seconds)
    }
    if (!closedByNode) {
      send(FeedMessage.newBuilder().setFinish(FeedFinish.newBuilder().setRows(sent)).build())
      requests.onCompleted()
    }
    if (!done.await((idleTimeoutSeconds * 1000).toLong, TimeUnit.MILLISECONDS)) {
      cancel(new SparkTFException("no acknowledgement"))
      throw new SparkTFException(s"node ${node.describe} did not acknowledge partition " +
        s"$partition within $idleTimeoutSeconds s after the last batch; is its program stuck?")
    }
    shared.foreach(_.discard())
    if (failure != null) throw feedFailed(failure)
    if (ack == null) throw new SparkTFException(s"node ${node.describe} closed the feed of " +
      s"partition $partition without an acknowledgement")
    val received = ack.getRowsReceived
    if (!ack.getTerminated && received != sent) {
      throw new SparkTFException(s"node ${node.describe} acknowledged $received rows of " +
        s"partition $partition, but the task sent $sent: rows were lost on the way")
    }
    // The node takes batches in order and shared ones come first (a stream turns to the socket
    // for good), so the first `received` rows hold the shared rows that arrived.
    FeedResult(partition, epoch, node.barrierIndex, 0, sent, received,
      ack.getTerminated, seconds, math.min(sentShared, received), socketBytes)
  }

  /** Ends the call after a failure: the node frees the stream and keeps exactly the rows it
   *  took, for a retry to continue from. */
  def cancel(cause: Throwable): Unit = {
    if (requests != null && !closedByNode) {
      requests.cancel(s"feed task failed: ${cause.getMessage}", cause)
    }
    shared.foreach(_.discard())
  }

  private def seconds: Double = (System.nanoTime() - started) / 1e9

  private def open(): Unit = {
    val observer = new ClientResponseObserver[FeedMessage, FeedAck] {
      override def beforeStart(s: ClientCallStreamObserver[FeedMessage]): Unit = {
        requests = s
        s.setOnReadyHandler(() => signalReady())
      }
      override def onNext(value: FeedAck): Unit = ack = value
      override def onError(t: Throwable): Unit = { failure = t; done.countDown(); signalReady() }
      override def onCompleted(): Unit = { done.countDown(); signalReady() }
    }
    DataFeedGrpc.newStub(channels.channel(node, secret)).feed(observer)
    shared = SharedBatchFiles.open(node.sharedDir, s"$feedId-e$epoch-p$partition-a$attempt",
      s"node ${node.describe}")
    send(FeedMessage.newBuilder().setStart(FeedStart.newBuilder()
          .setClusterId(clusterId).setFeedId(feedId).setEpoch(epoch).setPartition(partition)
          .setAttempt(attempt).setSchema(encoder.schema.toBuilder.setPlan(plan))).build())
  }

  private def flush(): Unit = {
    if (requests == null) open()
    val n = encoder.rows
    lastBatchRows = n
    lastBatchBytes = encoder.bytes
    val batch = encoder.flush()
    shared.filter(_.usable) match {
      case None => sendOnSocket(batch, n)
      case Some(files) =>
        val deadline = System.nanoTime() + (idleTimeoutSeconds * 1e9).toLong
        if (files.awaitRoom(deadline, () => done.getCount > 0)) {
          files.tryWrite(batch) match {
            case Some(ref) =>
              encoder.recycle() // the batch is in the file now
              if (send(FeedMessage.newBuilder().setSharedBatch(ref).build())) {
                sent += n
                sentShared += n
              }
            case None => sendOnSocket(batch, n)
          }
        } else if (done.getCount > 0) throw tookNoData()
      // else the node ended the stream (terminate() or a failure): finish() reports it
    }
  }

  private def sendOnSocket(batch: ColumnBatch, rows: Int): Unit =
    if (send(FeedMessage.newBuilder().setBatch(batch).build())) {
      sent += rows
      socketBytes += batch.getSerializedSize
    }

  private def tookNoData(): SparkTFException = new SparkTFException(s"node ${node.describe} " +
    s"took no data for $idleTimeoutSeconds s while partition $partition waited to send; its " +
    "program may have stopped reading the feed")

  private def signalReady(): Unit = {
    lock.lock()
    try ready.signalAll()
    finally lock.unlock()
  }

  /** Sends once flow control allows; gives up after `idleTimeoutSeconds` without credit. False
   *  when the node ended the stream first (the message is dropped). */
  private def send(msg: FeedMessage): Boolean = {
    val deadline = System.nanoTime() + (idleTimeoutSeconds * 1e9).toLong
    lock.lock()
    try {
      while (!requests.isReady && done.getCount > 0) {
        val left = deadline - System.nanoTime()
        if (left <= 0) throw tookNoData()
        ready.await(math.min(left, 1000000000L), TimeUnit.NANOSECONDS)
      }
    } finally lock.unlock()
    val open = done.getCount > 0
    if (open) requests.onNext(msg)
    open
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
