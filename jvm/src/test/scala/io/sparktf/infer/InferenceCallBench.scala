package io.sparktf.infer

import java.nio.{ByteBuffer, ByteOrder}
import java.util.UUID

import com.google.protobuf.ByteString
import io.grpc.inprocess.{InProcessChannelBuilder, InProcessServerBuilder}
import io.grpc.stub.StreamObserver
import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.UnsafeProjection
import org.apache.spark.sql.catalyst.util.ArrayData
import org.apache.spark.sql.types._

import io.sparktf.feed.FeedColumn
import io.sparktf.proto.v1._

/** Micro benchmark (not a test): the executor-side per-row cost of InferenceCall alone, against
 *  an in-process server answering every batch at once with 10 floats a row. Input rows are
 *  784 floats and an int, handed out as Spark scans do (one reused UnsafeRow); each output row
 *  is projected to an UnsafeRow as Spark's RDDScanExec does ("pruned": only the answer column
 *  is read, as when a query uses only it). Prints rows/s, median and best of 5 runs after 3
 *  warm-ups. Note: sbt's run packages the thin jar over the assembly jar of the same name in
 *  target/, so run scripts/build again before Python tests.
 *  {{{
 *  scripts/sbt "Test/runMain io.sparktf.infer.InferenceCallBench 400000"
 *  }}}
 */
object InferenceCallBench {
  def main(args: Array[String]): Unit = {
    val rows = args.headOption.map(_.toInt).getOrElse(200000)
    val inputSchema = StructType.fromDDL("x array<float>, label int")
    val results = ResultColumn.fromSchema(StructType.fromDDL("scores array<float>"), Map.empty)
    val outSchema = StructType(inputSchema.fields ++ results.map(_.field))
    def le(n: Int)(f: ByteBuffer => Unit) = {
      val b = ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN); f(b);
      ByteString.copyFrom(b.array())
    }
    val cache = new java.util.concurrent.ConcurrentHashMap[Integer, InferResponse]()
    def answer(n: Int) = cache.computeIfAbsent(
      n,
      _ =>
        InferResponse.newBuilder().setResults(
          ColumnBatch.newBuilder().setNumRows(n).addColumns(ColumnData.newBuilder()
              .setValues(le(40 * n)(b => (0 until 10 * n).foreach(k => b.putFloat(k.toFloat))))
              .setOffsets(le(4 * (n + 1))(b => (0 to n).foreach(k => b.putInt(10 * k)))))).build()
    )
    val name = UUID.randomUUID().toString
    val service = new InferenceGrpc.InferenceImplBase {
      override def infer(out: StreamObserver[InferResponse]): StreamObserver[InferRequest] =
        new StreamObserver[InferRequest] {
          override def onNext(r: InferRequest): Unit =
            if (r.hasBatch) out.onNext(answer(r.getBatch.getNumRows))
          override def onError(t: Throwable): Unit = ()
          override def onCompleted(): Unit = out.onCompleted()
        }
    }
    val server = InProcessServerBuilder.forName(name).addService(service).build().start()
    val channel = InProcessChannelBuilder.forName(name).build()
    val source = UnsafeProjection.create(inputSchema)
    val x = ArrayData.toArrayData(Array.tabulate(784)(_.toFloat))
    val columns = FeedColumn.fromSchema(inputSchema, Seq("x" -> "x"))
    def once(pruned: Boolean): Double = {
      val input = Iterator.range(0, rows).map(k => source(InternalRow(x, k)))
      val out = new InferenceCall(channel, InferStart.newBuilder().build(), columns, results,
        "bench", 0, 1024).run(input)
      val scan = UnsafeProjection.create(outSchema) // what Spark's RDDScanExec does to each row
      val t0 = System.nanoTime()
      var sum = 0L
      while (out.hasNext) {
        val r = out.next()
        sum += (if (pruned) r.getArray(2).numElements() else scan(r).getArray(2).numElements())
      }
      require(sum == 10L * rows)
      rows / ((System.nanoTime() - t0) / 1e9)
    }
    for (pruned <- Seq(false, true)) {
      (1 to 3).foreach(_ => once(pruned))
      val runs = (1 to 5).map(_ => once(pruned))
      println(
        f"pruned=$pruned%-5s rows/s median ${runs.sorted.apply(2)}%.0f best ${runs.max}%.0f " +
          runs.map(r => f"$r%.0f").mkString("[", ", ", "]"))
    }
    channel.shutdownNow(); server.shutdownNow()
  }
}
