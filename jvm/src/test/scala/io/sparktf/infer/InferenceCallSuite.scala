package io.sparktf.infer

import java.nio.{ByteBuffer, ByteOrder}
import java.nio.file.{Files, Path}
import java.util.UUID

import com.google.protobuf.ByteString
import io.grpc.inprocess.{InProcessChannelBuilder, InProcessServerBuilder}
import io.grpc.stub.StreamObserver
import io.grpc.{ManagedChannel, Server}
import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.UnsafeProjection
import org.apache.spark.sql.catalyst.util.ArrayData
import org.apache.spark.sql.types._
import org.apache.spark.unsafe.types.UTF8String
import org.scalatest.BeforeAndAfterEach
import org.scalatest.funsuite.AnyFunSuite

import io.sparktf.SparkTFException
import io.sparktf.feed.FeedColumn
import io.sparktf.node.NodeProcess
import io.sparktf.proto.v1.{
  ColumnBatch,
  ColumnData,
  InferRequest,
  InferResponse,
  InferStart,
  InferenceGrpc
}

/** InferenceCall against an in-process model server that answers from each row's `k`. */
class InferenceCallSuite extends AnyFunSuite with BeforeAndAfterEach {
  private val inputSchema = StructType.fromDDL("k int, name string, v array<float>")
  private val results = ResultColumn.fromSchema(
    StructType.fromDDL("p float, label string, scores array<float>, twice int"), Map.empty)
  private val outputSchema = StructType(inputSchema.fields ++ results.map(_.field))

  private var server: Server = _
  private var channel: ManagedChannel = _
  @volatile private var inBand = 0 // request batches the server got on the stream
  @volatile private var shared = 0 // and as files in its shared directory

  override def afterEach(): Unit = {
    inBand = 0
    shared = 0
    if (channel != null) channel.shutdownNow()
    if (server != null) server.shutdownNow()
  }

  private def le(n: Int)(fill: ByteBuffer => Unit): ByteString = {
    val b = ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN)
    fill(b)
    ByteString.copyFrom(b.array())
  }

  /** The answers for keys `ks`: p = k + 0.5, label = "r" + k, scores = k copies of k, twice = 2k. */
  private def answer(ks: Seq[Int]): InferResponse = {
    val labels = ks.map(k => s"r$k".getBytes("UTF-8"))
    def offsets(sizes: Seq[Int]) = le(4 * (sizes.size + 1))(b =>
      sizes.scanLeft(0)(_ + _)
        .foreach(b.putInt))
    InferResponse.newBuilder().setResults(ColumnBatch.newBuilder().setNumRows(ks.size)
        .addColumns(ColumnData.newBuilder().setValues(le(4 * ks.size)(b =>
              ks.foreach(k =>
                b.putFloat(k + 0.5f)))))
        .addColumns(ColumnData.newBuilder().setValues(ByteString.copyFrom(labels.flatten.toArray))
            .setOffsets(offsets(labels.map(_.length))))
        .addColumns(ColumnData.newBuilder().setValues(le(4 * ks.sum)(b =>
              ks.foreach(k =>
                (1 to k).foreach(_ => b.putFloat(k.toFloat))))).setOffsets(offsets(ks)))
        .addColumns(ColumnData.newBuilder().setValues(le(4 * ks.size)(b =>
              ks.foreach(k =>
                b.putInt(2 * k)))))).build()
  }

  /** Starts a server whose answers to one request batch's keys are `reply(keys)`; it ends the
   *  stream when the client half-closes, if `ends`. */
  private def serve(reply: Seq[Int] => Seq[InferResponse], ends: Boolean = true,
      sharedDir: Option[Path] = None): Unit = {
    val name = UUID.randomUUID().toString
    val service = new InferenceGrpc.InferenceImplBase {
      override def infer(out: StreamObserver[InferResponse]): StreamObserver[InferRequest] =
        new StreamObserver[InferRequest] {
          override def onNext(r: InferRequest): Unit = if (r.hasBatch || r.hasSharedBatch) {
            val batch = if (r.hasBatch) { inBand += 1; r.getBatch }
            else {
              // As the model server does: read the file the message names, then delete it.
              val file = sharedDir.get.resolve(r.getSharedBatch.getFile)
              val read = ColumnBatch.parseFrom(Files.readAllBytes(file))
              Files.delete(file)
              shared += 1
              read
            }
            val values = batch.getColumns(0).getValues.asReadOnlyByteBuffer()
              .order(ByteOrder.LITTLE_ENDIAN)
            val keys = (0 until batch.getNumRows).map(i => values.getInt(4 * i))
            reply(keys).foreach(out.onNext)
          }
          override def onError(t: Throwable): Unit = ()
          override def onCompleted(): Unit = if (ends) out.onCompleted()
        }
    }
    server = InProcessServerBuilder.forName(name).addService(service).build().start()
    channel = InProcessChannelBuilder.forName(name).build()
  }

  private def call(batchRows: Int, idleTimeoutSeconds: Double = 30,
      sharedDir: Option[Path] = None) = new InferenceCall(
    channel,
    InferStart.newBuilder().setPartition(3).build(),
    FeedColumn.fromSchema(inputSchema,
      Seq("k" -> "k")),
    results,
    "model server pid 1",
    3,
    batchRows,
    idleTimeoutSeconds,
    window = 2,
    sharedDir = sharedDir.map(_.toString)
  )

  /** Input rows as Spark scans hand them out: one UnsafeRow, rewritten for every row. */
  private def input(ks: Seq[Int]): Iterator[InternalRow] = {
    val project = UnsafeProjection.create(inputSchema)
    ks.iterator.map(k =>
      project(InternalRow(k, UTF8String.fromString("n" * k),
          ArrayData.toArrayData(Array.fill(k)(-k.toFloat)))))
  }

  /** The output rows as Spark's scan of the result keeps them: projected, then copied. */
  private def collect(out: Iterator[InternalRow]): Seq[Seq[Any]] = {
    val project = UnsafeProjection.create(outputSchema)
    out.map(r => project(r).copy()).toSeq.map { r =>
      Seq(
        r.getInt(0),
        r.getUTF8String(1).toString,
        r.getArray(2).toFloatArray().toSeq,
        r.getFloat(3),
        r.getUTF8String(4).toString,
        r.getArray(5).toFloatArray().toSeq,
        r.getInt(6)
      )
    }
  }

  private def expected(ks: Seq[Int]): Seq[Seq[Any]] = ks.map(k =>
    Seq(k, "n" * k,
      Seq.fill(k)(-k.toFloat), k + 0.5f, s"r$k", Seq.fill(k)(k.toFloat), 2 * k))

  test("every input row comes back once, in order, with its answers appended") {
    serve(ks => Seq(answer(ks)))
    val ks = (0 until 23).map(_ % 7)
    assert(collect(call(batchRows = 5).run(input(ks))) == expected(ks))
  }

  test("request batches go as files when the server's shared directory is visible") {
    val dir = Files.createTempDirectory("infer-shared-")
    try {
      serve(ks => Seq(answer(ks)), sharedDir = Some(dir))
      val ks = (0 until 23).map(_ % 7)
      assert(collect(call(batchRows = 5, sharedDir = Some(dir)).run(input(ks))) == expected(ks))
      assert((shared, inBand) == (5, 0))
      assert(Files.list(dir).count() == 0)
    } finally NodeProcess.deleteTree(dir)
  }

  test("a shared directory that cannot take a batch means the socket from then on") {
    val dir = Files.createTempDirectory("infer-shared-")
    serve(ks => Seq(answer(ks)), sharedDir = Some(dir))
    val ks = (0 until 23).map(_ % 7)
    val out = call(batchRows = 5, sharedDir = Some(dir)).run(input(ks))
    NodeProcess.deleteTree(dir) // seen when the call began, gone at its first batch
    assert(collect(out) == expected(ks))
    assert((shared, inBand) == (0, 5))
  }

  test("answers may come in other batches than the requests") {
    // Every request batch answered by a batch of none, then in single rows.
    serve(ks => answer(Nil) +: ks.map(k => answer(Seq(k))))
    val ks = (1 to 11).map(k => k % 4)
    assert(collect(call(batchRows = 4).run(input(ks))) == expected(ks))
  }

  test("each row handed out stays intact until the next is asked for") {
    serve(ks => Seq(answer(ks)))
    val out = call(batchRows = 1).run(input(Seq(1, 2, 3, 4)))
    val first = out.next()
    assert(out.hasNext) // may read more input and answers
    assert(first.getInt(0) == 1 && first.getUTF8String(4).toString == "r1" &&
      first.getArray(5).toFloatArray().toSeq == Seq(1f))
    assert(collect(out) == expected(Seq(2, 3, 4)))
  }

  test("an empty partition is no rows and opens no stream") {
    serve(_ => fail("no batch was to be sent"))
    assert(call(batchRows = 4).run(Iterator.empty).isEmpty)
  }

  test("more answers than rows sent is an error") {
    serve(ks => Seq(answer(ks ++ ks)))
    val e = intercept[SparkTFException](collect(call(batchRows = 4).run(input(Seq(1, 2, 3)))))
    assert(
      e.getMessage == "model server pid 1 answered 6 rows of partition 3, but only 3 were sent")
  }

  test("a stream ended before every row is answered is an error") {
    serve(ks => Seq(answer(ks.drop(1))))
    val e = intercept[SparkTFException](collect(call(batchRows = 4).run(input(Seq(1, 2, 3)))))
    assert(e.getMessage == "model server pid 1 ended the inference stream of partition 3 after " +
      "answering 2 of 3 rows")
  }

  test("a server that answers nothing times out naming the waiting rows") {
    serve(_ => Nil, ends = false)
    val e = intercept[SparkTFException](collect(call(batchRows = 4, idleTimeoutSeconds = 0.2)
          .run(input(Seq(1, 2, 3)))))
    assert(e.getMessage.contains("model server pid 1 answered none of 3 waiting rows of " +
        "partition 3 for 0.2 s"))
  }
}
