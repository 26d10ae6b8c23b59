"""The ``sparktf.v1.Inference`` stream as both its servers see it: the service binding (requests
parsed so batch buffers stay views of the received bytes) and the stream's opening
``InferStart``, checked. The node (``cluster.inference``) and the model server
(``TFModel.transform``) answer the same stream.

Example (a server answering Infer streams)::

    add_inference_to_server(servicer, server)
    # in servicer.Infer(requests, context):
    start, where = read_start(requests, context, lambda st: f"partition {st.partition}")
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import grpc

from sparktf.v1 import feed_pb2, inference_pb2, inference_pb2_grpc
from sparktf.wire.column_batch import validate_schema
from sparktf.wire.feed_wire import InferItem, kind_of, parse_infer_request


def add_inference_to_server(
    servicer: inference_pb2_grpc.InferenceServicer, server: grpc.Server
) -> None:
    """Serve ``servicer`` as ``sparktf.v1.Inference``, requests read by
    ``parse_infer_request`` (batch buffers stay views of the received bytes)."""
    handlers = {
        "Infer": grpc.stream_stream_rpc_method_handler(
            servicer.Infer,
            request_deserializer=parse_infer_request,
            response_serializer=inference_pb2.InferResponse.SerializeToString,
        ),
    }
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("sparktf.v1.Inference", handlers),)
    )


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


def read_start(
    requests: Iterator[InferItem],
    context: grpc.ServicerContext,
    where_of: Callable[[inference_pb2.InferStart], str],
) -> tuple[inference_pb2.InferStart, str]:
    """The stream's InferStart, checked, and how errors name the stream; aborts the call on a
    stream that does not begin with a valid one."""
    first = next(requests, None)
    if first is None or kind_of(first) != "start":
        context.abort(
            grpc.StatusCode.INVALID_ARGUMENT, "an Infer stream must begin with InferStart"
        )
    assert isinstance(first, inference_pb2.InferRequest)
    start = first.start
    where = where_of(start)
    try:
        validate_schema(start.inputs)
        validate_outputs(list(start.outputs))
    except ValueError as e:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{where}: {e}")
    return start, where
