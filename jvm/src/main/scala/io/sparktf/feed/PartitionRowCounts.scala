package io.sparktf.feed

import java.util.concurrent.ConcurrentHashMap

import scala.reflect.ClassTag

import org.apache.spark.rdd.RDD
import org.apache.spark.sql.{Column, DataFrame}
import org.apache.spark.sql.sparktf.CachedRowCounts

/** The rows in each partition of a DataFrame, which the [[FeedPlan]] needs before any row is fed.
 *
 *  A cached DataFrame (or a projection of one) is counted from its cached batches' row counts,
 *  without decoding a row ([[CachedRowCounts]]). Those counts are remembered for the cache's
 *  life, so `train()` per epoch on one cached DataFrame runs no counting job after the first (a
 *  feed task still checks its partition's count as it reads). Any other DataFrame is counted by
 *  a pass over its rows; [[total]], all the feed plan needs, counts it without decoding a column.
 *  Many small partitions are counted by few tasks ([[FeedTasks.forCounting]]).
 *  {{{
 *  val counts = PartitionRowCounts(df.cache())   // one entry per partition of df
 *  val rows = PartitionRowCounts.total(spark.read.parquet(path))  // from footers, no column read
 *  }}}
 */
object PartitionRowCounts {

  /** Counts of cached RDDs, by application and RDD id. */
  private val cachedCounts = new ConcurrentHashMap[(String, Int), IndexedSeq[Long]]()
  private val MaxRemembered = 256

  /** The rows of `df`: from its cache's batch counts, or from the same plan with every column
   *  pruned (a Parquet or ORC scan then reads row counts from its files' metadata and decodes
   *  nothing; a filter still reads the columns it tests). */
  def total(df: DataFrame): Long =
    if (CachedRowCounts.of(df).isDefined) apply(df).sum
    else counting(columnless(df).queryExecution.toRdd, df)
      .mapPartitions(rows => Iterator(rows.size.toLong)).collect().sum

  /** `df` with every column pruned: what [[total]] counts when `df` is not cached. */
  def columnless(df: DataFrame): DataFrame = df.select(Seq.empty[Column]: _*)

  /** Partitions counted by few tasks: a count costs little per row, a task ~20 ms. */
  private def counting[T: ClassTag](rows: RDD[T], df: DataFrame): RDD[T] =
    FeedTasks.forCounting(rows, slots(df))

  private def slots(df: DataFrame): Int = df.sparkSession.sparkContext.defaultParallelism

  def apply(df: DataFrame): IndexedSeq[Long] = CachedRowCounts.of(df) match {
    case Some(cache) =>
      Option(cachedCounts.get(cache.key)).getOrElse {
        val counts = cache.count(slots(df))
        if (cachedCounts.size >= MaxRemembered) cachedCounts.clear()
        cachedCounts.put(cache.key, counts)
        counts
      }
    case None => df.queryExecution.toRdd.mapPartitions(rows => Iterator(rows.size.toLong))
        .collect().toIndexedSeq
  }
}
