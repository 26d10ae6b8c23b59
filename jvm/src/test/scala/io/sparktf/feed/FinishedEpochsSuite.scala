package io.sparktf.feed

import java.nio.charset.StandardCharsets
import java.nio.file.{Files, Path}

import org.apache.hadoop.conf.Configuration
import org.scalatest.funsuite.AnyFunSuite

import io.sparktf.cluster.{NodeInfo, NodeRole}

/** The records a node's Keras 3 fit writes (`sparktf.node.epoch_record`), as the driver reads
 *  them after a failure, in the file layout the node uses. */
class FinishedEpochsSuite extends AnyFunSuite {
  private val fed = IndexedSeq(NodeInfo(0, NodeRole("chief", 0), "1", "h", 0, 0, 0L),
    NodeInfo(1, NodeRole("worker", 0), "2", "h", 0, 0, 0L))
  private val perEpoch = IndexedSeq(700L, 699L)
  private val conf = new Configuration()

  private def withRecords(records: Option[String]*)(check: String => Unit): Unit = {
    val dir = Files.createTempDirectory("finished-epochs")
    try {
      fed.zip(records).foreach { case (n, r) =>
        r.foreach { json =>
          val p = Path.of(FinishedEpochs.path(dir.toString, "c1", n).toString)
          Files.createDirectories(p.getParent)
          Files.write(p, json.getBytes(StandardCharsets.UTF_8))
        }
      }
      check(dir.toString)
    } finally {
      Files.walk(dir).sorted(java.util.Comparator.reverseOrder[Path]()).forEach(p =>
        Files.delete(p))
    }
  }

  private def record(feed: String, epochs: Int, rows: Long) =
    Some(s"""{"feed_id": "$feed", "epochs_finished": $epochs, "rows_taken": $rows}""")

  test("the epochs every program finished, when the rows fit one Keras epoch per fed epoch") {
    // The chief went on into epoch 4 (its queue held it), the worker died as it began.
    withRecords(record("f", 3, 2800), record("f", 3, 2097)) { dir =>
      assert(FinishedEpochs.agreed(dir, "c1", "f", fed, perEpoch, 0, conf).contains(3))
    }
    // A restarted incarnation's feed began at epoch 3: its rows count from there.
    withRecords(record("f", 5, 1400), record("f", 6, 2097)) { dir =>
      assert(FinishedEpochs.agreed(dir, "c1", "f", fed, perEpoch, 3, conf).contains(5))
    }
  }

  test("no answer without a record of this feed on every node") {
    withRecords(record("f", 3, 2100), None) { dir =>
      assert(FinishedEpochs.agreed(dir, "c1", "f", fed, perEpoch, 0, conf).isEmpty)
    }
    withRecords(record("f", 3, 2100), record("an earlier train()", 3, 2097)) { dir =>
      assert(FinishedEpochs.agreed(dir, "c1", "f", fed, perEpoch, 0, conf).isEmpty)
    }
    withRecords(record("f", 3, 2100), Some("not json")) { dir =>
      assert(FinishedEpochs.agreed(dir, "c1", "f", fed, perEpoch, 0, conf).isEmpty)
    }
  }

  test("no answer when Keras epochs are not fed epochs") {
    // Half an epoch per Keras epoch: 6 "epochs" finished on 3 epochs of rows.
    withRecords(record("f", 6, 2100), record("f", 6, 2097)) { dir =>
      assert(FinishedEpochs.agreed(dir, "c1", "f", fed, perEpoch, 0, conf).isEmpty)
    }
    // The whole feed as one Keras epoch: 1 finished on 5 epochs of rows.
    withRecords(record("f", 1, 3500), record("f", 1, 3495)) { dir =>
      assert(FinishedEpochs.agreed(dir, "c1", "f", fed, perEpoch, 0, conf).isEmpty)
    }
  }
}
