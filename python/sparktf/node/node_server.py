"""The node's gRPC server: DataFeed (chief and workers) and NodeControl, behind the secret."""

from __future__ import annotations

from concurrent import futures

import grpc

from sparktf.node.control_server import NodeControlServicer
from sparktf.node.feed_server import DataFeedServicer, add_data_feed_to_server
from sparktf.node.inference_server import NodeInferenceServicer
from sparktf.v1 import node_control_pb2_grpc
from sparktf.wire.auth import SecretInterceptor
from sparktf.wire.infer_stream import add_inference_to_server
from sparktf.wire.server_options import MAX_RECEIVE_BYTES, MAX_SEND_BYTES, bind_address

# A feed or inference stream holds a thread while it waits for room in the queue; streams
# beyond the threads wait for one (their tasks held back by gRPC flow control), never refused.
# Idle threads cost little, so there are enough for the streams of many feed tasks at once
# (each task opens at most two per feed) and the control and Reserve calls beside them.
SERVER_THREADS = 64


def start_node_server(
    host: str,
    secret: str,
    control: NodeControlServicer,
    feed: DataFeedServicer | None,
    inference: NodeInferenceServicer | None = None,
) -> tuple[grpc.Server, int]:
    """Start serving on ``host`` at a free port; returns the server and that port."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=SERVER_THREADS, thread_name_prefix="sparktf-rpc"),
        interceptors=[SecretInterceptor(secret)],
        options=[
            ("grpc.max_receive_message_length", MAX_RECEIVE_BYTES),
            ("grpc.max_send_message_length", MAX_SEND_BYTES),
            # Another process must never share this port (SO_REUSEPORT is on by default).
            ("grpc.so_reuseport", 0),
        ],
    )
    node_control_pb2_grpc.add_NodeControlServicer_to_server(control, server)
    if feed is not None:
        add_data_feed_to_server(feed, server)
    if inference is not None:
        add_inference_to_server(inference, server)
    address = bind_address(host, 0)
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as e:  # grpcio raises instead of returning 0 on some failures
        raise OSError(
            f"cannot bind the node's gRPC server to {address}: {e}; is the host "
            "address one of this machine's?"
        ) from e
    if port == 0:
        raise OSError(
            f"cannot bind the node's gRPC server to {address}; is the host address "
            "one of this machine's?"
        )
    server.start()
    return server, port
