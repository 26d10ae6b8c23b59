package org.apache.spark.sql.sparktf

import org.apache.spark.rdd.RDD
import org.apache.spark.sql.DataFrame
import org.apache.spark.sql.catalyst.plans.logical.{LogicalPlan, Project}
import org.apache.spark.sql.execution.columnar.InMemoryRelation

import io.sparktf.feed.FeedTasks

/** The cache a DataFrame reads as is, when it does: partition `p` of the DataFrame's scan is
 *  partition `p` of the cache, whose batches know their row counts. It lives in Spark's package
 *  because the cache's relation and batches are Spark internals.
 *  {{{
 *  CachedRowCounts.of(df.cache()).map(_.count(slots = 2))   // Some(rows per partition), no row decoded
 *  }}}
 */
object CachedRowCounts {

  /** A cache: `key` names it for its life (application and RDD id; a new cache is a new RDD),
   *  `count` runs the job that sums its batches' row counts per partition. */
  final case class Cache(key: (String, Int), private val batches: RDD[(Int, Long)]) {

    /** Rows per partition, counted by few tasks for `slots` task slots
     *  ([[FeedTasks.forCounting]]: a partition's count costs its task far less than the task). */
    def count(slots: Int): IndexedSeq[Long] =
      FeedTasks.forCounting(batches, slots).collect().sortBy(_._1).map(_._2).toIndexedSeq
  }

  def of(df: DataFrame): Option[Cache] = cachedRelation(df.queryExecution.optimizedPlan).map {
    cached =>
      val buffers = cached.cacheBuilder.cachedColumnBuffers
      Cache((buffers.sparkContext.applicationId, buffers.id),
        buffers.mapPartitionsWithIndex((p, batches) =>
          Iterator(p -> batches.map(_.numRows.toLong).sum)))
  }

  /** The cache the plan reads as is: a projection keeps every row, anything else may not. */
  private def cachedRelation(plan: LogicalPlan): Option[InMemoryRelation] = plan match {
    case r: InMemoryRelation => Some(r)
    case Project(exprs, child) if exprs.forall(_.deterministic) => cachedRelation(child)
    case _ => None
  }
}
