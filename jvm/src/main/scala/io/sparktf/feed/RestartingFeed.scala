package io.sparktf.feed

import java.util.UUID

import scala.collection.mutable.ArrayBuffer
import scala.util.control.NonFatal

import org.apache.spark.sql.DataFrame

import io.sparktf.FeedReport
import io.sparktf.cluster.{ClusterHealth, ClusterIncarnation, ClusterIncarnations, ClusterLayout}
import io.sparktf.rpc.{NodeChannelFactory, NodeChannels}

/** One `train()` call that outlives node failures while restarts remain: when the feed fails
 *  because a node failed (`health` names it: its program raised, or it died), the failed
 *  cluster is stopped, a fresh one started, and the feed goes on from the epoch in progress,
 *  fed again from its start, then the epochs not fed yet. Rows of the epoch in progress that
 *  reached the failed cluster are fed again (at least once); epochs fed whole before the failure
 *  are not, unless the programs recorded that they had not finished them (Keras 3 `fit` does,
 *  in `checkpointDir`; see [[FinishedEpochs]]): the feed then goes on from the first epoch they
 *  had not finished, where BackupAndRestore resumes, and the report counts no later epoch of
 *  the failed cluster.
 *  {{{
 *  val plan = ClusterFeed.plan(df, supervisor.current.clusterId, layout.fed.size)
 *  new RestartingFeed(supervisor, new ClusterHealth(sc, supervisor), layout, feedTimeout)
 *    .run(df, FeedColumn.fromSchema(df.schema, Nil), plan, numEpochs = 3)
 *  }}}
 *  A failure with every node well (a null in a column, a feed timeout) is not restarted: it
 *  would fail the same way again. That failure, one without restarts left, and a
 *  [[FeedRefused]] pass to the caller unchanged.
 */
final class RestartingFeed(incarnations: ClusterIncarnations, health: ClusterHealth,
    layout: ClusterLayout, feedTimeoutSeconds: Double,
    channels: NodeChannelFactory = NodeChannels, checkpointDir: Option[String] = None) {

  /** @param progress     moved as the epochs go, back to the epochs kept on a restart
   *  @param showProgress  poll and log the progress (see [[FeedProgressWatch]])
   *  @param first         fed to each incarnation before its training rows (the validation
   *                       DataFrame, [[ValidationFeed]]): a restarted cluster gets it again; a
   *                       node failure in it restarts like one in the training feed. The
   *                       report's `validationRowsPerNode` is the last incarnation's. */
  def run(df: DataFrame, columns: IndexedSeq[FeedColumn], plan: FeedPlan, numEpochs: Int,
      progress: Option[FeedProgress] = None, showProgress: Boolean = false,
      first: Option[ClusterIncarnation => FeedReport] = None): FeedReport = {
    val started = System.nanoTime()
    // Rows per node address, one entry per epoch fed whole to a cluster that failed later.
    val before = ArrayBuffer[Map[String, Long]]()
    val restartedEpochs = ArrayBuffer[Int]()
    var last: Option[FeedReport] = None
    while (last.isEmpty) {
      val cluster = incarnations.current
      val fed = cluster.nodes.filter(_.role.takesData).toIndexedSeq
      val zero = fed.map(_.role.address -> 0L).toMap
      val fedNow = ArrayBuffer[Map[String, Long]]()
      val feedId = UUID.randomUUID().toString
      try {
        val validated = first.map(_(cluster))
        last = Some(new ClusterFeed(cluster.clusterId, fed, cluster.secret, feedTimeoutSeconds,
            channels).run(
            df,
            columns,
            plan,
            numEpochs - before.size,
            results =>
              fedNow += zero ++
                results.groupBy(_.nodeIndex).map { case (i, rs) =>
                  layout.roles(i).address -> rs.map(_.rowsAtNode).sum
                },
            progress,
            showProgress,
            feedId = feedId
          ).copy(validationRowsPerNode = validated.map(_.rowsPerNode).getOrElse(Map.empty)))
      } catch {
        case e: FeedRefused => throw e
        case NonFatal(e) if incarnations.canRestart =>
          val failures = health.nodeProblems()
          if (failures.isEmpty) throw e
          health.stopAfterFailure()
          val startedAt = before.size
          before ++= fedNow
          val finished = checkpointDir.flatMap(dir =>
            FinishedEpochs.agreed(dir, cluster.clusterId, feedId, fed,
              fed.indices.map(plan.nodeRows), startedAt,
              df.sparkSession.sparkContext.hadoopConfiguration))
          finished match {
            // What the programs recorded: epochs fed whole after it were still in their
            // queues, and are fed again.
            case Some(k) if k < before.size => before.remove(k, before.size - k)
            // Every epoch was fed but the feed failed to end: the programs were still training
            // on the last one, so it is the epoch in progress.
            case _ => if (before.size == numEpochs) before.remove(before.size - 1)
          }
          restartedEpochs += before.size + 1
          progress.foreach(_.restarted(before.size))
          incarnations.restart(failures.mkString("\n"))
      }
    }
    progress.foreach(_.finished())
    val report = last.get
    val rowsPerNode = (before.flatten ++ report.rowsPerNode).groupMapReduce(_._1)(_._2)(_ + _)
    report.copy(
      epochs = before.size + report.epochs,
      rowsPerNode = rowsPerNode,
      seconds = (System.nanoTime() - started) / 1e9,
      restarts = restartedEpochs.size,
      restartedEpochs = restartedEpochs.toSeq
    )
  }
}
