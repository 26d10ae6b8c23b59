package io.sparktf.infer

import java.util.UUID

import scala.jdk.CollectionConverters._

import org.apache.spark.sparktf.ExecutorIdentity
import org.apache.spark.sql.DataFrame
import org.apache.spark.sql.sparktf.InternalFrames
import org.apache.spark.sql.types.StructType

import io.sparktf.cluster.NodeInfo
import io.sparktf.feed.{FeedColumn, NodePreference}
import io.sparktf.proto.v1.InferStart
import io.sparktf.rpc.{ClusterSecret, NodeChannelFactory, NodeChannels}

/** `cluster.inference(df)`: each partition streams to one fed node, whose program answers each
 *  batch with `feed.batch_results`; the answers are appended to the rows as new columns. The
 *  node is the one on the task's executor, else one on its host (both through shared memory),
 *  else another, rotating by partition ([[NodePreference]]): rows cross the network only from
 *  hosts without a fed node.
 *  Lazy like any DataFrame: every action streams the rows again.
 *  {{{
 *  new ClusterInference(clusterId, fedNodes, secret, 600).run(df, columns, results, 1024)
 *  }}}
 */
final class ClusterInference(clusterId: String, fed: IndexedSeq[NodeInfo], secret: ClusterSecret,
    idleTimeoutSeconds: Double, channels: NodeChannelFactory = NodeChannels) {

  def run(df: DataFrame, columns: IndexedSeq[FeedColumn], results: IndexedSeq[ResultColumn],
      batchRows: Int): DataFrame = {
    val inferenceId = UUID.randomUUID().toString
    val inputSchema = df.schema
    val nodes = fed
    val cid = clusterId
    val sec = secret
    val timeout = idleTimeoutSeconds
    val factory = channels
    val rows = df.queryExecution.toRdd.mapPartitionsWithIndex { (p, input) =>
      val node = nodes(NodePreference.order(nodes, ExecutorIdentity.executorId,
          ExecutorIdentity.host, p).head)
      val start = InferStart.newBuilder().setClusterId(cid).setInferenceId(inferenceId)
        .setPartition(p).addAllOutputs(results.map(_.spec).asJava).build()
      new InferenceCall(factory.channel(node, sec), start, columns, results,
        s"node ${node.describe}", p, batchRows, timeout, sharedDir = node.sharedDir).run(input)
    }
    // The name the Spark UI shows for it in the stages of whatever action runs it.
    rows.setName(s"sparktf cluster $clusterId: inference")
    InternalFrames.create(df.sparkSession, rows,
      StructType(inputSchema.fields ++ results.map(_.field)))
  }
}
