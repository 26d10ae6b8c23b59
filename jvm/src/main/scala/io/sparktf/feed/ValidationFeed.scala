package io.sparktf.feed

import org.apache.spark.sql.DataFrame

import io.sparktf.{FeedReport, SparkTFException}
import io.sparktf.cluster.ClusterIncarnation
import io.sparktf.rpc.{NodeChannelFactory, NodeChannels}

/** `train(df, validationDf = Some(v))`'s validation DataFrame: fed once, before the training
 *  rows, as a feed of its own marked `FeedPlan.validation`, split over the fed nodes like any
 *  feed (shares differing by at most a row, so every node takes the same number of validation
 *  steps). The node keeps it in memory for `feed.validation_dataset(...)`, which every Keras
 *  epoch reads again (`sparktf.node.validation_set`, with its limit). Counted and checked like
 *  a training feed.
 *  {{{
 *  val report = ValidationFeed.run(supervisor.current, validationDf, Nil, Nil, feedTimeout)
 *  }}}
 */
object ValidationFeed {
  def run(cluster: ClusterIncarnation, df: DataFrame, inputMapping: Seq[(String, String)],
      raggedColumns: Seq[String], feedTimeoutSeconds: Double,
      channels: NodeChannelFactory = NodeChannels): FeedReport = {
    val fed = cluster.nodes.filter(_.role.takesData).toIndexedSeq
    val columns =
      try FeedColumn.fromSchema(df.schema, inputMapping, raggedColumns.toSet)
      catch {
        case e: SparkTFException => throw new FeedRefused(s"validation_df: ${e.getMessage}")
      }
    val plan = ClusterFeed.plan(df, cluster.clusterId, fed.size)
    new ClusterFeed(cluster.clusterId, fed, cluster.secret, feedTimeoutSeconds, channels)
      .run(df, columns, plan, numEpochs = 1, validation = true)
  }
}
