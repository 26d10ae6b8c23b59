package io.sparktf.infer

import java.util.UUID
import java.util.concurrent.{LinkedBlockingQueue, TimeUnit}

import scala.collection.mutable

import io.grpc.{Channel, Status, StatusRuntimeException}
import io.grpc.stub.{ClientCallStreamObserver, ClientResponseObserver}
import org.apache.spark.TaskContext
import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.JoinedRow
import org.apache.spark.sql.vectorized.ColumnarBatch

import io.sparktf.SparkTFException
import io.sparktf.feed.{ColumnBatchEncoder, FeedColumn, SharedBatchFiles}
import io.sparktf.proto.v1.{InferRequest, InferResponse, InferStart, InferenceGrpc}

/** One partition streamed through a bidirectional `Inference.Infer` call: each input row comes
 *  back with its answers appended, in the same order and count.
 *
 *  Each row handed out is a view (an input row joined to a row of its decoded answer batch),
 *  valid until the next `next()`, as Spark's own iterators' rows: Spark's scan of the result
 *  writes every row it keeps into an `UnsafeRow` anyway, so writing one here would be a copy
 *  more. Only the input rows are copied, once, to outlive Spark's reuse of them until answered
 *  (into recycled buffers: [[InputCopies]]).
 *
 *  The task's thread sends and reads; gRPC's thread only queues answers. At most `window`
 *  batches are unanswered at a time, so the input rows kept for the join stay bounded. Every
 *  wait is bounded by `idleTimeoutSeconds`. With the peer's `sharedDir` visible here (it runs on
 *  this machine), each request batch goes as a file there ([[SharedBatchFiles]]), at most
 *  `window` of them unread.
 *  {{{
 *  val out = new InferenceCall(channel, start, columns, results, "node chief:0",
 *    partitionIndex = 0, batchRows = 1024).run(rows)
 *  }}}
 */
final class InferenceCall(
    channel: Channel,
    start: InferStart,
    columns: IndexedSeq[FeedColumn],
    results: IndexedSeq[ResultColumn],
    peer: String,
    partitionIndex: Int,
    batchRows: Int,
    idleTimeoutSeconds: Double = 600.0,
    window: Int = 4,
    sharedDir: Option[String] = None) {

  import InferenceCall._

  def run(input: Iterator[InternalRow]): Iterator[InternalRow] = new Iterator[InternalRow] {
    private val events = new LinkedBlockingQueue[Event]()
    private val encoder = new ColumnBatchEncoder(columns, partitionIndex,
      maxRows = math.max(1, batchRows))
    private val waiting = mutable.Queue[InternalRow]() // sent rows, not answered yet
    private val unanswered = mutable.Queue[Int]() // rows of each unanswered batch
    private var answers: ColumnarBatch = _ // the answers being handed out
    private var answered = 0 // their rows handed out
    private val decoder = new ResultDecoder(results, peer)
    private val join = new JoinedRow()
    private val copies = new InputCopies
    private var handedOut: InternalRow = _ // the input of the last row handed out
    private var requests: ClientCallStreamObserver[InferRequest] = _
    private var inputDone = false
    private var serverDone = false
    private var sentRows = 0L
    private var answeredRows = 0L
    private val shared = SharedBatchFiles.open(sharedDir,
      s"${start.getInferenceId}-p$partitionIndex-${UUID.randomUUID().toString.take(8)}", peer)
    // A task that stops reading early (a limit) or fails ends the call and its unread files.
    Option(TaskContext.get()).foreach(_.addTaskCompletionListener[Unit](_ => end("the task ended")))

    private def end(why: String, cause: Throwable = null): Unit = {
      if (requests != null && !serverDone) requests.cancel(why, cause)
      serverDone = true
      shared.foreach(_.discard())
    }

    private def open(): Unit = {
      val observer = new ClientResponseObserver[InferRequest, InferResponse] {
        override def beforeStart(r: ClientCallStreamObserver[InferRequest]): Unit = requests = r
        override def onNext(v: InferResponse): Unit = events.put(Answer(v))
        override def onError(t: Throwable): Unit = events.put(Failed(t))
        override def onCompleted(): Unit = events.put(Completed)
      }
      InferenceGrpc.newStub(channel).infer(observer)
      requests.onNext(InferRequest.newBuilder().setStart(start.toBuilder
            .setInputs(encoder.schema)).build())
    }

    /** Opens the stream at the first batch: the schema needs the array widths its rows set. */
    private def send(): Unit = {
      if (!opened) { opened = true; open() }
      val batch = encoder.flush()
      val request = shared.flatMap(_.tryWrite(batch)) match {
        case Some(ref) =>
          encoder.recycle() // the batch is in the file now
          InferRequest.newBuilder().setSharedBatch(ref)
        case None => InferRequest.newBuilder().setBatch(batch)
      }
      requests.onNext(request.build())
      unanswered.enqueue(batch.getNumRows)
      sentRows += batch.getNumRows
    }

    private var opened = false

    private def fill(): Unit = {
      while (!ready && !(inputDone && waiting.isEmpty)) {
        while (!inputDone && unanswered.size < window) {
          while (input.hasNext && !encoder.isFull) {
            val row = input.next()
            encoder.add(row)
            waiting.enqueue(copies.copy(row))
          }
          if (encoder.rows > 0) send()
          if (!input.hasNext) {
            inputDone = true
            if (opened) requests.onCompleted()
          }
        }
        if (waiting.nonEmpty) take()
      }
      if (inputDone && waiting.isEmpty && opened && !serverDone) awaitEnd()
    }

    private def ready: Boolean = answers != null && answered < answers.numRows

    /** Waits for the next answers, which the next rows handed out join to the rows they answer. */
    private def take(): Unit = events.poll((idleTimeoutSeconds * 1000).toLong,
      TimeUnit.MILLISECONDS) match {
      case null => cancel(s"$peer answered none of ${waiting.size} waiting rows of partition " +
          s"$partitionIndex for $idleTimeoutSeconds s; does its program answer every batch?")
      case Answer(r) =>
        answers = decoder.decode(r.getResults)
        answered = 0
        val rows = answers.numRows
        if (rows > waiting.size) cancel(s"$peer answered ${answeredRows + rows} rows " +
          s"of partition $partitionIndex, but only $sentRows were sent")
        answeredRows += rows
        var n = rows
        while (n > 0 && unanswered.nonEmpty) {
          val head = unanswered.dequeue()
          if (head > n) { unanswered.prepend(head - n); n = 0 }
          else n -= head
        }
      case Failed(t) => throw failed(t)
      case Completed =>
        serverDone = true
        throw new SparkTFException(
          s"$peer ended the inference stream of partition $partitionIndex " +
            s"after answering $answeredRows of $sentRows rows")
    }

    private def awaitEnd(): Unit = events.poll((idleTimeoutSeconds * 1000).toLong,
      TimeUnit.MILLISECONDS) match {
      case Completed =>
        serverDone = true
        shared.foreach(_.discard())
      case null => cancel(s"$peer did not end the inference stream of partition $partitionIndex " +
          s"within $idleTimeoutSeconds s after answering every row")
      case Failed(t) => throw failed(t)
      case Answer(r) => cancel(s"$peer answered ${r.getResults.getNumRows} rows more than the " +
          s"$sentRows of partition $partitionIndex")
    }

    private def cancel(message: String): Nothing = {
      if (requests != null) requests.cancel(message, null)
      throw new SparkTFException(message)
    }

    private def failed(t: Throwable): SparkTFException = t match {
      case e: StatusRuntimeException =>
        val status = e.getStatus
        val why = Option(status.getDescription).getOrElse(status.getCode.toString)
        if (status.getCode == Status.Code.UNAVAILABLE) new SparkTFException(
          s"$peer is unreachable while inferring partition $partitionIndex: $why", e)
        else
          new SparkTFException(s"$peer failed the inference of partition $partitionIndex: $why", e)
      case other => new SparkTFException(
          s"inference of partition $partitionIndex with $peer failed: ${other.getMessage}", other)
    }

    override def hasNext: Boolean = {
      if (!ready) {
        try fill()
        catch {
          case e: Throwable =>
            end("the task failed", e)
            throw e
        }
      }
      ready
    }

    override def next(): InternalRow = {
      if (!hasNext) throw new NoSuchElementException("no more rows")
      // The row handed out before is done with (Spark's iterator contract): its copy is free.
      if (handedOut != null) copies.release(handedOut)
      handedOut = waiting.dequeue()
      answered += 1
      join(handedOut, answers.getRow(answered - 1))
    }
  }
}

private object InferenceCall {

  /** What gRPC's thread hands the task's thread. */
  sealed trait Event
  final case class Answer(r: InferResponse) extends Event
  final case class Failed(t: Throwable) extends Event
  case object Completed extends Event
}
