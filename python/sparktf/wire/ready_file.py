"""``ready.json``: how a node or model server tells its executor JVM that it serves.

The ``NodeReady`` message of ``proto/sparktf/v1/node.proto`` in proto3 JSON, written here alone
and read by ``io.sparktf.node.NodeReady`` alone. Example::

    write_ready_file(boot.ready_file, port)                     # {"port": 41234, "pid": 811}
    write_ready_file(boot.ready_file, port, "http://h:39871/")  # a node serving TensorBoard
"""

from __future__ import annotations

import os

from google.protobuf import json_format

from sparktf.v1 import node_pb2


def write_ready_file(path: str, port: int, tensorboard_url: str | None = None) -> None:
    """Writes the ready file atomically (mode 0600): the launcher must never read a
    half-written one."""
    ready = node_pb2.NodeReady(port=port, pid=os.getpid())
    if tensorboard_url:
        ready.tensorboard_url = tensorboard_url
    tmp = f"{path}.tmp.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json_format.MessageToJson(ready, preserving_proto_field_name=True, indent=None))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
