package io.sparktf.feed

import scala.jdk.CollectionConverters._

import org.apache.spark.sql.{DataFrame, SparkSession}
import org.scalatest.BeforeAndAfterAll
import org.scalatest.concurrent.{Signaler, ThreadSignaler, TimeLimitedTests}
import org.scalatest.funsuite.AnyFunSuite
import org.scalatest.time.{Seconds, Span}

import io.sparktf.{SparkTFException, TFCluster}
import io.sparktf.cluster.{
  ClusterHealth,
  ClusterIncarnation,
  ClusterIncarnations,
  ClusterLayout,
  NodeRole
}
import io.sparktf.proto.v1.NodeState
import io.sparktf.rpc.ClusterSecret

/** FeedJob, ClusterFeed and RestartingFeed on a `local[2]` session (two task threads, a task
 *  retried up to twice) against in-process [[FakeNode]]s: the Spark jobs are real, the nodes
 *  fake. */
class ClusterFeedSuite extends AnyFunSuite with BeforeAndAfterAll with TimeLimitedTests {
  // A feed that hangs fails its test instead of the run: the interrupt ends the job's wait.
  override val timeLimit: Span = Span(120, Seconds)
  override val defaultTestSignaler: Signaler = ThreadSignaler
  private var spark: SparkSession = _
  private val secret = ClusterSecret.create("c1", None)
  private val layout = ClusterLayout(IndexedSeq(NodeRole("chief", 0), NodeRole("worker", 0)))

  override def beforeAll(): Unit = {
    spark = SparkSession.builder().master("local[2,3]").appName("ClusterFeedSuite")
      .config("spark.ui.enabled", "false").getOrCreate()
  }

  override def afterAll(): Unit = if (spark != null) spark.stop()

  private def rows(n: Int, partitions: Int = 2): DataFrame =
    spark.range(0, n, 1, partitions).toDF("id")

  /** A feed that fails with every node well: sparktf feeds no nulls. */
  private def withANull: DataFrame =
    spark.range(0, 1000, 1, 2).selectExpr("if(id = 700, null, id) as id")

  private def withNodes[T](count: Int)(body: IndexedSeq[FakeNode] => T): T = {
    val nodes = (0 until count).map(i => new FakeNode(layout.roles(i), i))
    try body(nodes)
    finally nodes.foreach(_.close())
  }

  private def feed(nodes: IndexedSeq[FakeNode], df: DataFrame, epochs: Int = 1) = {
    val plan = ClusterFeed.plan(df, "c1", nodes.size)
    new ClusterFeed("c1", nodes.map(_.info), secret, 10, FakeNodes(nodes: _*))
      .run(df, FeedColumn.fromSchema(df.schema, Nil), plan, epochs)
  }

  private def ids(nodes: Seq[FakeNode]): Seq[Long] =
    nodes.flatMap(_.ids.asScala.map(_.longValue)).sorted

  test("every row of every epoch reaches one node once, in even shares") {
    withNodes(2) { nodes =>
      val report = feed(nodes, rows(100000), epochs = 2)
      assert(report.rowsPerNode == Map("chief:0" -> 100000L, "worker:0" -> 100000L))
      assert((report.epochs, report.terminated) == (2, false))
      assert(ids(nodes) == (0L until 100000L).flatMap(i => Seq(i, i)))
      assert(nodes.map(_.endFeeds.get) == Seq(1, 1))
    }
  }

  test("a retried task skips what its failed attempt delivered: every row once") {
    withNodes(2) { nodes =>
      nodes(0).breakFirstAttemptOf = Some(0) // partition 0's first attempt fails after a batch
      val report = feed(nodes, rows(200000))
      assert(ids(nodes) == (0L until 200000L), "a row was fed twice or lost over the retry")
      assert(report.rowsTotal == 200000)
    }
  }

  test("a thousand tiny partitions are fed by few tasks, every row once, a retry included") {
    val tasks = new java.util.concurrent.ConcurrentLinkedQueue[(String, Int)]()
    val listener = new org.apache.spark.scheduler.SparkListener {
      override def onJobStart(e: org.apache.spark.scheduler.SparkListenerJobStart): Unit =
        tasks.add((Option(e.properties).map(_.getProperty("spark.job.description")).orNull,
            e.stageInfos.map(_.numTasks).sum))
    }
    spark.sparkContext.addSparkListener(listener)
    try withNodes(2) { nodes =>
        nodes(0).breakFirstAttemptOf = Some(0) // the first task's first attempt fails
        nodes(1).breakFirstAttemptOf = Some(0)
        val report = feed(nodes, rows(40000, partitions = 1000), epochs = 2)
        assert(report.rowsPerNode == Map("chief:0" -> 40000L, "worker:0" -> 40000L))
        assert(ids(nodes) == (0L until 40000L).flatMap(i => Seq(i, i)))
        val deadline = System.nanoTime() + 10e9 // the listener bus delivers events later
        while (tasks.size < 3 && System.nanoTime() < deadline) Thread.sleep(20)
        // 40 rows a partition: 2 tasks per slot (local[2]) count and feed them.
        assert(tasks.asScala.toSeq == Seq(
          "sparktf cluster c1: count the rows to plan the feed" -> 4,
          "sparktf cluster c1: feed epoch 1/2" -> 4,
          "sparktf cluster c1: feed epoch 2/2" -> 4))
      }
    finally spark.sparkContext.removeSparkListener(listener)
  }

  test("terminate() mid-feed ends the feed and reports the rows the program took") {
    withNodes(1) { nodes =>
      nodes(0).takeAtMost = 20000
      nodes(0).programTook = Some(17000L)
      val report = feed(nodes, rows(100000), epochs = 3)
      assert(report.terminated)
      assert(report.rowsPerNode == Map("chief:0" -> 17000L))
      assert(report.epochs == 1, "no epoch is fed after terminate()")
    }
  }

  test("a program that returns mid-feed without terminate() fails the feed naming its node") {
    withNodes(2) { nodes =>
      nodes(1).returnsAfterRows = 1
      nodes(1).programTook = Some(0L)
      val e = intercept[SparkTFException](feed(nodes, rows(100000), epochs = 2))
      assert(
        e.getMessage.contains("node worker:0") && e.getMessage.contains("its program " +
          "returned after taking 0 of the 100000 rows this train() feeds it"),
        e.getMessage
      )
      assert(!e.isInstanceOf[FeedRefused])
    }
  }

  test("programs that have returned refuse the feed before anything is fed") {
    withNodes(2) { nodes =>
      nodes(0).state = NodeState.FINISHED
      val e = intercept[FeedRefused](feed(nodes, rows(1000)))
      assert(
        e.getMessage.contains("1 of 2 fed nodes' programs have returned") &&
          e.getMessage.contains("chief:0") && e.getMessage.contains("nothing was fed"),
        e.getMessage
      )
      assert(nodes.map(_.totalRows) == Seq(0, 0) && nodes.map(_.endFeeds.get) == Seq(0, 0))
    }
  }

  test("a program that failed fails the next feed at once, with its traceback") {
    withNodes(2) { nodes =>
      nodes(1).state = NodeState.FAILED
      nodes(1).error = "Traceback (most recent call last):\nValueError: first batch"
      val e = intercept[SparkTFException](feed(nodes, rows(1000)))
      assert(!e.isInstanceOf[FeedRefused])
      assert(e.getMessage.contains("node worker:0") &&
          e.getMessage.contains("ValueError: first batch"), e.getMessage)
      assert(nodes.map(_.totalRows) == Seq(0, 0))
    }
  }

  test("the end-of-feed check fails a node whose count differs from the acknowledged rows") {
    withNodes(1) { nodes =>
      nodes(0).miscounts = 5
      val e = intercept[SparkTFException](feed(nodes, rows(1000)))
      assert(
        e.getMessage.contains("on node chief:0") && e.getMessage.contains("DATA_LOSS") &&
          e.getMessage.contains("received 1005 rows, the feed tasks saw 1000"),
        e.getMessage
      )
    }
  }

  test("a DataFrame with no row for some fed node is refused before anything is fed") {
    for (n <- Seq(0, 1)) {
      val e = intercept[FeedRefused](ClusterFeed.plan(rows(n, 1), "c1", nodes = 2))
      assert(e.getMessage.contains(s"the DataFrame has $n rows for 2 fed nodes"))
    }
  }

  test("the caller's job description is its own again after a feed, also a failed one") {
    val sc = spark.sparkContext
    sc.setJobDescription("the caller's own jobs")
    try withNodes(2) { nodes =>
        feed(nodes, rows(1000))
        assert(sc.getLocalProperty("spark.job.description") == "the caller's own jobs")
        val e = intercept[Exception](feed(nodes, withANull))
        assert(TFCluster.rootMessage(e).contains("column 'id' has a null"))
        assert(sc.getLocalProperty("spark.job.description") == "the caller's own jobs")
      }
    finally sc.setJobDescription(null)
  }

  test("the Spark UI names the count and each epoch's feed, and sums rows fed per stage") {
    val descriptions = new java.util.concurrent.ConcurrentLinkedQueue[String]()
    val rowsFed = new java.util.concurrent.ConcurrentLinkedQueue[Long]()
    val listener = new org.apache.spark.scheduler.SparkListener {
      override def onJobStart(e: org.apache.spark.scheduler.SparkListenerJobStart): Unit =
        Option(e.properties).flatMap(p => Option(p.getProperty("spark.job.description")))
          .foreach(descriptions.add)
      override def onStageCompleted(
          e: org.apache.spark.scheduler.SparkListenerStageCompleted): Unit =
        e.stageInfo.accumulables.values.filter(_.name.contains("sparktf cluster c1: rows fed"))
          .foreach(a => rowsFed.add(a.value.get.asInstanceOf[Long]))
    }
    spark.sparkContext.addSparkListener(listener)
    try withNodes(2) { nodes =>
        val df = rows(3000, partitions = 3)
        val plan = ClusterFeed.plan(df, "c1", nodes.size)
        val progress = new FeedProgress(1, plan.total, 2)
        new ClusterFeed("c1", nodes.map(_.info), secret, 10, FakeNodes(nodes: _*))
          .run(df, FeedColumn.fromSchema(df.schema, Nil), plan, 2, progress = Some(progress),
            showProgress = true)
        val deadline = System.nanoTime() + 10e9 // the listener bus delivers events later
        while ((descriptions.size < 3 || rowsFed.size < 2) && System.nanoTime() < deadline) {
          Thread.sleep(20)
        }
        assert(descriptions.asScala.toSeq == Seq(
          "sparktf cluster c1: count the rows to plan the feed",
          "sparktf cluster c1: feed epoch 1/2",
          "sparktf cluster c1: feed epoch 2/2"))
        assert(rowsFed.asScala.toSeq == Seq(3000L, 6000L), "the accumulator sums both epochs")
        progress.finished()
        val p = progress.snapshot
        assert((p.epoch, p.epochs, p.rowsFed, p.rowsTotal, p.done) == (2, 2, 6000L, 6000L, true))
        assert(p.describe.startsWith("epoch 2/2: 6,000 of 6,000 rows fed (100%)"), p.describe)
      }
    finally spark.sparkContext.removeSparkListener(listener)
  }

  test("the progress follows the rows the nodes received during an epoch") {
    withNodes(2) { nodes =>
      val progress = new FeedProgress(1, 1000, 1)
      val watch = new FeedProgressWatch("c1", nodes.map(_.info), secret, FakeNodes(nodes: _*),
        progress, enabled = true, pollSeconds = 0.05)
      try {
        watch.epochStarted()
        nodes(0).receive("f", 300)
        nodes(1).receive("f", 200)
        val deadline = System.nanoTime() + 10e9
        while (progress.snapshot.rowsFed < 500 && System.nanoTime() < deadline) Thread.sleep(20)
        assert(progress.snapshot.rowsFed == 500)
        assert(progress.snapshot.etaSeconds.exists(_ > 0))
        watch.epochFed(1000)
        assert(progress.snapshot.rowsFed == 1000)
      } finally watch.close()
    }
  }

  /** Incarnations of fake nodes: `restart` moves to the next. */
  private class FakeIncarnations(runs: IndexedSeq[IndexedSeq[FakeNode]], restartsLeft: Int)
      extends ClusterIncarnations {
    @volatile var number = 0
    val causes = scala.collection.mutable.ArrayBuffer[String]()
    override def current: ClusterIncarnation =
      ClusterIncarnation(s"c$number", secret, runs(number).map(_.info), number)
    override def canRestart: Boolean = number < restartsLeft
    override def restart(cause: String): ClusterIncarnation = {
      causes += cause
      number += 1
      current
    }
  }

  private def restartingFeed(runs: IndexedSeq[IndexedSeq[FakeNode]], restarts: Int,
      df: DataFrame, epochs: Int) = {
    val incarnations = new FakeIncarnations(runs, restarts)
    val channels = FakeNodes(runs.flatten: _*)
    val health = new ClusterHealth(spark.sparkContext, incarnations, channels)
    val report = new RestartingFeed(incarnations, health, layout, 10, channels)
      .run(df, FeedColumn.fromSchema(df.schema, Nil), ClusterFeed.plan(df, "c0", 2), epochs)
    (report, incarnations)
  }

  test("a node failure restarts the cluster and feeds the epoch in progress again") {
    withNodes(2) { first =>
      withNodes(2) { second =>
        first(1).failAfterRows = 60000 // in the second epoch: 50000 rows an epoch per node
        val (report, incarnations) = restartingFeed(IndexedSeq(first, second), 1,
          rows(100000), epochs = 3)
        assert(incarnations.causes.size == 1 && incarnations.causes.head.contains(
          "node worker:0") && incarnations.causes.head.contains("ValueError: boom"))
        assert(first.forall(_.stops.get > 0), "the failed cluster was not stopped")
        assert((report.restarts, report.restartedEpochs) == (1, Seq(2)))
        assert(report.epochs == 3)
        // Epoch 1 counted from the first cluster, epochs 2 and 3 from the second.
        assert(report.rowsPerNode == Map("chief:0" -> 150000L, "worker:0" -> 150000L))
        assert(ids(second) == (0L until 100000L).flatMap(i => Seq(i, i)))
      }
    }
  }

  test("a failure with every node well is not restarted") {
    withNodes(2) { first =>
      withNodes(2) { second =>
        val e = intercept[Exception](restartingFeed(IndexedSeq(first, second), 1, withANull, 1))
        assert(TFCluster.rootMessage(e).contains("column 'id' has a null"))
        assert(second.forall(_.totalRows == 0), "the feed restarted")
      }
    }
  }
}
