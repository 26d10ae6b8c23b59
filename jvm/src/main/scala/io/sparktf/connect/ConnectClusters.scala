package io.sparktf.connect

import java.util.UUID
import java.util.concurrent.ConcurrentHashMap

import scala.jdk.CollectionConverters._
import scala.util.control.NonFatal

import org.apache.spark.SparkContext
import org.apache.spark.scheduler.{SparkListener, SparkListenerEvent}
import org.apache.spark.sql.connect.service.SparkListenerConnectSessionClosed
import org.slf4j.LoggerFactory

import io.sparktf.{SparkTFException, TFCluster}

/** The clusters Spark Connect clients started, held in the server's driver by a handle the client
 *  keeps, each bound to the Connect session that started it: only that session reaches it, and
 *  when the session closes (the client's `spark.stop()`, or the server ending a session idle for
 *  `spark.connect.session.manager.defaultSessionTimeout`) its clusters are shut down. A command
 *  whose client went away mid-call is interrupted by the server
 *  (`spark.connect.execute.manager.detachedTimeout`); the plugin then stops its cluster too
 *  ([[SparkTFCommandPlugin]]). So a client that vanishes without `shutdown()` leaks no node.
 *  {{{
 *  val handle = ConnectClusters.add(session, cluster)
 *  ConnectClusters.get(session, handle).train(df)
 *  ConnectClusters.remove(session, handle).foreach(_.shutdown())
 *  }}}
 */
object ConnectClusters {
  private val log = LoggerFactory.getLogger(getClass)

  /** A Connect session: the user and the client's session id. */
  final case class Session(userId: String, sessionId: String) {
    override def toString: String = s"session $sessionId of user '$userId'"
  }

  private val clusters = new ConcurrentHashMap[(Session, String), TFCluster]()
  @volatile private var listening: Option[SparkContext] = None

  def add(session: Session, cluster: TFCluster, sc: SparkContext): String = {
    listenForClosedSessions(sc)
    val handle = UUID.randomUUID().toString
    clusters.put((session, handle), cluster)
    handle
  }

  def get(session: Session, handle: String): TFCluster =
    Option(clusters.get((session, handle))).getOrElse(throw new SparkTFException(
        s"no sparktf cluster '$handle' in this Connect $session: it was shut down, its session " +
          "closed, or it belongs to another session (a cluster is reachable only from the " +
          "session that started it)"))

  def remove(session: Session, handle: String): Option[TFCluster] =
    Option(clusters.remove((session, handle)))

  /** Handles of the session's clusters (for tests and logs). */
  def handles(session: Session): Seq[String] =
    clusters.keySet().asScala.collect { case (s, h) if s == session => h }.toSeq

  /** Stops the cluster and forgets it; errors are logged, since nobody waits for them. */
  def stop(session: Session, handle: String, why: String): Unit =
    remove(session, handle).foreach { cluster =>
      log.warn(s"sparktf: stopping cluster ${cluster.clusterId} of Connect $session: $why")
      try cluster.shutdown(0.0)
      catch {
        case NonFatal(e) => log.warn(s"sparktf: cluster ${cluster.clusterId}: ${e.getMessage}")
      }
    }

  private[connect] def sessionClosed(session: Session): Unit = {
    val mine = handles(session)
    if (mine.nonEmpty) {
      // Off the listener bus: shutting a cluster down waits for its nodes.
      val t = new Thread(() => mine.foreach(stop(session, _, "its session closed")),
        s"sparktf-connect-session-closed-${session.sessionId}")
      t.setDaemon(true)
      t.start()
    }
  }

  private def listenForClosedSessions(sc: SparkContext): Unit = synchronized {
    if (!listening.contains(sc)) {
      sc.addSparkListener(new SparkListener {
        override def onOtherEvent(event: SparkListenerEvent): Unit = event match {
          case e: SparkListenerConnectSessionClosed => sessionClosed(Session(e.userId, e.sessionId))
          case _ =>
        }
      })
      listening = Some(sc)
    }
  }
}
