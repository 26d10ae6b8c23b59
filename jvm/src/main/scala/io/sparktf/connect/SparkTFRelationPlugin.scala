package io.sparktf.connect

import java.util.Optional

import com.google.protobuf.{Any => ProtoAny}
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan
import org.apache.spark.sql.connect.planner.SparkConnectPlanner
import org.apache.spark.sql.connect.plugin.RelationPlugin
import org.apache.spark.sql.sparktf.ConnectFrames

import io.sparktf.proto.v1.ConnectRelation

/** sparktf's Spark Connect relation plugin: plans a client's [[ConnectRelation]]
 *  (`cluster.inference`, `TFModel.transform`) into the DataFrame the classic API returns, so the
 *  client gets a Connect DataFrame to show, cache or write. Planning checks the columns and the
 *  schema (a refusal reaches the client when it plans, as in classic mode); rows stream when an
 *  action runs. Registered with `spark.connect.extensions.relation.classes` (see
 *  [[SparkTFCommandPlugin]] for the server's command line):
 *  {{{
 *  scored = cluster.inference(connect_df, "doubled float")   # Python, a Connect session
 *  }}}
 */
class SparkTFRelationPlugin extends RelationPlugin {
  override def transform(relation: Array[Byte],
      planner: SparkConnectPlanner): Optional[LogicalPlan] = {
    val any = ProtoAny.parseFrom(relation)
    if (!any.is(classOf[ConnectRelation])) return Optional.empty()
    val message = any.unpack(classOf[ConnectRelation])
    Optional.of(ConnectFrames.planOf(ConnectOperations.relation(message, planner)))
  }
}
