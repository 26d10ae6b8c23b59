package org.apache.spark.sparktf

import scala.collection.mutable

import org.apache.spark.rdd.{PartitionCoalescer, PartitionGroup, RDD}

/** Groups many small partitions into fewer tasks by where each partition's data is, down to the
 *  executor: a cached block's executor (`executor_<host>_<id>`), else a host (a file split's),
 *  else nowhere in particular. Every group holds partitions of one location only, and prefers
 *  it, so a task reads its partitions where they are.
 *
 *  Spark's own coalescer (`DefaultPartitionCoalescer`) compares hosts only: two executors on
 *  one host look alike to it, and a group it makes there mixes both executors' cached blocks,
 *  so half the blocks are fetched from the other executor's block manager (serialized, sent,
 *  decoded) before they are fed. It lives in Spark's package because the cache locations
 *  (`SparkContext.getPreferredLocs`) are Spark's own.
 *
 *  Deterministic: the same parents give the same groups, each in partition order.
 *  {{{
 *  val tasks = rdd.coalesce(40, shuffle = false, partitionCoalescer = Some(new LocationCoalescer))
 *  }}}
 */
final class LocationCoalescer extends PartitionCoalescer with Serializable {
  override def coalesce(maxPartitions: Int, parent: RDD[_]): Array[PartitionGroup] = {
    val sc = parent.sparkContext
    val parts = parent.partitions
    val at = parts.toIndexedSeq.map(p =>
      sc.getPreferredLocs(parent, p.index).headOption
        .map(_.toString))
    LocationCoalescer.plan(at, maxPartitions).map { case (location, members) =>
      val group = new PartitionGroup(location)
      group.partitions ++= members.map(parts(_))
      group
    }.toArray
  }
}

object LocationCoalescer {

  /** Groups of the partitions whose locations `locations` gives (by index), about `groups` in
   *  all: each location gets groups in proportion to its partitions (one at least), each group
   *  a run of that location's partitions in index order. Groups are ordered by their first
   *  partition. */
  def plan(locations: IndexedSeq[Option[String]], groups: Int): Seq[(Option[String], Seq[Int])] = {
    val byLocation = mutable.LinkedHashMap[Option[String], mutable.ArrayBuffer[Int]]()
    locations.indices.foreach(i =>
      byLocation.getOrElseUpdate(locations(i), mutable.ArrayBuffer[Int]()) += i)
    val total = locations.size
    byLocation.toSeq.flatMap { case (location, members) =>
      val share = math.max(1, math.round(groups.toDouble * members.size / total).toInt)
      split(members.toSeq, share).map(location -> _)
    }.sortBy(_._2.head)
  }

  /** `members` in `k` runs whose sizes differ by one at most (fewer when there are fewer). */
  private def split(members: Seq[Int], k: Int): Seq[Seq[Int]] = {
    val n = members.size
    val runs = math.min(k, n)
    (0 until runs).map(r => members.slice(r * n / runs, (r + 1) * n / runs))
  }
}
