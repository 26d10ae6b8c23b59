package io.sparktf.feed

import scala.jdk.CollectionConverters._

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.UnsafeProjection
import org.apache.spark.sql.types.StructType
import org.scalatest.BeforeAndAfterEach
import org.scalatest.funsuite.AnyFunSuite

import io.sparktf.SparkTFException
import io.sparktf.cluster.NodeRole
import io.sparktf.proto.v1.{FeedPlan => PlanMessage, PartitionKey}
import io.sparktf.rpc.ClusterSecret

/** NodeStream (and, for retries, the PartitionFeeder around it) against an in-process
 *  [[FakeNode]]: exactly once over retries, terminate(), a
 *  node that stops reading, one that fails mid-stream, and the acknowledged count. */
class NodeStreamSuite extends AnyFunSuite with BeforeAndAfterEach {
  private val schema = StructType.fromDDL("id long")
  private val columns = FeedColumn.fromSchema(schema, Nil)
  private val secret = ClusterSecret.create("c1", None)
  private var node: FakeNode = _

  override def beforeEach(): Unit = node = new FakeNode(NodeRole("chief", 0), 0)
  override def afterEach(): Unit = node.close()

  private def stream(attempt: Int = 0, idleTimeoutSeconds: Double = 10) = new NodeStream(
    node.info,
    secret,
    "c1",
    "f1",
    columns,
    PlanMessage.getDefaultInstance,
    epoch = 0,
    partition = 0,
    attempt = attempt,
    idleTimeoutSeconds = idleTimeoutSeconds,
    channels = FakeNodes(node),
    batchRows = 100
  )

  private def rows(ids: Range): Iterator[InternalRow] = {
    val project = UnsafeProjection.create(schema)
    ids.iterator.map(i => project(InternalRow(i.toLong)))
  }

  private def feed(s: NodeStream, ids: Range): FeedResult = {
    rows(ids).foreach(s.offer)
    s.finish()
  }

  /** The partition through a [[PartitionFeeder]] with this one node: reservations, a retry's
   *  skipping; its results summed. */
  private def feedPartition(attempt: Int, ids: Range): FeedResult = {
    val key = PartitionKey.newBuilder().setClusterId("c1").setFeedId("f1").setEpoch(0)
      .setPartition(0).setAttempt(attempt).build()
    val desk = new NodeQuotaDesk(IndexedSeq(node.info), n => FakeNodes(node).channel(n, secret),
      key, _ => 1000000L)
    val results = new PartitionFeeder(0, 0, attempt, 1, new FeedRouter(IndexedSeq(0), desk, 10),
      _ => stream(attempt), desk).run(rows(ids))
    FeedResult(0, 0, 0, results.map(_.rowsSkipped).sum, results.map(_.rowsSent).sum,
      results.map(_.rowsReceived).sum, results.exists(_.terminated), 0)
  }

  private def idsAtNode: Seq[Long] = node.ids.asScala.map(_.longValue).toSeq

  test("every row reaches the node once and the acknowledgement matches") {
    val r = feed(stream(), 0 until 1000)
    assert(idsAtNode == (0L until 1000L))
    assert((r.rowsSkipped, r.rowsSent, r.rowsReceived, r.terminated) == (0, 1000, 1000, false))
  }

  test("a retried task skips what an earlier attempt delivered") {
    node.delivered("f1", 0, 0, 300)
    val r = feedPartition(attempt = 1, 0 until 1000)
    assert(idsAtNode == (300L until 1000L), "the retry sent again a row the node holds")
    assert((r.rowsSkipped, r.rowsSent, r.rowsAtNode) == (300, 700, 1000))
  }

  test("a retry of a partition an earlier attempt delivered whole sends nothing") {
    node.delivered("f1", 0, 0, 1000)
    val r = feedPartition(attempt = 1, 0 until 1000)
    assert(idsAtNode.isEmpty && r.rowsSent == 0 && r.rowsAtNode == 1000)
  }

  test("a retry that reads fewer rows than the earlier attempt delivered is refused") {
    node.delivered("f1", 0, 0, 500)
    val e = intercept[SparkTFException](feedPartition(attempt = 1, 0 until 400))
    assert(e.getMessage.contains("fewer than the 500 an earlier attempt delivered"))
  }

  test("terminate() mid-partition: the task stops sending and reports what the node took") {
    node.takeAtMost = 250
    val r = feed(stream(), 0 until 10000)
    assert(r.terminated && r.rowsReceived == 300, r) // three batches of 100 were taken
    assert(idsAtNode == (0L until 300L))
  }

  test("a node that stops reading fails the task after the idle timeout") {
    node.readsNothing = true
    val started = System.nanoTime()
    val e = intercept[SparkTFException](feed(stream(idleTimeoutSeconds = 0.5), 0 until 100000))
    assert(e.getMessage.contains("node chief:0") && e.getMessage.contains("took no data for " +
        "0.5 s while partition 0 waited to send"), e.getMessage)
    assert((System.nanoTime() - started) / 1e9 < 10)
  }

  test("a node whose program fails mid-stream fails the task with its traceback") {
    node.failAfterRows = 200
    val e = intercept[SparkTFException](feed(stream(), 0 until 10000))
    assert(e.getMessage.contains("node chief:0") && e.getMessage.contains("FAILED_PRECONDITION"))
    assert(e.getMessage.contains("ValueError: boom on chief:0"), e.getMessage)
  }

  test("a node that dies mid-stream is named unreachable") {
    val s = stream()
    rows(0 until 300).foreach(s.offer)
    node.kill()
    val e = intercept[SparkTFException] {
      rows(300 until 10000).foreach(s.offer)
      s.finish()
    }
    assert(e.getMessage.contains("node chief:0") && e.getMessage.contains("is unreachable"),
      e.getMessage)
  }

  test("an acknowledgement short of the rows sent is rows lost") {
    node.losesARow = true
    val e = intercept[SparkTFException](feed(stream(), 0 until 1000))
    assert(e.getMessage.contains("acknowledged 999 rows of partition 0, but the task sent " +
        "1000: rows were lost on the way"), e.getMessage)
  }
}
