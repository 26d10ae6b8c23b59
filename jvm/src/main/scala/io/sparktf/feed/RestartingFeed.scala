package io.sparktf.feed

import scala.collection.mutable.ArrayBuffer
import scala.util.control.NonFatal

import org.apache.spark.sql.DataFrame

import io.sparktf.FeedReport
import io.sparktf.cluster.{ClusterLayout, ClusterSupervisor}

/** One `train()` call that outlives node failures while restarts remain: when the feed fails
 *  because a node failed (`nodeFailures` names it: its program raised, or it died), `stopNodes`
 *  stops the failed cluster, the supervisor starts a fresh one, and the feed goes on from the
 *  epoch in progress, fed again from its start, then the epochs not fed yet. Rows of the epoch in
 *  progress that reached the failed cluster are fed again (at least once); epochs fed whole
 *  before the failure are not.
 *  {{{
 *  new RestartingFeed(supervisor, layout, feedTimeout, () => unwellNodes(), () => stopAll())
 *    .run(df, FeedColumn.fromSchema(df.schema, Nil), numEpochs = 3)
 *  }}}
 *  A failure with every node well (a null in a column, a feed timeout) is not restarted: it
 *  would fail the same way again. That failure, or one without restarts left, passes to the
 *  caller unchanged.
 */
final class RestartingFeed(supervisor: ClusterSupervisor, layout: ClusterLayout,
    feedTimeoutSeconds: Double, nodeFailures: () => Seq[String], stopNodes: () => Unit) {

  def run(df: DataFrame, columns: IndexedSeq[FeedColumn], numEpochs: Int): FeedReport = {
    val started = System.nanoTime()
    val epochsFed = ArrayBuffer[Map[String, Long]]() // rows per node address, one per epoch
    val restartedEpochs = ArrayBuffer[Int]()
    var last: Option[FeedReport] = None
    while (last.isEmpty) {
      val cluster = supervisor.current
      val fed = cluster.nodes.filter(_.role.takesData).toIndexedSeq
      val zero = fed.map(_.role.address -> 0L).toMap
      try {
        last = Some(new ClusterFeed(cluster.clusterId, fed, cluster.secret, feedTimeoutSeconds)
          .run(df, columns, numEpochs - epochsFed.size, results => epochsFed += zero ++
            results.groupBy(_.nodeIndex).map { case (i, rs) =>
              layout.roles(i).address -> rs.map(_.rowsAtNode).sum
            }))
      } catch {
        case NonFatal(e) if supervisor.canRestart =>
          val failures = nodeFailures()
          if (failures.isEmpty) throw e
          stopNodes()
          // Every epoch was fed but the feed failed to end: the programs were still training
          // on the last one, so it is the epoch in progress.
          if (epochsFed.size == numEpochs) epochsFed.remove(epochsFed.size - 1)
          restartedEpochs += epochsFed.size + 1
          supervisor.restart(failures.mkString("\n"))
      }
    }
    val rowsPerNode = epochsFed.flatten.groupMapReduce(_._1)(_._2)(_ + _)
    last.get.copy(
      epochs = epochsFed.size,
      rowsPerNode = last.get.rowsPerNode.map { case (n, _) => n -> 0L } ++ rowsPerNode,
      seconds = (System.nanoTime() - started) / 1e9,
      restarts = restartedEpochs.size,
      restartedEpochs = restartedEpochs.toSeq)
  }
}
