package io.sparktf.feed

import org.apache.spark.sql.DataFrame
import org.apache.spark.sql.catalyst.plans.logical.{LogicalPlan, Project}
import org.apache.spark.sql.execution.columnar.InMemoryRelation

/** The rows in each partition of a DataFrame, which the [[FeedPlan]] needs before any row is fed.
 *
 *  A cached DataFrame (or a projection of one) is counted from its cached batches' row counts,
 *  without decoding a row: partition `p` of the scan is partition `p` of the cache. Any other
 *  DataFrame is counted by a pass over its rows.
 *  {{{
 *  val counts = PartitionRowCounts(df.cache())   // one entry per partition of df
 *  }}}
 */
object PartitionRowCounts {
  def apply(df: DataFrame): IndexedSeq[Long] = {
    val counts = cachedRelation(df.queryExecution.optimizedPlan) match {
      case Some(cached) => cached.cacheBuilder.cachedColumnBuffers
        .mapPartitions(batches => Iterator(batches.map(_.numRows.toLong).sum))
      case None => df.queryExecution.toRdd.mapPartitions(rows => Iterator(rows.size.toLong))
    }
    counts.collect().toIndexedSeq
  }

  /** The cache the plan reads as is: a projection keeps every row, anything else may not. */
  private def cachedRelation(plan: LogicalPlan): Option[InMemoryRelation] = plan match {
    case r: InMemoryRelation => Some(r)
    case Project(exprs, child) if exprs.forall(_.deterministic) => cachedRelation(child)
    case _ => None
  }
}
