"""What every sparktf gRPC server in a Python process sets, node and model server alike: the
message size limits and the address it binds.

Example::

    server = grpc.server(pool, options=[("grpc.max_receive_message_length", MAX_RECEIVE_BYTES),
                                        ("grpc.max_send_message_length", MAX_SEND_BYTES)])
    port = server.add_insecure_port(bind_address(host, 0))
"""

from __future__ import annotations

MAX_RECEIVE_BYTES = 256 * 1024 * 1024
MAX_SEND_BYTES = 64 * 1024 * 1024


def bind_address(host: str, port: int) -> str:
    """``host:port`` with IPv6 literals bracketed."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"
