"""sparktf from a Spark Connect client: a real Connect server (the pip pyspark's, started with
spark-submit, the sparktf jar and its two plugins, on local-cluster[2,1,1024]) and clients that
are processes of their own with no JVM (tests/programs/connect_client.py). Training from a
Connect DataFrame with exact row counts, cluster.inference, a Pipeline with TFEstimator, a node
failure reaching the client as SparkTFError with its traceback, and a client killed mid-training
leaving no node behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import psutil
import pytest

import sparktf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLIENT = os.path.join(ROOT, "tests", "programs", "connect_client.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_command(port: int) -> list[str]:
    from pyspark.find_spark_home import _find_spark_home

    confs = {
        "spark.connect.extensions.command.classes": "io.sparktf.connect.SparkTFCommandPlugin",
        "spark.connect.extensions.relation.classes": "io.sparktf.connect.SparkTFRelationPlugin",
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.connect.grpc.binding.port": str(port),
        "spark.driver.host": "127.0.0.1",
        "spark.pyspark.python": sys.executable,
        "spark.ui.enabled": "false",
        "spark.task.maxFailures": "2",
        "spark.scheduler.barrier.maxConcurrentTasksCheck.maxFailures": "1",
        # A command whose client is gone is interrupted once its response stream ends (every
        # 10 s here, 2 min by default; a live client reattaches) and it stays detached for 5 s
        # (5 min by default): the disconnect test sees its cluster stopped within seconds.
        "spark.connect.execute.reattachable.senderMaxStreamDuration": "10s",
        "spark.connect.execute.manager.detachedTimeout": "5s",
        "spark.connect.execute.manager.maintenanceInterval": "1s",
    }
    command = [
        os.path.join(_find_spark_home(), "bin", "spark-submit"),
        "--class",
        "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--master",
        "local-cluster[2,1,1024]",
        "--jars",
        sparktf.jar_path(),
    ]
    for key, value in confs.items():
        command += ["--conf", f"{key}={value}"]
    return command


class ConnectServer:
    def __init__(self, tmp: str) -> None:
        self.port = free_port()
        self.url = f"sc://127.0.0.1:{self.port}"
        self.log_path = os.path.join(tmp, "connect-server.log")
        env = dict(os.environ, SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=sys.executable)
        env.pop("SPARK_REMOTE", None)
        self.log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            server_command(self.port),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            assert self.process.poll() is None, f"the Connect server exited:\n{self.tail()}"
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.5)
        raise AssertionError(f"no Connect server listening within {timeout} s:\n{self.tail()}")

    def tail(self, lines: int = 60) -> str:
        with open(self.log_path) as f:
            return "".join(f.readlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM (Spark stops its context, executors and their nodes), then waits for every
        process the server started to end; kills what is left of them, and says so."""
        started = [self.process.pid]
        try:
            started += [p.pid for p in psutil.Process(self.process.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            pass
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
        deadline = time.time() + 30
        left = [pid for pid in started if psutil.pid_exists(pid)]
        while left and time.time() < deadline:
            time.sleep(0.5)
            left = [pid for pid in started if _alive(pid)]
        for pid in left:
            try:
                psutil.Process(pid).kill()
            except psutil.NoSuchProcess:
                pass
        self.log.close()
        assert not left, f"the Connect server left processes behind: {left}"


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture(scope="module")
def connect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConnectServer]:
    server = ConnectServer(str(tmp_path_factory.mktemp("connect")))
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def client_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.join(ROOT, "python")
    env.pop("SPARK_REMOTE", None)
    return env


def run_client(server: ConnectServer, scenario: str, *args: str, timeout: float = 240) -> dict:
    """Runs a client scenario to its end; its last JSON line."""
    done = subprocess.run(
        [sys.executable, CLIENT, scenario, server.url, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=client_env(),
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert done.returncode == 0 and lines, (
        f"client '{scenario}' exited {done.returncode}\nstdout:\n{done.stdout[-3000:]}\n"
        f"stderr:\n{done.stderr[-5000:]}\nserver log:\n{server.tail()}"
    )
    return json.loads(lines[-1])


def test_train_from_a_connect_dataframe_counts_every_row(connect_server):
    result = run_client(connect_server, "train")
    report = result["report"]
    assert result["count"] == 600
    assert report["rows_total"] == 2 * 600, report
    assert sum(report["rows_per_node"].values()) == 2 * 600, report
    assert len(report["rows_per_node"]) == 2, report
    # validation_df reached the nodes too, split evenly.
    assert sorted(report["validation_rows_per_node"].values()) == [50, 50], report
    assert result["roles"] == ["chief:0", "worker:0"], result
    assert result["cluster_id"] and result["tensorboard_url"] is None, result
    assert result["state"] == "done", result
    # A Connect client runs no JVM: pyspark's Connect client is gRPC alone.
    assert not any("java" in name for name in result["children"]), result["children"]


def test_cluster_inference_from_connect_answers_every_row_and_refuses_a_bad_schema(
    connect_server,
):
    result = run_client(connect_server, "inference")
    assert result["columns"] == ["id", "v", "doubled"], result
    assert result["rows"] == 500 and result["wrong"] == 0, result
    assert result["refused"] and "output_schema 'doubled not_a_type'" in result["refused"], result


def test_pipeline_with_tfestimator_fits_and_transforms_over_connect(connect_server, tmp_path):
    export_dir = str(tmp_path / "export")
    result = run_client(connect_server, "pipeline", export_dir)
    assert result["rows"] == 400 and result["nulls"] == 0, result
    assert result["columns"][-1] == "prediction", result
    assert result["export_dir"] == export_dir, result
    assert os.path.exists(os.path.join(export_dir, "saved_model.pb"))


def test_sparktf_run_over_connect_returns_plain_values_and_refuses_others(connect_server):
    result = run_client(connect_server, "run")
    # The chief's value, read by the server as data and answered as JSON (a tuple as a list).
    assert result["value"] == {
        "task": {"type": "chief", "index": 0},
        "values": [1, 2.5, None, True, "s"],
    }, result
    refused = result["refused"]
    assert refused and "sparktf.run over Spark Connect returns plain values" in refused, result
    assert "numpy" in refused, refused


def test_a_node_failure_reaches_the_connect_client_as_sparktf_error_with_traceback(
    connect_server,
):
    result = run_client(connect_server, "failure")
    assert result["raised"] == "SparkTFError", result
    message = result["message"]
    assert "connect-client-boom" in message and "Traceback" in message, message
    assert "chief:0" in message or "worker:0" in message, message


def test_a_client_killed_mid_training_leaves_no_node(connect_server):
    client = subprocess.Popen(
        [sys.executable, CLIENT, "disconnect", connect_server.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=client_env(),
    )
    pids: list[int] = []
    try:
        deadline = time.time() + 180
        for line in client.stdout:  # type: ignore[union-attr]
            if line.startswith("{"):
                fields = json.loads(line)
                pids = fields.get("pids", pids)
                if fields.get("training"):
                    break
            assert time.time() < deadline, "the client did not start training within 180 s"
        assert len(pids) == 2, f"nodes: {pids}\n{connect_server.tail()}"
        time.sleep(5)  # training is under way: the program takes 10 rows a second, of 20,000
        assert all(_alive(pid) for pid in pids), "the nodes ended before the client was killed"
    finally:
        client.kill()
        client.wait(timeout=30)
    # The server interrupts the orphaned train (10 s + 5 s here) and sparktf stops its
    # cluster: no node is left, although the client never called shutdown().
    deadline = time.time() + 90
    while any(_alive(pid) for pid in pids) and time.time() < deadline:
        time.sleep(1)
    left = [pid for pid in pids if _alive(pid)]
    assert not left, f"nodes {left} outlived their killed client\n{connect_server.tail()}"
