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
  private val ledger = new ConcurrentHashMap[(String, Int, Int), java.lang.Long]()
  private val complete = ConcurrentHashMap.newKeySet[(String, Int, Int)]()

  def rowsReceived(feedId: String): Long = received.getOrDefault(feedId, 0L)
  def totalRows: Long = received.values().asScala.map(_.longValue).sum

  /** An earlier attempt of (feed, epoch, partition) delivered `rows`. */
  def delivered(feedId: String, epoch: Int, partition: Int, rows: Long,
      whole: Boolean = false): Unit = {
    ledger.put((feedId, epoch, partition), rows)
    if (whole) complete.add((feedId, epoch, partition))
  }

  private val feed = new DataFeedGrpc.DataFeedImplBase {
    override def beginPartition(k: PartitionKey, out: StreamObserver[PartitionProgress]): Unit = {
      if (state == NodeState.FAILED) return out.onError(failedStatus.asException())
      val key = (k.getFeedId, k.getEpoch, k.getPartition)
      out.onNext(PartitionProgress.newBuilder().setRowsTaken(ledger.getOrDefault(key, 0L))
          .setComplete(complete.contains(key)).build())
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
            ledger.merge(key, batch.getNumRows.toLong, (a, b) => a + b)
            if (totalRows >= failAfterRows) {
              ended = true
              state = NodeState.FAILED
              error = s"Traceback (most recent call last):\nValueError: boom on ${role.address}"
              out.onError(failedStatus.asException())
            } else if (breakFirstAttemptOf.contains(key._3) && attempt == 0) {
              ended = true
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
            complete.add(key)
            ack(terminatedNow = false)
          }
        }
        override def onError(t: Throwable): Unit = ()
        override def onCompleted(): Unit = if (!ended) ack(terminatedNow = closed)
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
