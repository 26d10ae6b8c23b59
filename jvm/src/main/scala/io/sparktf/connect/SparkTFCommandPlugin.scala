package io.sparktf.connect

import com.google.protobuf.{Any => ProtoAny}
import org.apache.spark.connect.proto.ExecutePlanResponse
import org.apache.spark.sql.connect.planner.SparkConnectPlanner
import org.apache.spark.sql.connect.plugin.CommandPlugin
import org.sparkproject.connect.protobuf.{Any => SparkAny, ByteString => SparkByteString}
import org.slf4j.LoggerFactory

import io.sparktf.SparkTFException
import io.sparktf.proto.v1.{ConnectCommand, ConnectReply}

/** sparktf's Spark Connect command plugin: runs a client's [[ConnectCommand]] (start a cluster,
 *  train, status, shutdown, fit a TFEstimator, sparktf.run) in the server's driver and answers one
 *  [[ConnectReply]] in an `ExecutePlanResponse.extension`. A sparktf failure is answered as the
 *  reply's error (the text the classic API raises: node, traceback), not as a server error.
 *  Start the server with it:
 *  {{{
 *  spark-submit --class org.apache.spark.sql.connect.service.SparkConnectServer \
 *    --jars sparktf_2.13-0.1.0.jar \
 *    --conf spark.connect.extensions.command.classes=io.sparktf.connect.SparkTFCommandPlugin \
 *    --conf spark.connect.extensions.relation.classes=io.sparktf.connect.SparkTFRelationPlugin
 *  }}}
 *  Spark hands a plugin the serialized `google.protobuf.Any` as bytes (Spark 4's plugin API), so
 *  sparktf reads it with its own (shaded) protobuf: only the wire format is shared.
 */
class SparkTFCommandPlugin extends CommandPlugin {
  import SparkTFCommandPlugin._

  override def process(command: Array[Byte], planner: SparkConnectPlanner): Boolean = {
    val any = ProtoAny.parseFrom(command)
    if (!any.is(classOf[ConnectCommand])) return false
    val message = any.unpack(classOf[ConnectCommand])
    val reply =
      try ConnectReply.newBuilder().setJson(ConnectOperations.command(message, planner)).build()
      catch {
        case e: Throwable =>
          if (interrupted(e)) stopAbandoned(message, planner)
          sparkTFMessage(e) match {
            case Some(text) => ConnectReply.newBuilder().setError(text).build()
            case None => throw e
          }
      }
    send(reply, planner)
    true
  }
}

object SparkTFCommandPlugin {
  private val log = LoggerFactory.getLogger(classOf[SparkTFCommandPlugin])

  /** The message of the first SparkTFException in the causes, as the py4j API raises it. */
  private[connect] def sparkTFMessage(e: Throwable): Option[String] =
    Iterator.iterate(e)(_.getCause).takeWhile(_ != null)
      .collectFirst { case s: SparkTFException => s.getMessage }

  /** The server interrupts a command whose client went away (detached for longer than
   *  `spark.connect.execute.manager.detachedTimeout`), or that the client interrupted. */
  private def interrupted(e: Throwable): Boolean =
    Thread.currentThread().isInterrupted ||
      Iterator.iterate(e)(_.getCause).takeWhile(_ != null).exists {
        case _: InterruptedException => true
        case s: org.apache.spark.SparkException =>
          String.valueOf(s.getMessage).contains("cancelled")
        case _ => false
      }

  /** A command on a cluster nobody waits for any more: its cluster is stopped, not leaked. */
  private def stopAbandoned(message: ConnectCommand, planner: SparkConnectPlanner): Unit =
    ConnectOperations.handleOf(message).foreach { handle =>
      val wasInterrupted = Thread.interrupted() // the shutdown below waits
      try ConnectClusters.stop(ConnectOperations.sessionOf(planner), handle,
          "its command was interrupted (the client went away or interrupted it)")
      finally if (wasInterrupted) Thread.currentThread().interrupt()
    }

  private def send(reply: ConnectReply, planner: SparkConnectPlanner): Unit = {
    val holder = planner.executeHolderOpt.getOrElse(throw new IllegalStateException(
        "a sparktf Connect command ran outside an ExecutePlan request"))
    val extension = SparkAny.newBuilder()
      .setTypeUrl(ProtoAny.pack(reply).getTypeUrl)
      .setValue(SparkByteString.copyFrom(reply.toByteArray))
    val response = ExecutePlanResponse.newBuilder()
      .setSessionId(planner.sessionHolder.sessionId)
      .setServerSideSessionId(planner.sessionHolder.serverSessionId)
      .setOperationId(holder.operationId)
      .setExtension(extension)
      .build()
    // Through reflection: the Scala signature of Spark's ExecuteResponseObserver names protobuf
    // unshaded (`T <: com.google.protobuf.Message`), so a direct call would cast the response to
    // that class, which sparktf's jar relocates (its own protobuf), and fail at runtime.
    val observer = holder.getClass.getMethod("responseObserver").invoke(holder)
    observer.getClass.getMethod("onNext", classOf[Object]).invoke(observer, response)
    log.debug(s"sparktf: answered Connect operation ${holder.operationId}")
  }
}
