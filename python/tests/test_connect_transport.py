"""The Connect transport's pure parts (no server): telling sessions apart, turning a server's
sparktf refusal into SparkTFError, and the messages round-tripping through Any as the server
unpacks them. The whole path runs against a real Connect server in tests/test_connect.py."""

from __future__ import annotations

from google.protobuf import any_pb2

from sparktf.cluster import SparkTFError
from sparktf.connect_client import _as_sparktf_error, is_connect
from sparktf.v1 import connect_pb2


class FakeConnectSession:
    pass


FakeConnectSession.__module__ = "pyspark.sql.connect.session"


def test_a_connect_session_is_told_from_a_classic_one_by_its_module():
    assert is_connect(FakeConnectSession())
    assert not is_connect(object())


def test_a_server_side_sparktf_refusal_becomes_sparktf_error_without_the_jvm_stack():
    server = RuntimeError(
        "(io.sparktf.SparkTFException) column 'x' is string; feed numbers\n\n"
        "JVM stacktrace:\nio.sparktf.SparkTFException\n\tat io.sparktf.X"
    )
    error = _as_sparktf_error(server)
    assert isinstance(error, SparkTFError)
    assert str(error) == "column 'x' is string; feed numbers"
    other = RuntimeError("(java.lang.OutOfMemoryError) heap")
    assert _as_sparktf_error(other) is other


def test_a_command_packs_into_any_under_its_proto_name():
    command = connect_pb2.ConnectCommand(
        train=connect_pb2.TrainCluster(handle="h", input=b"plan", num_epochs=2)
    )
    packed = any_pb2.Any()
    packed.Pack(command)
    assert packed.type_url == "type.googleapis.com/sparktf.v1.ConnectCommand"
    back = connect_pb2.ConnectCommand()
    assert packed.Unpack(back) and back.WhichOneof("operation") == "train"
    assert back.train.num_epochs == 2
