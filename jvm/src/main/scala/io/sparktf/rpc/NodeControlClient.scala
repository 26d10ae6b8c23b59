package io.sparktf.rpc

import java.util.concurrent.TimeUnit

import scala.util.Try

import io.grpc.{Status, StatusRuntimeException}

import io.sparktf.cluster.NodeInfo
import io.sparktf.proto.v1._

/** The driver's calls to one node's `NodeControl` service; every call has a deadline.
 *  {{{
 *  new NodeControlClient(node, secret).status(5).map(_.getState)   // None: the node is gone
 *  }}}
 */
final class NodeControlClient(node: NodeInfo, secret: ClusterSecret,
    channels: NodeChannelFactory = NodeChannels) {
  private def stub(seconds: Double) = NodeControlGrpc
    .newBlockingStub(channels.channel(node, secret))
    .withDeadlineAfter((seconds * 1000).toLong, TimeUnit.MILLISECONDS)

  /** The node's status, or None when it cannot be reached (its process is gone). */
  def status(timeoutSeconds: Double = 10): Option[NodeStatus] =
    try Some(stub(timeoutSeconds).getStatus(StatusRequest.getDefaultInstance))
    catch {
      case e: StatusRuntimeException if unreachable(e) => None
    }

  def endFeed(feedId: String, expectedRows: Long, timeoutSeconds: Double): EndFeedReply =
    stub(timeoutSeconds).endFeed(EndFeedRequest.newBuilder().setFeedId(feedId)
        .setExpectedRows(expectedRows).build())

  /** The program's output lines numbered after `after` (see NodeOutput in node_control.proto). */
  def readOutput(after: Long, maxLines: Int, timeoutSeconds: Double): NodeOutput =
    stub(timeoutSeconds).readOutput(NodeOutputRequest.newBuilder().setAfter(after)
        .setMaxLines(maxLines).build())

  /** No more feeds of streaming query `queryId` will come. */
  def endStream(queryId: String, timeoutSeconds: Double): Unit =
    stub(timeoutSeconds).endStream(EndStreamRequest.newBuilder().setQueryId(queryId).build())

  /** Asks the node to exit; a node already gone is fine. */
  def stop(graceSeconds: Double): Unit = Try(stub(10).stop(
      StopRequest.newBuilder().setGraceSeconds(graceSeconds).build()))

  private def unreachable(e: StatusRuntimeException): Boolean =
    e.getStatus.getCode == Status.Code.UNAVAILABLE || e.getStatus.getCode == Status.Code.CANCELLED
}
