package io.sparktf.rpc

import io.grpc.Channel

import io.sparktf.cluster.NodeInfo

/** Where the feed and control layers get their gRPC channel to a node. [[NodeChannels]] is the
 *  real one (a shared Netty channel per node address and secret); a test passes one that
 *  reaches in-process servers, so the layers run against fake nodes without a socket.
 *
 *  Serializable: feed tasks carry it to the executors inside their closure, and use it there.
 *  {{{
 *  val stub = DataFeedGrpc.newStub(channels.channel(node, secret))
 *  }}}
 */
trait NodeChannelFactory extends Serializable {

  /** A channel to `node` that carries `secret` on every call; the factory owns it. */
  def channel(node: NodeInfo, secret: ClusterSecret): Channel

  /** Closes the channels of one cluster's secret: its nodes are gone. */
  def closeAll(secret: ClusterSecret): Unit
}
