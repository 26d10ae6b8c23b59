"""``NodeInferenceServicer``: cluster.inference streams, answered by the program itself.

The rows go into the node's feed queue like training rows, on one lane shared by every
inference stream (``INFERENCE_FEED_ID``), each chunk tagged with its stream's ``AnswerSink``;
the program takes them with ``next_batch`` and answers with ``batch_results``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import grpc

from sparktf.node.answer_sink import AnswerSink
from sparktf.node.feed_queue import FeedChunk, FeedEndedError, FeedQueue
from sparktf.node.program_state import ProgramState
from sparktf.v1 import inference_pb2, inference_pb2_grpc, node_control_pb2
from sparktf.wire.column_batch import decode_batch
from sparktf.wire.feed_wire import INFERENCE_FEED_ID, InferItem
from sparktf.wire.infer_stream import read_start
from sparktf.wire.shared_batches import SharedBatchDir, carried_batch, carries_batch

log = logging.getLogger(__name__)

# The lane of the feed queue all inference streams share; it ends when the cluster shuts down.


class NodeInferenceServicer(inference_pb2_grpc.InferenceServicer):
    def __init__(
        self,
        cluster_id: str,
        queue: FeedQueue,
        program: ProgramState,
        idle_timeout: float,
        shared: SharedBatchDir | None = None,
    ) -> None:
        self._cluster_id = cluster_id
        self._shared = shared
        self._queue = queue
        self._program = program
        self._idle_timeout = idle_timeout

    def Infer(
        self, request_iterator: Iterator[InferItem], context: grpc.ServicerContext
    ) -> Iterator[inference_pb2.InferResponse]:
        start, where = read_start(
            request_iterator,
            context,
            lambda st: (
                f"inference '{st.inference_id}' partition {st.partition} on node "
                f"{self._program.role}"
            ),
        )
        if start.cluster_id != self._cluster_id:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"this node serves cluster '{self._cluster_id}', the task infers on "
                f"cluster '{start.cluster_id}'",
            )
        if self._program.failed:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, self._program.failure_message())
        try:
            self._queue.open_feed(INFERENCE_FEED_ID, None)
        except FeedEndedError as e:
            context.abort(
                grpc.StatusCode.FAILED_PRECONDITION, f"{where}: the cluster is shutting down ({e})"
            )
        sink = AnswerSink(start.outputs, where)
        reader = threading.Thread(
            target=self._read,
            args=(request_iterator, start, sink, context),
            name="sparktf-infer-reader",
            daemon=True,
        )
        reader.start()
        try:
            while True:
                answer = sink.next_answer(self._idle_timeout, lambda: self._interrupted(context))
                if answer is None:
                    return
                yield inference_pb2.InferResponse(results=answer)
        except TimeoutError as e:
            context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, str(e))
        except RuntimeError as e:
            code = (
                grpc.StatusCode.FAILED_PRECONDITION
                if self._program.failed
                else grpc.StatusCode.INVALID_ARGUMENT
            )
            context.abort(code, str(e))

    def _interrupted(self, context: grpc.ServicerContext) -> str | None:
        if self._program.failed:
            return self._program.failure_message()
        if self._program.state == node_control_pb2.FINISHED:
            return (
                f"node {self._program.role}: the program returned while rows still waited "
                "for answers; it must answer every next_batch() with batch_results()"
            )
        if self._queue.closed:
            return f"node {self._program.role} took no more data (terminated or stopping)"
        if not context.is_active():
            return "the inference task went away"
        return None

    def _read(
        self,
        requests: Iterator[InferItem],
        start: inference_pb2.InferStart,
        sink: AnswerSink,
        context: grpc.ServicerContext,
    ) -> None:
        rows = 0
        try:
            for message in requests:
                if not carries_batch(message):
                    sink.fail(f"{sink.where}: after InferStart only batches may follow")
                    return
                batch = carried_batch(message, self._shared)
                columns = decode_batch(start.inputs, batch)
                n = batch.num_rows
                if n == 0:
                    continue
                sink.add_rows(n)
                chunk = FeedChunk(INFERENCE_FEED_ID, n, columns, answers=sink)
                taken = self._queue.put(
                    chunk, self._idle_timeout, interrupted=lambda: not context.is_active()
                )
                if not taken:
                    sink.fail(f"{sink.where}: the node took no more data after {rows} rows")
                    return
                rows += n
            sink.input_done()
        except (ValueError, TimeoutError, FeedEndedError) as e:
            sink.fail(f"{sink.where}, rows {rows}+: {e}")
        except Exception as e:  # the stream broke (task cancelled): nobody reads the answer
            sink.fail(f"{sink.where}: reading the stream failed: {e}")
