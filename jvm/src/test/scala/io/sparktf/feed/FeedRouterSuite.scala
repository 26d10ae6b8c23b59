package io.sparktf.feed

import scala.collection.mutable

import org.scalatest.funsuite.AnyFunSuite

import io.sparktf.SparkTFException

/** FeedRouter against fake nodes that grant like `DataFeed.Reserve`: quota and queue room. */
class FeedRouterSuite extends AnyFunSuite {

  /** Nodes with a quota each and a queue of `capacity` chunks; one grant takes one chunk. */
  final class FakeNodes(quotas: Seq[Long], capacity: Int) extends QuotaDesk {
    val granted: mutable.ArrayBuffer[Long] = mutable.ArrayBuffer.fill(quotas.size)(0L)
    val queued: mutable.ArrayBuffer[Int] = mutable.ArrayBuffer.fill(quotas.size)(0)
    val asked = mutable.ArrayBuffer[(Int, Long)]()
    var terminated = false
    var onAsk: () => Unit = () => ()

    override def reserve(node: Int, start: Long, rows: Long, batchRows: Long): Grant = {
      asked += node -> rows
      onAsk()
      val room = capacity - queued(node)
      val g = if (rows > 0 && room > 0) math.min(rows, quotas(node) - granted(node)) else 0L
      granted(node) += g
      if (g > 0) queued(node) += 1
      Grant(g, quotas(node) - granted(node), 0L, capacity - queued(node), capacity, terminated)
    }

    override def taken(node: Int): Seq[(Long, Long)] = Nil
  }

  /** A clock that moves only when the router pauses. */
  final class Clock { var nanos = 0L }

  private def router(nodes: FakeNodes, order: IndexedSeq[Int], clock: Clock,
      timeout: Double = 600) =
    new FeedRouter(order, nodes, timeout, now = () => clock.nanos,
      pause = n => clock.nanos += n)

  test("rows stay on the first choice while it grants them") {
    val nodes = new FakeNodes(Seq(100L, 100L), capacity = 100)
    val r = router(nodes, IndexedSeq(1, 0), new Clock)
    val routes = (0 until 5).map(i => r.reserve(i * 10L, 10L))
    assert(routes.forall(_ == FeedRouter.Granted(1, 10L)))
    assert(nodes.asked.map(_._1).toSet == Set(1))
  }

  test("a used-up quota moves the rest to the next node in preference order") {
    val nodes = new FakeNodes(Seq(15L, 100L), capacity = 100)
    val r = router(nodes, IndexedSeq(0, 1), new Clock)
    assert(r.reserve(0, 10) == FeedRouter.Granted(0, 10))
    assert(r.reserve(10, 10) == FeedRouter.Granted(0, 5))
    assert(r.reserve(15, 10) == FeedRouter.Granted(1, 10))
    assert(r.target == 1)
  }

  test("a node without room keeps the rows for a while, then a roomy node takes them") {
    val nodes = new FakeNodes(Seq(1000L, 1000L), capacity = 4)
    nodes.queued(0) = 4 // its program waits at a collective for node 1, whose queue is empty
    val clock = new Clock
    val r = router(nodes, IndexedSeq(0, 1), clock)
    var flushes = 0
    // Before it waits, the task sends the rows it holds: they may be what a program waits for.
    assert(r.reserve(0, 10, () => flushes += 1) == FeedRouter.Granted(1, 10))
    assert(flushes == 1)
    assert(clock.nanos >= 200L * 1000 * 1000 && clock.nanos < 300L * 1000 * 1000)
    // Room on the first choice within the wait: the rows stay there.
    val again = new FakeNodes(Seq(1000L, 1000L), capacity = 4)
    again.queued(0) = 4
    val clock2 = new Clock
    again.onAsk = () => if (clock2.nanos > 50L * 1000 * 1000) again.queued(0) = 3
    assert(router(again, IndexedSeq(0, 1), clock2).reserve(0, 10) == FeedRouter.Granted(0, 10))
  }

  test("no node is roomy: the task waits for its first choice, then fails with the state") {
    val nodes = new FakeNodes(Seq(1000L, 1000L), capacity = 4)
    nodes.queued(0) = 4
    nodes.queued(1) = 3 // one chunk free is not half the queue
    val e = intercept[SparkTFException](router(nodes, IndexedSeq(0, 1), new Clock,
        timeout = 5).reserve(0, 10))
    assert(e.getMessage.contains("no fed node granted rows for 5.0 s"))
    assert(e.getMessage.contains("node 0: 0 of 4 chunks free, 1000 rows of its quota left"))
  }

  test("more rows than every quota: the DataFrame is not deterministic") {
    val nodes = new FakeNodes(Seq(5L, 5L), capacity = 100)
    val r = router(nodes, IndexedSeq(0, 1), new Clock)
    assert(r.reserve(0, 10) == FeedRouter.Granted(0, 5))
    assert(r.reserve(5, 10) == FeedRouter.Granted(1, 5))
    val e = intercept[SparkTFException](r.reserve(10, 10))
    assert(e.getMessage.contains("not deterministic"))
  }

  test("terminate() on a node ends the routing") {
    val nodes = new FakeNodes(Seq(5L, 5L), capacity = 100)
    nodes.terminated = true
    assert(router(nodes, IndexedSeq(0, 1), new Clock).reserve(0, 10) == FeedRouter.Terminated)
  }

  test("synchronous training with bounded queues and uneven partitions never deadlocks") {
    // Two programs step together (MWMS): a step takes one chunk from each queue. Tasks on
    // either executor feed partitions of very different sizes; the simulation must finish.
    val capacity = 3
    val nodes = new FakeNodes(Seq(505L, 505L), capacity)
    val clock = new Clock
    var steps = 0
    nodes.onAsk = () =>
      if (nodes.queued.forall(_ > 0)) {
        nodes.queued.indices.foreach(i => nodes.queued(i) -= 1)
        steps += 1
      }
    // One task at a time, its partition on executor 0 (first choice node 0): 10 rows, then 1000.
    for (rows <- Seq(10L, 1000L)) {
      val r = router(nodes, IndexedSeq(0, 1), clock, timeout = 60)
      var sent = 0L
      while (sent < rows) r.reserve(sent, math.min(10L, rows - sent)) match {
        case FeedRouter.Granted(_, n) => sent += n
        case FeedRouter.Terminated => fail("nobody terminated")
      }
    }
    assert(nodes.granted == Seq(505L, 505L))
  }
}
