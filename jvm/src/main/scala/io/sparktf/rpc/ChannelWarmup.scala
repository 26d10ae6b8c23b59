package io.sparktf.rpc

import scala.concurrent.{Await, ExecutionContext, Future}
import scala.concurrent.duration._
import scala.util.Try

import org.slf4j.LoggerFactory

import io.sparktf.cluster.NodeInfo
import io.sparktf.proto.v1.{DataFeedGrpc, FeedMessage, ReserveRequest}

/** Opens a JVM's gRPC path to nodes while the cluster starts, so the first `train()` does not
 *  pay for it: the first call from a JVM to a node costs 0.3-0.7 s (loading the gRPC, Netty and
 *  message classes, connecting the channel), on the driver's first status call and on each
 *  executor's first `Reserve`. It asks each node its status at once through the channels
 *  feeds use ([[NodeChannels]] is shared by every task of the JVM) and loads the feed client's
 *  classes. Best effort: a node that does not answer is no error here (the feed reports it).
 *  {{{
 *  ChannelWarmup.warm(nodes, secret)   // the nodes that answered
 *  }}}
 */
object ChannelWarmup {
  private val log = LoggerFactory.getLogger(getClass)

  /** The nodes of `nodes` that answered a status call within `timeoutSeconds`. */
  def warm(nodes: Seq[NodeInfo], secret: ClusterSecret,
      channels: NodeChannelFactory = NodeChannels, timeoutSeconds: Double = 5.0): Seq[NodeInfo] = {
    implicit val ec: ExecutionContext = ExecutionContext.global
    val started = System.nanoTime()
    val asked = nodes.map { n =>
      n -> Future {
        val channel = channels.channel(n, secret)
        // The classes of a feed task's first calls: its stubs and messages.
        DataFeedGrpc.newBlockingStub(channel)
        DataFeedGrpc.newFutureStub(channel)
        ReserveRequest.newBuilder().build()
        FeedMessage.getDefaultInstance
        new NodeControlClient(n, secret, channels).status(timeoutSeconds).nonEmpty
      }
    }
    val answered = asked.collect {
      case (n, f) if Try(Await.result(f, (timeoutSeconds + 1).seconds)).getOrElse(false) => n
    }
    log.info(f"sparktf: gRPC channels to ${answered.size} of ${nodes.size} nodes opened in " +
      f"${(System.nanoTime() - started) / 1e6}%.0f ms")
    answered
  }
}
