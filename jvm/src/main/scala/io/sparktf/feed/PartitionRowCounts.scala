package io.sparktf.feed

import java.util.concurrent.ConcurrentHashMap

import org.apache.spark.sql.DataFrame
import org.apache.spark.sql.sparktf.CachedRowCounts

/** The rows in each partition of a DataFrame, which the [[FeedPlan]] needs before any row is fed.
 *
 *  A cached DataFrame (or a projection of one) is counted from its cached batches' row counts,
 *  without decoding a row ([[CachedRowCounts]]). Those counts are remembered for the cache's
 *  life, so `train()` per epoch on one cached DataFrame runs no counting job after the first (a
 *  feed task still checks its partition's count as it reads). Any other DataFrame is counted by
 *  a pass over its rows.
 *  {{{
 *  val counts = PartitionRowCounts(df.cache())   // one entry per partition of df
 *  }}}
 */
object PartitionRowCounts {

  /** Counts of cached RDDs, by application and RDD id. */
  private val cachedCounts = new ConcurrentHashMap[(String, Int), IndexedSeq[Long]]()
  private val MaxRemembered = 256

  def apply(df: DataFrame): IndexedSeq[Long] = CachedRowCounts.of(df) match {
    case Some(cache) =>
      Option(cachedCounts.get(cache.key)).getOrElse {
        val counts = cache.count()
        if (cachedCounts.size >= MaxRemembered) cachedCounts.clear()
        cachedCounts.put(cache.key, counts)
        counts
      }
    case None => df.queryExecution.toRdd.mapPartitions(rows => Iterator(rows.size.toLong))
        .collect().toIndexedSeq
  }
}
