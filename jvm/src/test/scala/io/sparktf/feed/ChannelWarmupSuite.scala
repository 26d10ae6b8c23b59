package io.sparktf.feed

import org.scalatest.funsuite.AnyFunSuite

import io.sparktf.cluster.NodeRole
import io.sparktf.rpc.{ChannelWarmup, ClusterSecret}

/** ChannelWarmup against in-process [[FakeNode]]s: every node that answers is reached, and a
 *  node that is gone is no error (the feed that needs it reports it). */
class ChannelWarmupSuite extends AnyFunSuite {
  private val secret = ClusterSecret.create("c1", None)

  test("warm asks every node at once and names those that answered") {
    val up = new FakeNode(NodeRole("chief", 0), 0)
    val gone = new FakeNode(NodeRole("worker", 0), 1)
    gone.kill()
    try {
      val answered = ChannelWarmup.warm(Seq(up.info, gone.info), secret, FakeNodes(up, gone),
        timeoutSeconds = 5)
      assert(answered == Seq(up.info))
    } finally up.close()
  }

  test("warm of no node does nothing") {
    assert(ChannelWarmup.warm(Nil, secret, FakeNodes()).isEmpty)
  }
}
