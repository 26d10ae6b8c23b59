"""Security of sparktf's own gRPC servers (the nodes' DataFeed + NodeControl): every call needs
the per-cluster secret; garbage bytes and a client that stalls mid-message do not stop a node from
serving others; the secret never reaches a log or an error; nothing from a socket is unpickled.
"""

from __future__ import annotations

import ast
import glob
import json
import os
import socket
import time

import grpc
import pytest
from conftest import ROOT, java_nodes

from sparktf import InputMode, TFCluster
from sparktf.v1 import feed_pb2, feed_pb2_grpc, node_control_pb2, node_control_pb2_grpc

CALL_DEADLINE_SECONDS = 5
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def read_until_fed(args, ctx):
    feed = ctx.get_data_feed()
    while not feed.should_stop():
        feed.next_batch(64)


def node_secret(cluster_id: str) -> str:
    """The secret as the executors wrote it for their nodes (bootstrap.json, mode 0600): the
    test reads it as the same user, to check it appears nowhere else."""
    secrets = set()
    for path in glob.glob(f"/tmp/sparktf-{cluster_id}-*/bootstrap.json"):
        with open(path, encoding="utf-8") as fh:
            secrets.add(json.load(fh)["secret"])
        assert os.stat(path).st_mode & 0o077 == 0, f"{path} is readable by others"
    assert len(secrets) == 1, f"expected one secret in the nodes' bootstrap files: {secrets}"
    return secrets.pop()


def status(address: str, metadata) -> node_control_pb2.NodeStatus:
    with grpc.insecure_channel(address) as channel:
        return node_control_pb2_grpc.NodeControlStub(channel).GetStatus(
            node_control_pb2.StatusRequest(), metadata=metadata, timeout=CALL_DEADLINE_SECONDS
        )


def feed(address: str, metadata) -> feed_pb2.FeedAck:
    with grpc.insecure_channel(address) as channel:
        return feed_pb2_grpc.DataFeedStub(channel).Feed(
            iter([feed_pb2.FeedMessage()]), metadata=metadata, timeout=CALL_DEADLINE_SECONDS
        )


def refused(call, address: str, metadata) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call(address, metadata)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED, info.value
    return info.value


def hostile_connections(host: str, port: int) -> list[socket.socket]:
    """Sockets left open on the node's port: random bytes, a bare HTTP/2 preface, and a client
    that sends a frame header announcing 16 KiB of headers and then stalls."""
    opened = []
    for payload in (
        os.urandom(4096),
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + os.urandom(512),
        HTTP2_PREFACE,
        # SETTINGS (empty), then a HEADERS frame header of length 16384 with one byte of it.
        HTTP2_PREFACE
        + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
        + bytes([0, 0x40, 0, 1, 4, 0, 0, 0, 1])
        + b"\x82",
    ):
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(payload)
        opened.append(s)
    return opened


@pytest.mark.timeout(300)
def test_node_servers_refuse_strangers_and_keep_serving(spark):
    cluster = TFCluster.run(
        spark,
        read_until_fed,
        {},
        num_executors=2,
        input_mode=InputMode.SPARK,
        master_node="chief",
        reservation_timeout=120,
        feed_timeout=60,
        shutdown_timeout=60,
    )
    errors = []
    try:
        secret = node_secret(cluster.cluster_id)
        good = [("sparktf-secret", secret)]
        wrong = [("sparktf-secret", "0" * len(secret))]
        nodes = java_nodes(cluster)
        assert len(nodes) == 2
        for node in nodes:
            address = f"{node.host()}:{node.port()}"
            for call in (status, feed):
                for metadata in (None, wrong, [("sparktf-secret", "")]):
                    errors.append(refused(call, address, metadata))
            socks = []
            try:
                for _ in range(5):
                    socks += hostile_connections(node.host(), node.port())
                # With 20 hostile connections open on it, the node still answers its driver.
                started = time.monotonic()
                reply = status(address, good)
                print(
                    f"{node.role().address()}: a good call took "
                    f"{time.monotonic() - started:.2f} s beside {len(socks)} hostile ones"
                )
                assert reply.job_name == node.role().jobName()
            finally:
                for s in socks:
                    s.close()
        # And the cluster still trains.
        df = spark.range(0, 1000, numPartitions=2).selectExpr("cast(id as double) as x")
        report = cluster.train(df, num_epochs=2)
        assert report["rows_total"] == 2000
    finally:
        cluster.shutdown(timeout=60)

    for e in errors:
        assert secret not in (e.details() or ""), "a refusal shows the secret"
        assert "secret" in (e.details() or ""), f"the refusal does not say why: {e.details()}"
    logs = glob.glob(
        os.path.join(
            os.environ["SPARK_HOME"], "work", spark.sparkContext.applicationId, "*", "std*"
        )
    )
    assert logs, "no executor logs found"
    text = ""
    for path in logs:
        with open(path, encoding="utf-8", errors="replace") as fh:
            content = fh.read()
        assert secret not in content, f"{path} shows the cluster secret"
        text += content
    # The nodes' output reaches the executor logs, each line prefixed with the node's role.
    for role in ("chief:0", "worker:0"):
        assert f"[{role}] " in text, f"no line of node {role} in the executor logs"


def test_nothing_from_a_socket_is_unpickled():
    """sparktf loads pickles in two places, neither from a socket of its own: the node, the
    program file its executor wrote; the driver, ``sparktf.run``'s return value, which the chief's
    node pickled from ``fn``'s result and Spark's task result brought back (as PySpark's own
    ``collect()`` brings pickles), as issue 14 asks ("cloudpickled back, size-bounded")."""
    loads = []
    package = os.path.join(ROOT, "python", "sparktf")
    for path in glob.glob(os.path.join(package, "**", "*.py"), recursive=True):
        with open(path, encoding="utf-8") as fh:
            tree = ast.parse(fh.read(), path)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("load", "loads", "Unpickler")
                and isinstance(node.value, ast.Name)
                and node.value.id in ("pickle", "cloudpickle", "dill", "marshal")
            ):
                loads.append(
                    f"{os.path.relpath(path, ROOT)}:{node.lineno} {node.value.id}.{node.attr}"
                )
    where = [f"{entry.split(':')[0]} {entry.split()[-1]}" for entry in loads]
    assert sorted(where) == [
        "python/sparktf/node/runtime.py cloudpickle.load",
        "python/sparktf/runner.py cloudpickle.loads",
    ], loads
