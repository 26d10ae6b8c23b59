package io.sparktf.feed

import java.util.concurrent.{ExecutionException, TimeUnit}

import scala.jdk.CollectionConverters._

import io.grpc.{Channel, Status, StatusRuntimeException}

import io.sparktf.SparkTFException
import io.sparktf.cluster.NodeInfo
import io.sparktf.proto.v1.{DataFeedGrpc, PartitionKey, ReserveReply, ReserveRequest}

/** What a node answered to a reservation: rows [start, start + granted) are its, and how its
 *  quota and queue stand after it.
 *
 *  @param quotaLeft   rows of the node's quota for the epoch that no task holds yet
 *  @param outstanding rows granted to tasks and not taken by the node yet
 *  @param queueFree   chunks the node's queue can take now, after this grant
 */
final case class Grant(granted: Long, quotaLeft: Long, outstanding: Long, queueFree: Int,
    queueCapacity: Int, terminated: Boolean = false) {

  /** At least half the node's queue is free: a node whose program starves has an empty one. */
  def roomy: Boolean = quotaLeft > 0 && queueFree * 2 >= queueCapacity
}

object Grant {
  def of(r: ReserveReply): Grant = Grant(r.getGranted, r.getQuotaLeft, r.getOutstanding,
    r.getQueueFree, r.getQueueCapacity, r.getTerminated)
}

/** Where a feed task asks the fed nodes (by index) for rows of its partition: the nodes are the
 *  authority on their quotas. `rows` 0 only asks how the node stands.
 *  {{{
 *  val g = desk.reserve(node = 1, start = 0L, rows = 1024L)   // g.granted rows go to node 1
 *  }}}
 */
trait QuotaDesk {

  /** @param batchRows rows per batch the task sends the range in: the node grants as many
   *                   batches as its queue has room for (0: the range is one batch) */
  def reserve(node: Int, start: Long, rows: Long, batchRows: Long = 0L): Grant

  /** [[reserve]] sent now and answered later: a task asks for its next lease while it sends
   *  the current one, so the round trip is off its path. The returned function waits for the
   *  answer. */
  def reserveAhead(node: Int, start: Long, rows: Long, batchRows: Long): () => Grant = {
    val g = reserve(node, start, rows, batchRows)
    () => g
  }

  /** For a retried attempt: makes it the partition's current one on the node, and returns the
   *  (start, rows) ranges of the partition the node took from earlier attempts. */
  def taken(node: Int): Seq[(Long, Long)]
}

/** The [[QuotaDesk]] of one partition attempt, over `DataFeed.Reserve`.
 *
 *  @param nodeRows each fed node's quota for the epoch, from the [[FeedPlan]]
 */
final class NodeQuotaDesk(fed: IndexedSeq[NodeInfo], channelOf: NodeInfo => Channel,
    key: PartitionKey, nodeRows: Int => Long, deadlineSeconds: Double = 60.0) extends QuotaDesk {
  private val stubs = fed.map(n => DataFeedGrpc.newBlockingStub(channelOf(n)))
  private lazy val futureStubs = fed.map(n => DataFeedGrpc.newFutureStub(channelOf(n)))

  override def reserve(node: Int, start: Long, rows: Long, batchRows: Long): Grant = {
    val request = ReserveRequest.newBuilder().setKey(key).setStart(start).setRows(rows)
      .setNodeRows(nodeRows(node)).setBatchRows(batchRows).build()
    call(node, "reserved rows")(Grant.of(stub(node).reserve(request)))
  }

  override def reserveAhead(node: Int, start: Long, rows: Long,
      batchRows: Long): () => Grant = {
    val request = ReserveRequest.newBuilder().setKey(key).setStart(start).setRows(rows)
      .setNodeRows(nodeRows(node)).setBatchRows(batchRows).build()
    val reply = futureStubs(node).withDeadlineAfter((deadlineSeconds * 1000).toLong,
      TimeUnit.MILLISECONDS).reserve(request)
    () =>
      call(node, "reserved rows") {
        try Grant.of(reply.get())
        catch { case e: ExecutionException => throw e.getCause }
      }
  }

  override def taken(node: Int): Seq[(Long, Long)] =
    call(node, "asked what it took")(stub(node).beginPartition(key)).getTakenList.asScala
      .map(r => (r.getStart, r.getRows)).toSeq

  private def stub(node: Int) = stubs(node).withDeadlineAfter((deadlineSeconds * 1000).toLong,
    TimeUnit.MILLISECONDS)

  private def call[T](node: Int, what: String)(rpc: => T): T =
    try rpc
    catch {
      case e: StatusRuntimeException =>
        val status = Status.fromThrowable(e)
        val problem = status.getCode match {
          case Status.Code.UNAVAILABLE => "is unreachable (did its process die?)"
          case Status.Code.DEADLINE_EXCEEDED => s"did not answer within $deadlineSeconds s"
          case _ => s"refused it (${status.getCode})"
        }
        throw new SparkTFException(s"node ${fed(node).describe} $problem when partition " +
            s"${key.getPartition} $what: ${Option(status.getDescription).getOrElse("")}", e)
    }
}
