"""A real ``python -m sparktf.node`` process: start, feed, status, stop, failure, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import cloudpickle
import grpc
import pytest
from column_batches import batch_message, feed_stream, numeric_batch, schema, spec, start_message

from sparktf.v1 import feed_pb2, feed_pb2_grpc, node_control_pb2, node_control_pb2_grpc

PYTHON_DIR = Path(__file__).resolve().parents[1]
SECRET = "node-test-secret"
CLUSTER = "c-proc"
AUTH = [("sparktf-secret", SECRET)]
SCHEMA = schema(spec("x", feed_pb2.INT64))


def _bootstrap(tmp: Path, program: dict, linger: bool = True) -> Path:
    boot = {
        "cluster_id": CLUSTER,
        "job_name": "chief",
        "task_index": 0,
        "worker_num": 0,
        "num_workers": 1,
        "cluster_spec": {"chief": {"addresses": ["127.0.0.1:1"]}},
        "tf_config": json.dumps(
            {"cluster": {"chief": ["127.0.0.1:1"]}, "task": {"type": "chief", "index": 0}}
        ),
        "host": "127.0.0.1",
        "secret": SECRET,
        "ready_file": str(tmp / "ready.json"),
        "working_dir": str(tmp),
        "program": program,
        "model_dir": str(tmp / "model"),
        "export_dir": None,
        "queue_capacity": 4,
        "feed_timeout_seconds": 20,
        "linger": linger,
        "linger_timeout_seconds": 30,
        "env": {"SPARKTF_TEST_VAR": "on"},
        "input_mode": "SPARK",
        "executor_id": "1",
        "tensorboard": False,
    }
    path = tmp / "bootstrap.json"
    path.write_text(json.dumps(boot))
    path.chmod(0o600)
    return path


class NodeProcess:
    def __init__(self, tmp: Path, program: dict, linger: bool = True) -> None:
        self.tmp = tmp
        env = dict(os.environ, PYTHONPATH=str(PYTHON_DIR))
        self.log = open(tmp / "node.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sparktf.node", str(_bootstrap(tmp, program, linger))],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.channel: grpc.Channel | None = None

    def output(self) -> str:
        return (self.tmp / "node.log").read_text(errors="replace")

    def connect(self, timeout: float = 20.0) -> None:
        ready = self.tmp / "ready.json"
        deadline = time.monotonic() + timeout
        while not ready.exists():
            assert self.proc.poll() is None, f"node exited early:\n{self.output()}"
            assert time.monotonic() < deadline, f"no ready file in {timeout} s:\n{self.output()}"
            time.sleep(0.05)
        info = json.loads(ready.read_text())
        assert info["pid"] == self.proc.pid
        self.channel = grpc.insecure_channel(f"127.0.0.1:{info['port']}")
        self.data = feed_pb2_grpc.DataFeedStub(self.channel)
        self.control = node_control_pb2_grpc.NodeControlStub(self.channel)

    def status(self) -> node_control_pb2.NodeStatus:
        return self.control.GetStatus(node_control_pb2.StatusRequest(), metadata=AUTH, timeout=5)

    def wait_state(self, state: int, timeout: float = 15.0) -> node_control_pb2.NodeStatus:
        deadline = time.monotonic() + timeout
        while True:
            status = self.status()
            if status.state == state or time.monotonic() > deadline:
                return status
            time.sleep(0.1)

    def stop(self, grace: float = 5.0) -> None:
        self.control.Stop(
            node_control_pb2.StopRequest(grace_seconds=grace), metadata=AUTH, timeout=5
        )

    def wait_exit(self, timeout: float = 10.0) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"node still running {timeout} s after it should exit:\n{self.output()}")

    def kill(self) -> None:
        if self.channel is not None:
            self.channel.close()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()


def _pickled(tmp: Path, main_fun, args) -> dict:
    path = tmp / "program.pkl"
    # The node cannot import this test module: ship its functions by value, as a user's
    # notebook functions are.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        with open(path, "wb") as fh:
            cloudpickle.dump((main_fun, args), fh)
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    return {"pickled": {"path": str(path)}}


def _reading_program(args, ctx):
    feed = ctx.get_data_feed()
    sizes, xs = [], []
    while not feed.should_stop():
        b = feed.next_batch(4)
        if b:
            sizes.append(len(b["x"]))
            xs.extend(b["x"].tolist())
    with open(args["out"], "w") as fh:
        json.dump(
            {
                "sizes": sizes,
                "xs": xs,
                "role": f"{ctx.job_name}:{ctx.task_index}",
                "cwd": os.getcwd(),
                "tf_config": os.environ.get("TF_CONFIG"),
                "env": os.environ.get("SPARKTF_TEST_VAR"),
                "export": ctx.absolute_path("export"),
            },
            fh,
        )


@pytest.mark.timeout(60)
def test_node_runs_a_pickled_program_on_fed_data_and_exits_on_stop(tmp_path):
    out = tmp_path / "result.json"
    node = NodeProcess(tmp_path, _pickled(tmp_path, _reading_program, {"out": str(out)}))
    try:
        node.connect()
        messages = [start_message(CLUSTER, "feed-1", SCHEMA)] + [
            batch_message(numeric_batch(SCHEMA, s, 3)) for s in (0, 3, 6)
        ]
        ack = feed_stream(node.data, messages, AUTH)
        assert ack.rows_received == 9 and not ack.terminated
        reply = node.control.EndFeed(
            node_control_pb2.EndFeedRequest(feed_id="feed-1", expected_rows=9),
            metadata=AUTH,
            timeout=5,
        )
        assert reply.rows_received == 9
        status = node.wait_state(node_control_pb2.FINISHED)
        assert status.state == node_control_pb2.FINISHED, node.output()
        assert (status.rows_received, status.job_name) == (9, "chief")
        result = json.loads(out.read_text())
        assert result["xs"] == list(range(9)) and result["sizes"] == [4, 4, 1]
        assert result["role"] == "chief:0" and result["env"] == "on"
        assert result["cwd"] == str(tmp_path)
        assert json.loads(result["tf_config"])["task"] == {"type": "chief", "index": 0}
        assert result["export"] == str(tmp_path / "model" / "export")
        # The program has returned: later streams are told to stop.
        ack = feed_stream(node.data, messages, AUTH)
        assert ack.terminated
        node.stop()
        assert node.wait_exit(10) == 0
    finally:
        node.kill()


@pytest.mark.timeout(60)
def test_failing_script_reports_failed_with_traceback(tmp_path):
    script = tmp_path / "train_job.py"
    script.write_text(
        "def main(args, ctx):\n    raise ValueError('model exploded: ' + args['why'])\n"
    )
    program = {"script": {"path": str(script), "function": "main", "args": {"why": "bad lr"}}}
    node = NodeProcess(tmp_path, program)
    try:
        node.connect()
        status = node.wait_state(node_control_pb2.FAILED)
        assert status.state == node_control_pb2.FAILED, node.output()
        assert "ValueError: model exploded: bad lr" in status.error
        assert "train_job.py" in status.error
        with pytest.raises(grpc.RpcError) as err:
            node.data.Feed(iter([start_message(CLUSTER, "f", SCHEMA)]), metadata=AUTH, timeout=5)
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "node chief:0 failed" in err.value.details()
        node.stop()
        assert node.wait_exit(10) == 1
        assert "model exploded" in node.output()
    finally:
        node.kill()


def _sleeping_program(args, ctx):
    time.sleep(60)


@pytest.mark.timeout(60)
def test_stop_ends_a_running_program_after_the_grace(tmp_path):
    node = NodeProcess(tmp_path, _pickled(tmp_path, _sleeping_program, None))
    try:
        node.connect()
        assert node.status().state == node_control_pb2.RUNNING
        began = time.monotonic()
        node.stop(grace=0.5)
        assert node.wait_exit(10) == 2
        assert time.monotonic() - began < 6
    finally:
        node.kill()


def _returning_program(args, ctx):
    return None


@pytest.mark.timeout(60)
def test_without_linger_the_node_exits_when_the_program_returns(tmp_path):
    node = NodeProcess(tmp_path, _pickled(tmp_path, _returning_program, None), linger=False)
    try:
        assert node.wait_exit(20) == 0
        assert (tmp_path / "ready.json").exists()
        assert not list(tmp_path.glob("ready.json.tmp*"))
    finally:
        node.kill()


@pytest.mark.timeout(60)
def test_bad_bootstrap_names_the_field(tmp_path):
    path = tmp_path / "bootstrap.json"
    path.write_text(json.dumps({"cluster_id": "c", "job_name": "boss"}))
    proc = subprocess.run(
        [sys.executable, "-m", "sparktf.node", str(path)],
        env=dict(os.environ, PYTHONPATH=str(PYTHON_DIR)),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 4
    assert "field 'job_name' must be one of chief, worker, ps, evaluator" in proc.stderr
