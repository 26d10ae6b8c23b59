package io.sparktf.feed

import scala.reflect.ClassTag

import org.apache.spark.rdd.RDD
import org.apache.spark.sparktf.LocationCoalescer

/** How many Spark tasks feed (or count) an epoch's rows: one per partition, unless the
 *  partitions are many and small. A partition costs its task a few round trips to the nodes
 *  (its first reservation, its stream's start and end) and Spark its scheduling, ~20 ms on a
 *  busy 2-core machine, whatever its rows: 1,000 partitions of 10 rows took 20 s to feed.
 *
 *  When there are more partitions than [[tasks]], partitions held in one place are fed by one
 *  task (`coalesce`, no shuffle). What still holds:
 *  - Locality: [[LocationCoalescer]] groups the partitions by their preferred location, down to
 *    the executor (a cached block's executor, a file split's host), so a task reads its
 *    partitions where they are, with no block fetched from another executor, and feeds the node
 *    on its executor first ([[NodePreference]]).
 *  - Exactly once: a task reads its partitions one after the other, in a fixed order, and a
 *    retried task reads the same partitions in the same order, so the task's rows are one
 *    partition to the nodes' ledgers (its index is the `PartitionKey.partition`) and a retry
 *    skips the ranges an earlier attempt delivered, as for any partition.
 *  - Shares, deadlock freedom, uneven partitions: unchanged, they never depended on how rows
 *    are cut into tasks ([[FeedRouter]]).
 *  - A non-deterministic DataFrame: the epoch still feeds more or fewer rows than counted, and
 *    fails saying so.
 *  {{{
 *  FeedTasks.tasks(partitions = 1000, rows = 10000L, slots = 2) == 4
 *  FeedTasks.tasks(partitions = 8, rows = 200000L, slots = 2) == 8
 *  val fed = FeedTasks.of(df.queryExecution.toRdd, rows = 10000L, slots = 2)
 *  }}}
 */
object FeedTasks {

  /** Rows a feed task should carry at least: a full batch ([[ColumnBatchEncoder]]). */
  val MinTaskRows: Long = ColumnBatchEncoder.DefaultMaxRows.toLong

  /** Tasks per task slot at least, so every slot keeps working while tasks end unevenly. */
  val TasksPerSlot = 2

  /** Tasks that feed `rows` rows held in `partitions` partitions with `slots` task slots: the
   *  partitions, or fewer when they average under [[MinTaskRows]] rows and outnumber
   *  [[TasksPerSlot]] tasks per slot. */
  def tasks(partitions: Int, rows: Long, slots: Int): Int = {
    val wanted = math.max(TasksPerSlot.toLong * math.max(1, slots),
      (rows + MinTaskRows - 1) / MinTaskRows)
    if (partitions <= wanted) partitions else wanted.toInt
  }

  /** `rows` (holding `total` rows) cut into [[tasks]] tasks for the application's slots. */
  def of[T: ClassTag](rows: RDD[T], total: Long, slots: Int): RDD[T] = {
    val k = tasks(rows.getNumPartitions, total, slots)
    if (k == rows.getNumPartitions) rows
    else rows.coalesce(k, shuffle = false, partitionCoalescer = Some(new LocationCoalescer))
  }

  /** For a pass whose rows cost little each (a count): [[TasksPerSlot]] tasks per slot at
   *  most, partitions grouped as for the feed. */
  def forCounting[T: ClassTag](rows: RDD[T], slots: Int): RDD[T] = of(rows, 0L, slots)
}
