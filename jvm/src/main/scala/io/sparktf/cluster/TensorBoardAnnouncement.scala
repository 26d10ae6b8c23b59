package io.sparktf.cluster

import org.apache.spark.SparkContext
import org.apache.spark.scheduler.{
  AccumulableInfo,
  SparkListener,
  SparkListenerExecutorMetricsUpdate,
  SparkListenerTaskEnd
}
import org.apache.spark.util.CollectionAccumulator

/** How the driver learns the TensorBoard URL in InputMode.TENSORFLOW, where the barrier tasks
 *  that start the nodes last as long as the programs and return nothing before: the task of the
 *  node serving TensorBoard adds its URL to a named accumulator, which its executor's heartbeats
 *  carry to the driver while the task runs (every `spark.executor.heartbeatInterval`, 10 s by
 *  default); this listener keeps the last URL seen.
 *  {{{
 *  val tb = new TensorBoardAnnouncement(sc)
 *  ReservationStage.run(..., tensorboardUrls = Some(tb.accumulator))   // tasks add their URL
 *  tb.url   // Some("http://10.0.0.5:39871/") within a heartbeat of the node's start
 *  }}}
 */
final class TensorBoardAnnouncement(sc: SparkContext) extends SparkListener {
  val accumulator: CollectionAccumulator[String] =
    sc.collectionAccumulator[String]("sparktf: TensorBoard URL")
  @volatile private var last: Option[String] = None
  sc.addSparkListener(this)

  def url: Option[String] = last

  /** A restarted cluster announces its own URL: the old one is gone. */
  def forget(): Unit = last = None

  override def onExecutorMetricsUpdate(e: SparkListenerExecutorMetricsUpdate): Unit =
    e.accumUpdates.foreach { case (_, _, _, infos) => take(infos) }

  override def onTaskEnd(e: SparkListenerTaskEnd): Unit =
    Option(e.taskInfo).foreach(i => take(i.accumulables.toSeq))

  private def take(infos: Seq[AccumulableInfo]): Unit =
    infos.filter(_.id == accumulator.id).flatMap(_.update).foreach {
      case urls: java.util.List[_] if !urls.isEmpty => last = Some(urls.get(urls.size - 1).toString)
      case _ =>
    }

  def close(): Unit = sc.removeSparkListener(this)
}
