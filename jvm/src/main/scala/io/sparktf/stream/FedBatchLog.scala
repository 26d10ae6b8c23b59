package io.sparktf.stream

import java.nio.charset.StandardCharsets

import scala.util.control.NonFatal

import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.{FileSystem, Path}

import io.sparktf.SparkTFException

/** The micro-batches a training stream has fed whole, kept beside Spark's own logs in the
 *  query's checkpoint location: `<checkpointLocation>/sparktf/fed/<batchId>`, one small file per
 *  micro-batch holding its feed report (JSON). Spark commits a micro-batch only after
 *  `foreachBatch` returned; a query stopped or killed in between runs that micro-batch again
 *  when it restarts, with the same batch id, and this log is how the feed knows it was fed.
 *  A record is written (to a temporary name, then renamed) only after every node acknowledged
 *  and the driver checked the micro-batch's rows.
 *  {{{
 *  val fed = new FedBatchLog("/ckpt/q1", spark.sparkContext.hadoopConfiguration)
 *  if (!fed.contains(7)) { feedIt(); fed.record(7, report.toJson) }
 *  }}}
 */
final class FedBatchLog(checkpointLocation: String, hadoopConf: Configuration) {
  private val dir = new Path(new Path(checkpointLocation), FedBatchLog.Folder)
  private val fs: FileSystem = dir.getFileSystem(hadoopConf)

  def contains(batchId: Long): Boolean = fs.exists(new Path(dir, batchId.toString))

  /** The feed report of `batchId`, if it was fed whole. */
  def report(batchId: Long): Option[String] = {
    val p = new Path(dir, batchId.toString)
    if (!fs.exists(p)) None
    else {
      val in = fs.open(p)
      try Some(new String(in.readAllBytes(), StandardCharsets.UTF_8))
      finally in.close()
    }
  }

  /** The batch ids recorded, in order. */
  def batchIds: Seq[Long] =
    if (!fs.exists(dir)) Nil
    else fs.listStatus(dir).map(_.getPath.getName).filter(_.forall(_.isDigit)).map(_.toLong)
      .sorted.toSeq

  def record(batchId: Long, reportJson: String): Unit = {
    val target = new Path(dir, batchId.toString)
    val temp = new Path(dir, s".$batchId.tmp")
    try {
      fs.mkdirs(dir)
      val out = fs.create(temp, true)
      try out.write(reportJson.getBytes(StandardCharsets.UTF_8))
      finally out.close()
      if (!fs.rename(temp, target)) {
        throw new java.io.IOException(s"renaming $temp to $target failed")
      }
    } catch {
      case NonFatal(e) => throw new SparkTFException(
          s"micro-batch $batchId was fed, but its " +
            s"record under $dir could not be written (${e.getMessage}): a restart of the query " +
            "would feed it again; is the checkpoint location writable?",
          e
        )
    }
  }
}

object FedBatchLog {

  /** Under the checkpoint location, beside Spark's `offsets/`, `commits/` and `sources/`. */
  val Folder = "sparktf/fed"
}
