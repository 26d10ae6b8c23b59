"""The node contract, Python side: the files in proto/testdata/ are what the JVM writes
(NodeBootstrapSuite checks that byte for byte) and what this side writes (the ready file,
which NodeBootstrapSuite parses). Here: Python reads every field the JVM writes, as written."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sparktf.node.bootstrap import load_bootstrap
from sparktf.serving.model_server import load_model_server_bootstrap
from sparktf.v1 import node_pb2
from sparktf.wire.ready_file import write_ready_file

TESTDATA = Path(__file__).resolve().parents[2] / "proto" / "testdata"


def test_the_bootstrap_the_jvm_writes_reads_field_by_field():
    boot = load_bootstrap(str(TESTDATA / "node_bootstrap.json"))
    assert (boot.cluster_id, boot.job_name, boot.task_index) == ("c1", "worker", 1)
    assert (boot.worker_num, boot.num_workers) == (2, 3)
    assert boot.cluster_spec == {
        "chief": ["10.0.0.5:2222"],
        "worker": ["10.0.0.6:2222", "10.0.0.7:2222"],
    }
    assert json.loads(boot.tf_config)["task"] == {"type": "worker", "index": 1}
    assert (boot.host, boot.executor_id, boot.secret) == ("10.0.0.7", "7", "contract-secret")
    assert boot.ready_file == "/tmp/sparktf-c1-worker-1/ready.json"
    assert boot.working_dir == "/tmp/sparktf-c1-worker-1"
    assert boot.program.WhichOneof("kind") == "script"
    assert boot.program.script.path == "/tmp/sparktf-c1-worker-1/train.py"
    assert boot.program.script.function == "main_fun"
    assert dict(boot.program.script.args) == {"lr": "0.1"}
    assert (boot.model_dir, boot.export_dir) == ("/models/m1", None)
    assert boot.checkpoint_dir == "/models/m1/ckpt"
    assert boot.input_mode == "SPARK" and boot.takes_data
    assert (boot.queue_capacity, boot.feed_timeout_seconds) == (16, 600.0)
    assert (boot.linger, boot.linger_timeout_seconds) == (True, 86400.0)
    assert boot.env == {"A": "1", "B": "2"}
    assert (boot.tensorboard, boot.log_dir, boot.shared_dir) == (False, None, "/dev/shm/s1")
    assert boot.keras3_mwms_fix is True


def test_every_field_python_reads_is_in_the_written_file():
    written = set(json.loads((TESTDATA / "node_bootstrap.json").read_text()))
    # None in this bootstrap (result: the chief of TFCluster.runFunction alone has one).
    unset_optionals = {"export_dir", "log_dir", "result"}
    assert written | unset_optionals == set(node_pb2.NodeBootstrap.DESCRIPTOR.fields_by_name)


def test_the_model_server_bootstrap_the_jvm_writes():
    boot = load_model_server_bootstrap(str(TESTDATA / "model_server_bootstrap.json"))
    assert (boot.export_dir, boot.signature) == ("/models/m1/export", "serving_default")
    assert (boot.secret, boot.host, boot.shared_dir) == (
        "contract-secret",
        "127.0.0.1",
        "/dev/shm/m1",
    )
    assert boot.ready_file == "/tmp/sparktf-model-server-1/ready.json"


def test_the_ready_file_python_writes_is_the_one_the_jvm_parses(tmp_path):
    path = tmp_path / "ready.json"
    write_ready_file(str(path), 41234, "http://10.0.0.5:39871/")
    contract = json.loads((TESTDATA / "node_ready.json").read_text())
    assert json.loads(path.read_text()) == {**contract, "pid": os.getpid()}
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    write_ready_file(str(path), 5)
    assert set(json.loads(path.read_text())) == {"port", "pid"}


def test_the_chiefs_return_value_is_written_where_the_bootstrap_says_and_bounded(tmp_path):
    import cloudpickle

    from sparktf.node.runtime import write_result

    target = tmp_path / "result.pkl"
    write_result({"loss": 0.5}, node_pb2.ProgramResult(path=str(target), max_bytes=1024))
    assert cloudpickle.loads(target.read_bytes()) == {"loss": 0.5}
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    with pytest.raises(ValueError, match=r"over max_result_bytes \(1024\)"):
        write_result(b"x" * 2048, node_pb2.ProgramResult(path=str(target), max_bytes=1024))
