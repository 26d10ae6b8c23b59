package org.apache.spark.sql.sparktf

import org.apache.spark.connect.proto.Relation
import org.apache.spark.sql.DataFrame
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan
import org.apache.spark.sql.classic.Dataset
import org.apache.spark.sql.connect.planner.SparkConnectPlanner

/** A Connect client's DataFrame in the server: its plan (a serialized `spark.connect.Relation`)
 *  planned by the session's own planner. It lives in Spark's package because `Dataset.ofRows` is
 *  `private[sql]`.
 *  {{{
 *  val df = ConnectFrames.fromRelation(planner, message.getInput.toByteArray)
 *  }}}
 */
object ConnectFrames {
  def fromRelation(planner: SparkConnectPlanner, relation: Array[Byte]): DataFrame =
    Dataset.ofRows(planner.session, planner.transformRelation(Relation.parseFrom(relation)))

  /** What a relation plugin answers: the DataFrame's plan, analysed, in the client's session. */
  def planOf(df: DataFrame): LogicalPlan = df.queryExecution.analyzed
}
