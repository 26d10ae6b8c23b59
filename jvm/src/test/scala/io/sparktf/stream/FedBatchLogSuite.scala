package io.sparktf.stream

import java.nio.file.Files

import org.apache.hadoop.conf.Configuration
import org.apache.spark.sql.streaming.Trigger
import org.scalatest.funsuite.AnyFunSuite

import io.sparktf.SparkTFException
import io.sparktf.python.TFClusterBridge

class FedBatchLogSuite extends AnyFunSuite {
  test("a recorded micro-batch is known to a later log over the same checkpoint") {
    val dir = Files.createTempDirectory("fed-batch-log").toString
    val log = new FedBatchLog(dir, new Configuration())
    assert(!log.contains(0) && log.batchIds.isEmpty)
    log.record(3, """{"rows_total":10}""")
    log.record(0, """{"rows_total":4}""")
    val again = new FedBatchLog(dir, new Configuration())
    assert(again.contains(3) && again.contains(0) && !again.contains(1))
    assert(again.batchIds == Seq(0L, 3L))
    assert(again.report(3).contains("""{"rows_total":10}"""))
    // Only whole records: the temporary file is gone after the rename.
    assert(new java.io.File(dir, FedBatchLog.Folder).list().forall(n => !n.endsWith(".tmp")))
  }

  test("a record that cannot be written says the micro-batch would be fed again") {
    val file = Files.createTempFile("not-a-dir", "").toString
    val e = intercept[SparkTFException](new FedBatchLog(file, new Configuration()).record(1, "{}"))
    assert(e.getMessage.contains("micro-batch 1 was fed") && e.getMessage.contains("again"))
  }

  test("triggers from Python's names; a continuous one is refused") {
    assert(TFClusterBridge.triggerFromJson("""{"processingTime": "2 seconds"}""") ==
      Trigger.ProcessingTime("2 seconds"))
    assert(TFClusterBridge.triggerFromJson("""{"availableNow": true}""") ==
      Trigger.AvailableNow())
    assert(TFClusterBridge.triggerFromJson("") == Trigger.ProcessingTime(0L))
    val e = intercept[SparkTFException](TFClusterBridge.triggerFromJson("""{"continuous": "1s"}"""))
    assert(e.getMessage.contains("continuous"))
  }
}
