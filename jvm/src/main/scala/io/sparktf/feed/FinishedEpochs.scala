package io.sparktf.feed

import scala.util.Try
import scala.util.control.NonFatal

import com.fasterxml.jackson.databind.ObjectMapper
import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.Path

import io.sparktf.cluster.NodeInfo

/** The epochs the programs of a failed cluster had finished, as they recorded them: Keras 3
 *  `fit` in a node writes, after each epoch's callbacks (BackupAndRestore's backup among them),
 *  `<checkpoint dir>/.sparktf/epochs/<cluster id>/<job>-<task>.json` holding the feed id, its
 *  `epochs_finished` and the `rows_taken` of that feed (`sparktf.node.epoch_record`). The
 *  records outlive the node; the driver reads them to re-feed from the first epoch a program
 *  had not finished, where BackupAndRestore resumes.
 *
 *  A record counts only when every fed node has one for this feed, and its rows fit one Keras
 *  epoch per fed epoch: the node took at least its share of every finished epoch of this
 *  incarnation, and at most one epoch more. Otherwise (another loop, tf_keras, a Keras epoch
 *  that is not a fed epoch) the answer is None and the caller keeps its own rule.
 *  {{{
 *  FinishedEpochs.agreed(dir, clusterId, feedId, fed, nodeRows, startedAt = 0, conf)  // Some(3)
 *  }}}
 */
object FinishedEpochs {
  private val mapper = new ObjectMapper()

  def path(dir: String, clusterId: String, node: NodeInfo): Path =
    new Path(s"${dir.stripSuffix("/")}/.sparktf/epochs/$clusterId/" +
      s"${node.role.jobName}-${node.role.taskIndex}.json")

  /** @param nodeRows  each fed node's rows per epoch (the plan's), in `fed` order
   *  @param startedAt epochs of this train() counted before this incarnation's feed began
   *  @return the epochs of this train() every program finished (counted from its start) */
  def agreed(dir: String, clusterId: String, feedId: String, fed: IndexedSeq[NodeInfo],
      nodeRows: IndexedSeq[Long], startedAt: Int, conf: Configuration): Option[Int] = {
    val records = fed.map(n => read(path(dir, clusterId, n), conf))
    if (records.exists(_.forall(_._1 != feedId))) return None
    val finished = records.flatten.map(_._2).min
    val mine = finished - startedAt
    val fits = mine >= 0 && fed.indices.forall { k =>
      val taken = records(k).get._3
      taken >= mine * nodeRows(k) && taken <= (mine + 1) * nodeRows(k)
    }
    if (fits) Some(finished) else None
  }

  /** (feed id, epochs finished, rows taken); None for no record or one that cannot be read. */
  private def read(p: Path, conf: Configuration): Option[(String, Int, Long)] =
    try {
      val fs = p.getFileSystem(conf)
      if (!fs.exists(p)) None
      else {
        val in = fs.open(p)
        val json =
          try mapper.readTree(in)
          finally in.close()
        Try((json.get("feed_id").asText(), json.get("epochs_finished").asInt(),
            json.get("rows_taken").asLong())).toOption
      }
    } catch { case NonFatal(_) => None }
}
