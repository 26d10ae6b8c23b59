package io.sparktf.feed

import java.nio.ByteOrder
import java.util.UUID
import java.util.concurrent.{ConcurrentHashMap, ConcurrentLinkedQueue}
import java.util.concurrent.atomic.AtomicInteger

import scala.jdk.CollectionConverters._

import io.grpc.{Channel, ManagedChannel, Server, Status}
import io.grpc.inprocess.{InProcessChannelBuilder, InProcessServerBuilder}
import io.grpc.stub.{ServerCallStreamObserver, StreamObserver}

import io.sparktf.cluster.{NodeInfo, NodeRole}
import io.sparktf.proto.v1._
import io.sparktf.rpc.{ClusterSecret, NodeChannelFactory}

/** An in-process stand-in for one node's DataFeed and NodeControl services, as the node's
 *  servers behave: a ledger of the rows each partition delivered (so a retry resumes after
 *  them), acknowledgements, EndFeed's counts. Knobs make it misbehave the ways a real program
 *  does: it terminates, stops reading, fails, loses a row, returns without reading.
 *  Rows are expected to carry a `long` column first; its values are kept in [[ids]].
 *  {{{
 *  val node = FakeNode(NodeRole("chief", 0), barrierIndex = 0)
 *  node.takeAtMost = 100                  // the "program" calls terminate() after 100 rows
 *  new NodeStream(node.info, secret, ..., channels = FakeNodes(node))
 *  }}}
 */
final class FakeNode(role: NodeRole, barrierIndex: Int) {
  val name: String = s"fake-node-${UUID.randomUUID()}"
  val info: NodeInfo = NodeInfo(barrierIndex, role, s"exec-$barrierIndex", "fake-host", 0, 0,
    FakeNodes.nextPid())

  /** The program's state, as GetStatus and EndFeed tell it. */
  @volatile var state: NodeState = NodeState.RUNNING
  @volatile var error: String = ""

  /** After this many rows over all feeds the program calls terminate(). */
  @volatile var takeAtMost: Long = Long.MaxValue

  /** The program raises once this many rows arrived: the stream fails with its traceback. */
  @volatile var failAfterRows: Long = Long.MaxValue

  /** The program reads nothing: no message after FeedStart is requested (flow control). */
  @volatile var readsNothing: Boolean = false

  /** The node acknowledges one row fewer than it received. */
  @volatile var losesARow: Boolean = false

  /** The stream of attempt 0 of this partition breaks after its first batch (the task fails). */
  @volatile var breakFirstAttemptOf: Option[Int] = None

  /** After this many rows the program returns without terminate(): the queue closes. */
  @volatile var returnsAfterRows: Long = Long.MaxValue

  /** Rows of a feed EndFeed says the program took (default: every row received). */
  @volatile var programTook: Option[Long] = None

  /** Rows EndFeed counts beyond those received (a node that lost track of its rows). */
  @volatile var miscounts: Long = 0L

  val ids = new ConcurrentLinkedQueue[java.lang.Long]()
  val endFeeds = new AtomicInteger()
  val stops = new AtomicInteger()
  @volatile private var terminated = false
  @volatile private var closed = false
  private val received = new ConcurrentHashMap[String, java.lang.Long]()
  private val ledger = new RangeLedger

  /** The node's queue has no room: Reserve grants nothing. */
  @volatile var noRoom: Boolean = false

  def rowsReceived(feedId: String): Long = received.getOrDefault(feedId, 0L)
  def totalRows: Long = received.values().asScala.map(_.longValue).sum

  /** `rows` more rows of `feedId` reached the node's queue, as a feed stream would count them. */
  def receive(feedId: String, rows: Long): Unit =
    received.merge(feedId, rows, (a, b) => java.lang.Long.valueOf(a + b))

  /** An earlier attempt (0) of (feed, epoch, partition) delivered its first `rows` rows. */
  def delivered(feedId: String, epoch: Int, partition: Int, rows: Long): Unit =
    ledger.delivered((feedId, epoch, partition), rows)

  private val feed = new DataFeedGrpc.DataFeedImplBase {
    override def beginPartition(k: PartitionKey, out: StreamObserver[PartitionProgress]): Unit = {
      if (state == NodeState.FAILED) return out.onError(failedStatus.asException())
      val taken = ledger.begin((k.getFeedId, k.getEpoch, k.getPartition), k.getAttempt)
      out.onNext(PartitionProgress.newBuilder().setRowsTaken(taken.map(_._2).sum)
          .addAllTaken(taken.map { case (start, rows) =>
              RowRange.newBuilder().setStart(start).setRows(rows).build()
            }.asJava).build())
      out.onCompleted()
    }

    override def reserve(r: ReserveRequest, out: StreamObserver[ReserveReply]): Unit = {
      if (state == NodeState.FAILED) return out.onError(failedStatus.asException())
      val k = r.getKey
      val (granted, left, outstanding) = ledger.reserve((k.getFeedId, k.getEpoch,
          k.getPartition), k.getAttempt, r.getStart, if (noRoom) 0L else r.getRows, r.getNodeRows)
      out.onNext(ReserveReply.newBuilder().setGranted(granted).setQuotaLeft(left)
          .setOutstanding(outstanding).setQueueFree(if (noRoom) 0 else 16).setQueueCapacity(16)
          .setTerminated(closed).build())
      out.onCompleted()
    }

    override def feed(out: StreamObserver[FeedAck]): StreamObserver[FeedMessage] = {
      val call = out.asInstanceOf[ServerCallStreamObserver[FeedAck]]
      if (readsNothing) call.disableAutoRequest()
      new StreamObserver[FeedMessage] {
        private var key: (String, Int, Int) = _
        private var attempt = 0
        private var rows = 0L
        private var batches = 0
        private var ended = false

        private def ack(terminatedNow: Boolean): Unit = {
          ended = true
          // The stream ends: what it reserved and did not send returns to the quota.
          if (key != null) ledger.release(key, attempt)
          out.onNext(FeedAck.newBuilder().setRowsReceived(if (losesARow) rows - 1 else rows)
              .setTerminated(terminatedNow).build())
          out.onCompleted()
        }

        override def onNext(m: FeedMessage): Unit = if (!ended) {
          if (m.hasStart) {
            val s = m.getStart
            key = (s.getFeedId, s.getEpoch, s.getPartition)
            attempt = s.getAttempt
            if (closed) ack(terminatedNow = true)
          } else if (m.hasBatch) {
            val batch = m.getBatch
            val values = batch.getColumns(0).getValues.asReadOnlyByteBuffer()
              .order(ByteOrder.LITTLE_ENDIAN)
            (0 until batch.getNumRows).foreach(i => ids.add(values.getLong(8 * i)))
            rows += batch.getNumRows
            batches += 1
            received.merge(key._1, batch.getNumRows.toLong, (a, b) => a + b)
            ledger.admit(key, attempt, batch.getNumRows.toLong)
            if (totalRows >= failAfterRows) {
              ended = true
              state = NodeState.FAILED
              error = s"Traceback (most recent call last):\nValueError: boom on ${role.address}"
              ledger.release(key, attempt)
              out.onError(failedStatus.asException())
            } else if (breakFirstAttemptOf.contains(key._3) && attempt == 0) {
              ended = true
              ledger.release(key, attempt)
              out.onError(Status.INTERNAL.withDescription("the stream broke").asException())
            } else if (totalRows >= takeAtMost) {
              terminated = true
              closed = true
              ack(terminatedNow = true)
            } else if (totalRows >= returnsAfterRows) {
              state = NodeState.FINISHED
              closed = true
              ack(terminatedNow = true)
            }
          } else if (m.hasFinish) {
            ack(terminatedNow = false)
          }
        }
        override def onError(t: Throwable): Unit = if (key != null) ledger.release(key, attempt)
        override def onCompleted(): Unit = {
          if (key != null) ledger.release(key, attempt)
          if (!ended) ack(terminatedNow = closed)
        }
      }.tap(_ => if (readsNothing) call.request(1)) // the FeedStart, and nothing after it
    }
  }

  private val control = new NodeControlGrpc.NodeControlImplBase {
    override def getStatus(r: StatusRequest, out: StreamObserver[NodeStatus]): Unit =
      if (stops.get > 0) out.onError(Status.UNAVAILABLE.withDescription("stopped").asException())
      else {
        out.onNext(NodeStatus.newBuilder().setState(state).setError(error)
            .setRowsReceived(totalRows).build())
        out.onCompleted()
      }

    override def endFeed(r: EndFeedRequest, out: StreamObserver[EndFeedReply]): Unit = {
      endFeeds.incrementAndGet()
      val rows = rowsReceived(r.getFeedId) + miscounts
      if (state == NodeState.FAILED) out.onError(failedStatus.asException())
      else if (r.getExpectedRows >= 0 && rows != r.getExpectedRows) {
        out.onError(Status.DATA_LOSS.withDescription(s"feed '${r.getFeedId}': node " +
            s"${role.address} received $rows rows, the feed tasks saw ${r.getExpectedRows} " +
            "acknowledged").asException())
      } else {
        out.onNext(EndFeedReply.newBuilder().setRowsReceived(rows)
            .setRowsTaken(programTook.getOrElse(rows)).setProgramState(state)
            .setTerminated(terminated).build())
        out.onCompleted()
      }
    }

    override def stop(r: StopRequest, out: StreamObserver[StopReply]): Unit = {
      stops.incrementAndGet()
      out.onNext(StopReply.getDefaultInstance)
      out.onCompleted()
    }
  }

  private def failedStatus: Status = Status.FAILED_PRECONDITION
    .withDescription(s"node ${role.address} failed: its program raised:\n$error")

  private val server: Server = InProcessServerBuilder.forName(name).addService(feed)
    .addService(control).build().start()

  /** The node's process dies: every call fails as unreachable. */
  def kill(): Unit = server.shutdownNow()

  def close(): Unit = server.shutdownNow()

  private implicit class Tap[A](a: A) {
    def tap(f: A => Unit): A = { f(a); a }
  }
}

/** The ranges a fake node granted and took of each partition, and its quota per epoch: the
 *  node's partition_ledger.py in brief. */
final class RangeLedger {
  private final class Range(val attempt: Int, val start: Long, var granted: Long,
      var taken: Long = 0L)
  private val ranges = scala.collection.mutable.Map[(String, Int, Int), Vector[Range]]()
  private val quotas = scala.collection.mutable.Map[(String, Int), (Long, Long)]() // rows, granted

  def delivered(key: (String, Int, Int), rows: Long): Unit = synchronized {
    ranges(key) = ranges.getOrElse(key, Vector()) :+ new Range(0, 0L, rows, rows)
  }

  def begin(key: (String, Int, Int), attempt: Int): Seq[(Long, Long)] = synchronized {
    trim(key, _.attempt < attempt)
    ranges.getOrElse(key, Vector()).map(r => (r.start, r.taken))
  }

  def reserve(key: (String, Int, Int), attempt: Int, start: Long, rows: Long,
      nodeRows: Long): (Long, Long, Long) = synchronized {
    val (quota, granted) = quotas.getOrElse((key._1, key._2), (nodeRows, 0L))
    val g = math.max(0L, math.min(rows, quota - granted))
    if (g > 0) ranges(key) = ranges.getOrElse(key, Vector()) :+ new Range(attempt, start, g)
    quotas((key._1, key._2)) = (quota, granted + g)
    val open = ranges.valuesIterator.flatten.map(r => r.granted - r.taken).sum
    (g, quota - granted - g, open)
  }

  def admit(key: (String, Int, Int), attempt: Int, rows: Long): Unit = synchronized {
    var left = rows
    ranges.getOrElse(key, Vector()).filter(_.attempt == attempt).foreach { r =>
      val n = math.min(left, r.granted - r.taken)
      r.taken += n
      left -= n
    }
  }

  def release(key: (String, Int, Int), attempt: Int): Unit = synchronized {
    trim(key, _.attempt == attempt)
  }

  private def trim(key: (String, Int, Int), which: Range => Boolean): Unit = {
    ranges.getOrElse(key, Vector()).filter(which).foreach { r =>
      quotas.get((key._1, key._2)).foreach { case (quota, granted) =>
        quotas((key._1, key._2)) = (quota, granted - (r.granted - r.taken))
      }
      r.granted = r.taken
    }
    // As the node's ledger: a range with no row left is forgotten.
    ranges.get(key).foreach(rs => ranges(key) = rs.filter(_.granted > 0))
  }
}

/** Channels to [[FakeNode]]s by their (unique) pid; serializable, so Spark tasks of a `local`
 *  session (the same JVM) reach the fakes as feed tasks reach nodes. */
final case class FakeNodes(names: Map[Long, String]) extends NodeChannelFactory {
  override def channel(node: NodeInfo, secret: ClusterSecret): Channel =
    FakeNodes.channels.computeIfAbsent(names(node.pid),
      n => InProcessChannelBuilder.forName(n).build())

  override def closeAll(secret: ClusterSecret): Unit = ()
}

object FakeNodes {
  private val channels = new ConcurrentHashMap[String, ManagedChannel]()
  private val pids = new AtomicInteger(1000)

  def nextPid(): Long = pids.incrementAndGet().toLong

  def apply(nodes: FakeNode*): FakeNodes = FakeNodes(nodes.map(n => n.info.pid -> n.name).toMap)
}
