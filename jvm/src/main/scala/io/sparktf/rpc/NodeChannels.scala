package io.sparktf.rpc

import java.util.concurrent.{ConcurrentHashMap, TimeUnit}

import io.grpc.{Channel, ManagedChannel}
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder

import io.sparktf.cluster.NodeInfo

/** gRPC channels to nodes, one per address and secret, shared by the tasks of one JVM so each
 *  feed task does not pay for a new connection. Idle channels close themselves. */
object NodeChannels extends NodeChannelFactory {
  def channel(node: NodeInfo, secret: ClusterSecret): Channel = get(node.host, node.port, secret)

  /** Feed batches are ~4 MiB, but a single row may be larger (big binary columns). */
  val MaxMessageBytes: Int = 256 << 20

  private val channels = new ConcurrentHashMap[(String, Int, String), ManagedChannel]()

  def get(host: String, port: Int, secret: ClusterSecret): ManagedChannel = {
    val key = (host, port, secret.value)
    val existing = channels.get(key)
    if (existing != null && !existing.isShutdown) existing
    else {
      val fresh = NettyChannelBuilder.forAddress(host, port)
        .usePlaintext()
        .maxInboundMessageSize(MaxMessageBytes)
        // Node errors carry a Python traceback in the status trailer.
        .maxInboundMetadataSize(1 << 20)
        .idleTimeout(60, TimeUnit.SECONDS)
        .intercept(secret.interceptor)
        .build()
      val raced = channels.compute(key,
        (_, old) =>
          if (old != null && !old.isShutdown) old else fresh)
      if (raced ne fresh) fresh.shutdownNow()
      raced
    }
  }

  /** Closes the channels of one cluster's secret (its nodes are gone). */
  def closeAll(secret: ClusterSecret): Unit = {
    channels.forEach { (key, ch) =>
      if (key._3 == secret.value) {
        channels.remove(key)
        ch.shutdownNow()
      }
    }
  }
}
