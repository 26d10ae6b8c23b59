package io.sparktf.connect

import com.fasterxml.jackson.databind.ObjectMapper
import org.apache.spark.sql.DataFrame
import org.apache.spark.sql.connect.planner.SparkConnectPlanner
import org.apache.spark.sql.sparktf.ConnectFrames

import io.sparktf.{ClusterConfig, SparkTFException, TFCluster, TFProgram}
import io.sparktf.connect.ConnectClusters.Session
import io.sparktf.ml.{TFEstimator, TFModel}
import io.sparktf.proto.v1.{ConnectCommand, ConnectRelation}
import io.sparktf.python.TFClusterBridge

/** What each Connect operation does in the server's driver: it decodes the message and calls
 *  what the py4j API calls ([[TFClusterBridge]], the Spark ML stages), so every decision stays in
 *  one place. Commands answer JSON; relations answer a DataFrame.
 *  {{{
 *  ConnectOperations.command(ConnectCommand.parseFrom(bytes), planner)   // e.g. a feed report
 *  }}}
 */
object ConnectOperations {
  private val mapper = new ObjectMapper()

  def sessionOf(planner: SparkConnectPlanner): Session =
    Session(planner.sessionHolder.userId, planner.sessionHolder.sessionId)

  /** The cluster a command works on, if any (stopped if its client goes away mid-call). */
  def handleOf(c: ConnectCommand): Option[String] = c.getOperationCase match {
    case ConnectCommand.OperationCase.TRAIN => Some(c.getTrain.getHandle)
    case ConnectCommand.OperationCase.STATUS => Some(c.getStatus.getHandle)
    case ConnectCommand.OperationCase.SHUTDOWN => Some(c.getShutdown.getHandle)
    case _ => None
  }

  def command(c: ConnectCommand, planner: SparkConnectPlanner): String = {
    val session = sessionOf(planner)
    c.getOperationCase match {
      case ConnectCommand.OperationCase.RUN =>
        val run = c.getRun
        val cluster = TFClusterBridge.run(planner.session,
          TFProgram.pickled(run.getProgram.toByteArray), run.getSettingsJson)
        val handle = ConnectClusters.add(session, cluster, planner.session.sparkContext)
        status(cluster).put("handle", handle).toString
      case ConnectCommand.OperationCase.TRAIN =>
        val train = c.getTrain
        val cluster = ConnectClusters.get(session, train.getHandle)
        val validation =
          if (train.getValidationInput.isEmpty) null
          else ConnectFrames.fromRelation(planner, train.getValidationInput.toByteArray)
        TFClusterBridge.train(
          cluster,
          ConnectFrames.fromRelation(planner, train.getInput.toByteArray),
          train.getNumEpochs,
          train.getInputMappingJson,
          train.getRaggedColumnsJson,
          validation
        )
      case ConnectCommand.OperationCase.STATUS =>
        status(ConnectClusters.get(session, c.getStatus.getHandle)).toString
      case ConnectCommand.OperationCase.SHUTDOWN =>
        val shutdown = c.getShutdown
        val cluster = ConnectClusters.get(session, shutdown.getHandle)
        // Forgotten whatever the shutdown raises: a failed cluster is stopped all the same.
        try {
          if (shutdown.hasTimeoutSeconds) cluster.shutdown(shutdown.getTimeoutSeconds)
          else cluster.shutdown()
        } finally ConnectClusters.remove(session, shutdown.getHandle)
        status(cluster).toString
      case ConnectCommand.OperationCase.FIT =>
        val fit = c.getFit
        val estimator = ConnectParams.applied(new TFEstimator(), fit.getParamsJson)
          .setProgram(TFProgram.pickled(fit.getProgram.toByteArray))
        ConnectParams.toJson(estimator.fit(ConnectFrames.fromRelation(planner,
              fit.getInput
                .toByteArray)))
      case ConnectCommand.OperationCase.RUN_FUNCTION =>
        val run = c.getRunFunction
        val pickled = TFCluster.runFunction(planner.session,
          TFProgram.pickled(run.getProgram.toByteArray),
          ClusterConfig.fromJson(run.getSettingsJson),
          run.getMaxResultBytes)
        mapper.createObjectNode().set("value", PickledValue.toJson(pickled)).toString
      case ConnectCommand.OperationCase.OPERATION_NOT_SET => throw unknown("command")
    }
  }

  def relation(r: ConnectRelation, planner: SparkConnectPlanner): DataFrame =
    r.getOperationCase match {
      case ConnectRelation.OperationCase.INFERENCE =>
        val inference = r.getInference
        TFClusterBridge.inference(
          ConnectClusters.get(sessionOf(planner), inference.getHandle),
          ConnectFrames.fromRelation(planner, inference.getInput.toByteArray),
          inference.getOutputSchema,
          inference.getInputMappingJson,
          inference.getBatchSize
        )
      case ConnectRelation.OperationCase.TRANSFORM =>
        val transform = r.getTransform
        ConnectParams.applied(new TFModel(), transform.getParamsJson)
          .transform(ConnectFrames.fromRelation(planner, transform.getInput.toByteArray))
      case ConnectRelation.OperationCase.OPERATION_NOT_SET => throw unknown("relation")
    }

  /** What `cluster.nodes`, `tensorboard_url`, `cluster_id`, `restarts` read. */
  private def status(cluster: TFCluster) = {
    val node = mapper.createObjectNode()
    node.put("cluster_id", cluster.clusterId).put("restarts", cluster.restarts)
      .put("state", cluster.state.name)
    cluster.tensorboardUrl.fold(node.putNull("tensorboard_url"))(node.put("tensorboard_url", _))
    node.replace("nodes", mapper.readTree(TFClusterBridge.nodes(cluster)))
    node
  }

  private def unknown(what: String) = new SparkTFException(
    s"the sparktf Connect $what names no operation this server knows: is the client's sparktf " +
      "newer than the server's jar? Use the same sparktf version on both")
}
