"""``NodeInferenceServicer``: cluster.inference streams, answered by the program itself.

The rows go into the node's feed queue like training rows, on one lane shared by every
inference stream (``INFERENCE_FEED_ID``), each chunk tagged with its stream's ``AnswerSink``;
the program takes them with ``next_batch`` and answers with ``batch_results``.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable, Iterator

import grpc

from sparktf.node.answer_sink import AnswerSink
from sparktf.wire.column_batch import decode_batch, validate_schema
from sparktf.node.feed_queue import FeedChunk, FeedEndedError, FeedQueue
from sparktf.wire.feed_wire import InferItem, kind_of, parse_infer_request
from sparktf.node.program_state import ProgramState
from sparktf.wire.shared_batches import SharedBatchDir, carried_batch, carries_batch
from sparktf.v1 import feed_pb2, inference_pb2, inference_pb2_grpc
from sparktf.v1 import node_control_pb2

log = logging.getLogger(__name__)

# The lane of the feed queue all inference streams share; it ends when the cluster shuts down.
INFERENCE_FEED_ID = "inference"


def add_inference_to_server(servicer: inference_pb2_grpc.InferenceServicer,
                            server: grpc.Server) -> None:
    """Serve ``servicer`` as ``sparktf.v1.Inference``, requests read by
    ``parse_infer_request`` (batch buffers stay views of the received bytes)."""
    handlers = {
        "Infer": grpc.stream_stream_rpc_method_handler(
            servicer.Infer,
            request_deserializer=parse_infer_request,
            response_serializer=inference_pb2.InferResponse.SerializeToString),
    }
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("sparktf.v1.Inference", handlers),))


def validate_outputs(outputs: list[feed_pb2.ColumnSpec]) -> None:
    """Raise ValueError for an answer column this side cannot encode."""
    if not outputs:
        raise ValueError("InferStart names no result columns")
    seen: set[str] = set()
    for o in outputs:
        if not o.name or o.name in seen:
            raise ValueError(f"result column names must be unique and non-empty, found {o.name!r}")
        seen.add(o.name)
        if o.shape not in (feed_pb2.SCALAR, feed_pb2.VAR_ARRAY):
            raise ValueError(f"result '{o.name}' has shape {o.shape}; expected SCALAR or VAR_ARRAY")
        if o.dtype in (feed_pb2.BINARY, feed_pb2.STRING) and o.shape != feed_pb2.SCALAR:
            raise ValueError(f"result '{o.name}': strings and binary are scalar columns only")
        if o.dtype == feed_pb2.DTYPE_UNSPECIFIED:
            raise ValueError(f"result '{o.name}' has no dtype")


def read_start(requests: Iterator[InferItem], context: grpc.ServicerContext,
               where_of: Callable[[inference_pb2.InferStart], str]
               ) -> tuple[inference_pb2.InferStart, str]:
    """The stream's InferStart, checked, and how errors name the stream; aborts the call on a
    stream that does not begin with a valid one."""
    first = next(requests, None)
    if first is None or kind_of(first) != "start":
        context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                      "an Infer stream must begin with InferStart")
    assert isinstance(first, inference_pb2.InferRequest)
    start = first.start
    where = where_of(start)
    try:
        validate_schema(start.inputs)
        validate_outputs(list(start.outputs))
    except ValueError as e:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{where}: {e}")
    return start, where


class NodeInferenceServicer(inference_pb2_grpc.InferenceServicer):
    def __init__(self, cluster_id: str, queue: FeedQueue, program: ProgramState,
                 idle_timeout: float, shared: SharedBatchDir | None = None) -> None:
        self._cluster_id = cluster_id
        self._shared = shared
        self._queue = queue
        self._program = program
        self._idle_timeout = idle_timeout

    def Infer(self, request_iterator: Iterator[InferItem],
              context: grpc.ServicerContext) -> Iterator[inference_pb2.InferResponse]:
        start, where = read_start(
            request_iterator, context,
            lambda st: f"inference '{st.inference_id}' partition {st.partition} on node "
                       f"{self._program.role}")
        if start.cluster_id != self._cluster_id:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"this node serves cluster '{self._cluster_id}', the task infers on "
                          f"cluster '{start.cluster_id}'")
        if self._program.failed:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, self._program.failure_message())
        try:
            self._queue.open_feed(INFERENCE_FEED_ID, None)
        except FeedEndedError as e:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                          f"{where}: the cluster is shutting down ({e})")
        sink = AnswerSink(start.outputs, where)
        reader = threading.Thread(target=self._read, args=(request_iterator, start, sink, context),
                                  name="sparktf-infer-reader", daemon=True)
        reader.start()
        try:
            while True:
                answer = sink.next_answer(self._idle_timeout,
                                          lambda: self._interrupted(context))
                if answer is None:
                    return
                yield inference_pb2.InferResponse(results=answer)
        except TimeoutError as e:
            context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, str(e))
        except RuntimeError as e:
            code = (grpc.StatusCode.FAILED_PRECONDITION if self._program.failed
                    else grpc.StatusCode.INVALID_ARGUMENT)
            context.abort(code, str(e))

    def _interrupted(self, context: grpc.ServicerContext) -> str | None:
        if self._program.failed:
            return self._program.failure_message()
        if self._program.state == node_control_pb2.FINISHED:
            return (f"node {self._program.role}: the program returned while rows still waited "
                    "for answers; it must answer every next_batch() with batch_results()")
        if self._queue.closed:
            return f"node {self._program.role} took no more data (terminated or stopping)"
        if not context.is_active():
            return "the inference task went away"
        return None

    def _read(self, requests: Iterator[InferItem],
              start: inference_pb2.InferStart, sink: AnswerSink,
              context: grpc.ServicerContext) -> None:
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
                taken = self._queue.put(chunk, self._idle_timeout,
                                        interrupted=lambda: not context.is_active())
                if not taken:
                    sink.fail(f"{sink.where}: the node took no more data after {rows} rows")
                    return
                rows += n
            sink.input_done()
        except (ValueError, TimeoutError, FeedEndedError) as e:
            sink.fail(f"{sink.where}, rows {rows}+: {e}")
        except Exception as e:  # the stream broke (task cancelled): nobody reads the answer
            sink.fail(f"{sink.where}: reading the stream failed: {e}")
