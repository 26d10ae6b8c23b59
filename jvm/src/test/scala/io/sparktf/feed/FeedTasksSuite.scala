package io.sparktf.feed

import org.apache.spark.sparktf.LocationCoalescer
import org.apache.spark.sql.SparkSession
import org.scalatest.BeforeAndAfterAll
import org.scalatest.funsuite.AnyFunSuite

class FeedTasksSuite extends AnyFunSuite with BeforeAndAfterAll {
  private var spark: SparkSession = _

  override def beforeAll(): Unit = {
    spark = SparkSession.builder().master("local[2]").appName("FeedTasksSuite")
      .config("spark.ui.enabled", "false").getOrCreate()
  }

  override def afterAll(): Unit = if (spark != null) spark.stop()

  test("many small partitions make few tasks; few or large ones keep a task each") {
    assert(FeedTasks.tasks(partitions = 1000, rows = 10000L, slots = 2) == 4)
    assert(FeedTasks.tasks(partitions = 1000, rows = 200000L, slots = 2) == 13) // 16,384 each
    assert(FeedTasks.tasks(partitions = 1000, rows = 10000L, slots = 100) == 200)
    assert(FeedTasks.tasks(partitions = 8, rows = 200000L, slots = 2) == 8)
    assert(FeedTasks.tasks(partitions = 40, rows = 40L * 20000, slots = 10) == 40)
    assert(FeedTasks.tasks(partitions = 3, rows = 3L, slots = 1) == 2)
    assert(FeedTasks.tasks(partitions = 2, rows = 2L, slots = 1) == 2)
    assert(FeedTasks.tasks(partitions = 0, rows = 0L, slots = 2) == 0)
  }

  test("a task reads its partitions whole, in order, all on one preferred host") {
    // 100 partitions of 10 rows, even ones on host a, odd ones on host b.
    val parts = (0 until 100).map(p =>
      ((p * 10 until p * 10 + 10).toSeq,
        Seq(if (p % 2 == 0)
            "a"
          else "b")))
    val rows = spark.sparkContext.makeRDD(parts).flatMap(identity)
    val tasks = FeedTasks.of(rows, total = 1000L, slots = 2)
    assert(tasks.getNumPartitions == 4)
    val read = tasks.glom().collect().map(_.toSeq)
    assert(read.flatten.sorted.toSeq == (0 until 1000), "every row once")
    read.zip(tasks.partitions).foreach { case (task, split) =>
      val parents = task.grouped(10).map(_.head / 10).toSeq
      assert(task.grouped(10).forall(r => r == (r.head until r.head + 10)), "whole partitions")
      val hosts = tasks.preferredLocations(split)
      assert(hosts.size == 1 && parents.forall(p => (if (p % 2 == 0) "a" else "b") == hosts.head),
        s"task on $hosts reads partitions $parents")
    }
    // The same tasks every time: a retried task reads the same rows in the same order.
    assert(tasks.glom().collect().map(_.toSeq).toSeq == read.toSeq)
  }

  test("two executors on one host: no task mixes their cached blocks") {
    // Spark's own coalescer compares hosts only, and grouped these across both executors.
    val execs = Seq("executor_h_1", "executor_h_2")
    val parts = (0 until 100).map(p => ((p * 10 until p * 10 + 10).toSeq, Seq(execs(p % 2))))
    val rows = spark.sparkContext.makeRDD(parts).flatMap(identity)
    val tasks = FeedTasks.of(rows, total = 1000L, slots = 2)
    val read = tasks.glom().collect().map(_.toSeq)
    assert(read.flatten.sorted.toSeq == (0 until 1000), "every row once")
    read.zip(tasks.partitions).foreach { case (task, split) =>
      val parents = task.grouped(10).map(_.head / 10).toSeq
      assert(tasks.preferredLocations(split).toSeq == Seq(execs(parents.head % 2)))
      assert(parents.forall(_ % 2 == parents.head % 2), s"task reads partitions $parents")
    }
  }

  test("each location gets groups in proportion to its partitions, runs in index order") {
    val at = IndexedSeq.tabulate(100)(i =>
      if (i < 90) Some("a")
      else if (i < 95) Some("b")
      else None)
    val groups = LocationCoalescer.plan(at, groups = 10)
    assert(groups.map(_._1) == Seq.fill(9)(Some("a")) ++ Seq(Some("b"), None))
    assert(groups.flatMap(_._2) == (0 until 100), "every partition once, in order")
    assert(groups.take(9).map(_._2.size).toSet == Set(10))
    assert(groups.map(_._2).forall(g => g == (g.head to g.last)), "runs of neighbours")
    assert(LocationCoalescer.plan(IndexedSeq.fill(3)(None), groups = 10).map(_._2.size) ==
      Seq(1, 1, 1))
    assert(LocationCoalescer.plan(IndexedSeq.empty, groups = 4).isEmpty)
  }
}
