package io.sparktf

import com.fasterxml.jackson.databind.ObjectMapper

import scala.jdk.CollectionConverters._

/** What one [[TFCluster.train]] call fed: rows per node (every epoch), checked against what
 *  each node acknowledged. After a restart, each epoch is counted once, from the cluster that
 *  took it whole; `restartedEpochs` are the epochs (1-based) that were partly fed to a failed
 *  cluster and then fed again from their start. `sharedMemoryRows` of the rows (those of the
 *  last cluster's feed, after a restart) reached their node through shared memory rather than
 *  the socket (see [[ClusterConfig.sharedMemoryFeed]]); `socketBytes` is what the batches sent
 *  over sockets weighed (on this machine or across the network). After a program's `terminate()`
 *  (`terminated`), its node counts the rows the program took, not those that reached its
 *  queue, and `epochs` the epochs some program took rows of. `validationRowsPerNode`: the rows
 *  of the validation DataFrame each node took (see [[io.sparktf.feed.ValidationFeed]]).
 *  {{{
 *  val report = cluster.train(df, numEpochs = 2)
 *  report.rowsTotal == 2 * df.count()   // unless the program called terminate()
 *  }}}
 */
final case class FeedReport(
    feedId: String,
    epochs: Int,
    rowsPerNode: Map[String, Long],
    seconds: Double,
    terminated: Boolean,
    restarts: Int = 0,
    restartedEpochs: Seq[Int] = Nil,
    sharedMemoryRows: Long = 0L,
    socketBytes: Long = 0L,
    validationRowsPerNode: Map[String, Long] = Map.empty) {
  def rowsTotal: Long = rowsPerNode.values.sum
  def rowsPerSecond: Double = if (seconds > 0) rowsTotal / seconds else 0.0

  def toJson: String = {
    val m = new java.util.LinkedHashMap[String, Any]()
    m.put("feed_id", feedId)
    m.put("epochs", epochs)
    m.put("rows_per_node", new java.util.TreeMap[String, Long](rowsPerNode.asJava))
    m.put("rows_total", rowsTotal)
    m.put("seconds", seconds)
    m.put("rows_per_second", rowsPerSecond)
    m.put("terminated", terminated)
    m.put("restarts", restarts)
    m.put("restarted_epochs", restartedEpochs.map(Int.box).asJava)
    m.put("shared_memory_rows", sharedMemoryRows)
    m.put("socket_bytes", socketBytes)
    m.put("validation_rows_per_node",
      new java.util.TreeMap[String, Long](validationRowsPerNode.asJava))
    new ObjectMapper().writeValueAsString(m)
  }
}
