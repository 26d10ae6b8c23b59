package io.sparktf.feed

import java.util.concurrent.ConcurrentHashMap

import org.apache.spark.sql.DataFrame
import org.apache.spark.sql.catalyst.plans.logical.{LogicalPlan, Project}
import org.apache.spark.sql.execution.columnar.InMemoryRelation

/** The rows in each partition of a DataFrame, which the [[FeedPlan]] needs before any row is fed.
 *
 *  A cached DataFrame (or a projection of one) is counted from its cached batches' row counts,
 *  without decoding a row: partition `p` of the scan is partition `p` of the cache. Those counts
 *  are remembered for the cache's life, so `train()` per epoch on one cached DataFrame runs no
 *  counting job after the first (a feed task still checks its partition's count as it reads).
 *  Any other DataFrame is counted by a pass over its rows.
 *  {{{
 *  val counts = PartitionRowCounts(df.cache())   // one entry per partition of df
 *  }}}
 */
object PartitionRowCounts {
  /** Counts of cached RDDs, by application and RDD id (a new cache is a new RDD). */
  private val cachedCounts = new ConcurrentHashMap[(String, Int), IndexedSeq[Long]]()
  private val MaxRemembered = 256

  def apply(df: DataFrame): IndexedSeq[Long] =
    cachedRelation(df.queryExecution.optimizedPlan) match {
      case Some(cached) =>
        val buffers = cached.cacheBuilder.cachedColumnBuffers
        val key = (buffers.sparkContext.applicationId, buffers.id)
        Option(cachedCounts.get(key)).getOrElse {
          val counts = buffers.mapPartitions(batches => Iterator(batches.map(_.numRows.toLong).sum))
            .collect().toIndexedSeq
          if (cachedCounts.size >= MaxRemembered) cachedCounts.clear()
          cachedCounts.put(key, counts)
          counts
        }
      case None => df.queryExecution.toRdd.mapPartitions(rows => Iterator(rows.size.toLong))
        .collect().toIndexedSeq
    }

  /** The cache the plan reads as is: a projection keeps every row, anything else may not. */
  private def cachedRelation(plan: LogicalPlan): Option[InMemoryRelation] = plan match {
    case r: InMemoryRelation => Some(r)
    case Project(exprs, child) if exprs.forall(_.deterministic) => cachedRelation(child)
    case _ => None
  }
}
