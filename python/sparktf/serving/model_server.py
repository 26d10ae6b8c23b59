"""The model server process: loads a SavedModel, then answers Infer streams on a port of the
executor's host, behind a secret the executor JVM made. It exits when its executor does."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc

from sparktf.serving.batch_prefetch import Prefetch
from sparktf.serving.signature_runner import SignatureRunner
from sparktf.v1 import feed_pb2, inference_pb2, inference_pb2_grpc, node_pb2
from sparktf.wire.auth import SecretInterceptor
from sparktf.wire.column_batch import decode_batch
from sparktf.wire.contract_files import BootstrapError, parse_message, read_json
from sparktf.wire.feed_wire import InferItem
from sparktf.wire.infer_stream import add_inference_to_server, read_start
from sparktf.wire.parent_watch import watch_parent
from sparktf.wire.ready_file import write_ready_file
from sparktf.wire.result_batch import check_rows, encode_answers
from sparktf.wire.server_options import MAX_RECEIVE_BYTES, MAX_SEND_BYTES, bind_address
from sparktf.wire.shared_batches import SharedBatchDir, carried_batch, carries_batch

log = logging.getLogger("sparktf.serving")
SERVER_THREADS = 8


class ModelInferenceServicer(inference_pb2_grpc.InferenceServicer):
    """Answers every batch of a stream with the signature's outputs, one answer per batch."""

    def __init__(self, runner: SignatureRunner, shared: SharedBatchDir | None = None) -> None:
        self._runner = runner
        self._shared = shared

    def Infer(
        self, request_iterator: Iterator[InferItem], context: grpc.ServicerContext
    ) -> Iterator[inference_pb2.InferResponse]:
        start, where = read_start(
            request_iterator,
            context,
            lambda st: f"model server pid {os.getpid()}, partition {st.partition}",
        )
        decoded = Prefetch(self._decoded(request_iterator, start), context.is_active)
        answered = Prefetch(self._answered(decoded, start, where), context.is_active)
        try:
            for results in answered:
                yield inference_pb2.InferResponse(results=results)
        except BadBatch as e:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        finally:
            answered.close()
            decoded.close()

    def _decoded(
        self, requests: Iterator[InferItem], start: inference_pb2.InferStart
    ) -> Iterator[tuple[int, Any]]:
        for message in requests:
            if not carries_batch(message):
                raise ValueError("after InferStart only batches may follow")
            batch = carried_batch(message, self._shared)
            yield batch.num_rows, decode_batch(start.inputs, batch)

    def _answered(
        self, decoded: Prefetch[tuple[int, Any]], start: inference_pb2.InferStart, where: str
    ) -> Iterator[feed_pb2.ColumnBatch]:
        rows = 0
        stream = iter(decoded)
        while True:
            try:
                item = next(stream, None)
                if item is None:
                    return
                num_rows, columns = item
                outputs = self._runner(start.inputs, columns)
                answers = check_rows(start.outputs, outputs, num_rows)
            except grpc.RpcError:
                return  # the call was cancelled: nobody reads an answer
            except Exception as e:  # a bad batch is the caller's error: say which and why
                raise BadBatch(f"{where}, rows {rows}+: {type(e).__name__}: {e}") from e
            rows += num_rows
            yield encode_answers(start.outputs, answers, 0, num_rows)


class BadBatch(Exception):
    """A batch the model server cannot answer; the message names the partition and rows."""


def load_model_server_bootstrap(path: str) -> node_pb2.ModelServerBootstrap:
    """The ``ModelServerBootstrap`` message (proto/sparktf/v1/node.proto) the executor JVM wrote
    at ``path``; errors name the field."""
    boot = parse_message(read_json(path), node_pb2.ModelServerBootstrap(), path)
    for name in ("export_dir", "signature", "secret", "host", "ready_file"):
        if not getattr(boot, name):
            raise BootstrapError(f"{path}: field '{name}' must be a non-empty string")
    return boot


def main(argv: list[str]) -> None:
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s sparktf-model-server %(levelname)s %(message)s",
    )
    boot = load_model_server_bootstrap(argv[0])
    os.unlink(argv[0])  # it holds the secret
    shared_dir = boot.shared_dir if boot.HasField("shared_dir") else None
    # Shared memory outlives a process: batch files left there would hold RAM until reboot.
    watch_parent(leftovers=(shared_dir,) if shared_dir else ())
    runner = SignatureRunner(boot.export_dir, boot.signature)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=SERVER_THREADS, thread_name_prefix="sparktf-model"),
        interceptors=[SecretInterceptor(boot.secret)],
        options=[
            ("grpc.max_receive_message_length", MAX_RECEIVE_BYTES),
            ("grpc.max_send_message_length", MAX_SEND_BYTES),
            ("grpc.so_reuseport", 0),
        ],
    )
    shared = SharedBatchDir(shared_dir) if shared_dir else None
    add_inference_to_server(ModelInferenceServicer(runner, shared), server)
    port = server.add_insecure_port(bind_address(boot.host, 0))
    if port == 0:
        raise OSError(f"cannot bind the model server to {boot.host}")
    server.start()
    write_ready_file(boot.ready_file, port)
    log.info("serving %s on %s:%d", runner.where, boot.host, port)
    threading.Event().wait()  # until the executor stops it or dies (watch_parent exits)
