"""Fail fast when an executor JVM dies (case d of the fail-fast issue), on a standalone master
and two workers on 127.0.0.1: the driver gets a SparkTFError naming the node, and the node whose
executor died exits on its own within seconds (it watches its parent). Also case e where the
cluster could grow: the wait for executors is bounded and names what it found.

The driver runs in its own process (tests/programs/executor_death_driver.py): this test session
may already hold a local-cluster SparkContext, and a JVM has one.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, "programs", "executor_death_driver.py")
START_TIMEOUT_SECONDS = 90


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {timeout} s"
        time.sleep(0.5)


def alive_workers(webui_port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{webui_port}/json/", timeout=5) as r:
            return int(json.load(r).get("aliveworkers", 0))
    except OSError:
        return 0


def stop_process(proc: subprocess.Popen) -> None:
    """Stops a process this test started and every process under it (its executors)."""
    try:
        family = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        family = []
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
    for child in family:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass


@pytest.fixture(scope="module")
def standalone(tmp_path_factory, spark_env):
    """A standalone master and two one-core workers on 127.0.0.1; yields (master URL, worker
    PIDs). Everything started here is stopped, by PID, at the end."""
    spark_home = os.environ["SPARK_HOME"]
    spark_class = os.path.join(spark_home, "bin", "spark-class")
    base = tmp_path_factory.mktemp("standalone")
    port, webui = free_port(), free_port()
    started: list[subprocess.Popen] = []
    env = dict(spark_env, SPARK_NO_DAEMONIZE="1")
    try:
        with open(base / "master.log", "w") as log:
            started.append(
                subprocess.Popen(
                    [
                        spark_class,
                        "org.apache.spark.deploy.master.Master",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--webui-port",
                        str(webui),
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
            )
        wait_for(
            lambda: _listening(port), START_TIMEOUT_SECONDS, "the standalone master did not listen"
        )
        for i in range(2):
            with open(base / f"worker-{i}.log", "w") as log:
                started.append(
                    subprocess.Popen(
                        [
                            spark_class,
                            "org.apache.spark.deploy.worker.Worker",
                            "--host",
                            "127.0.0.1",
                            "--cores",
                            "1",
                            "--memory",
                            "1g",
                            "--webui-port",
                            "0",
                            "--work-dir",
                            str(base / f"work-{i}"),
                            f"spark://127.0.0.1:{port}",
                        ],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env=env,
                    )
                )
        wait_for(
            lambda: alive_workers(webui) == 2,
            START_TIMEOUT_SECONDS,
            "two workers did not register with the master",
        )
        yield f"spark://127.0.0.1:{port}", [p.pid for p in started[1:]], base
    finally:
        for proc in reversed(started):
            stop_process(proc)


def is_running_node(pid: int) -> bool:
    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and "sparktf.node" in proc.cmdline()
    except psutil.Error:
        return False


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.timeout(300)
def test_d_executor_killed_mid_feed(standalone, spark_env):
    master, worker_pids, base = standalone
    env = dict(
        spark_env,
        PYTHONPATH=os.pathsep.join(
            [os.path.join(os.path.dirname(HERE), "python"), spark_env.get("PYTHONPATH", "")]
        ),
    )
    proc = subprocess.run(
        [sys.executable, DRIVER, master, *map(str, worker_pids)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    (base / "driver.log").write_text(proc.stdout + proc.stderr)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, (
        f"driver exited with {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    )
    result = json.loads(lines[-1][len("RESULT ") :])
    print(f"time-to-error e) on standalone {result['too_many_seconds']:.1f} s")
    too_many = result["too_many_error"]
    assert too_many is not None, "a cluster of 3 nodes started on 2 executors"
    assert "needs 3 executors" in too_many and "only 2 registered within 5.0 s" in too_many
    assert result["too_many_seconds"] < 15, result
    print(f"time-to-error d) {result['seconds_to_error']:.1f} s")
    print(
        f"the killed executor's node exited {result['victim_node_exit_seconds']:.1f} s after "
        "the kill"
    )
    message = result["error"]
    assert message is not None, "train() returned although an executor was killed"
    assert "worker:0" in message and "127.0.0.1" in message, message
    assert "gone" in message or "died" in message or "lost" in message, message
    assert result["seconds_to_error"] < 30, result
    # The node polls its parent every second.
    assert result["victim_node_exit_seconds"] is not None, "the orphaned node did not exit"
    assert result["victim_node_exit_seconds"] < 10, result
    # Its executor cannot remove the node's working directory (bootstrap with the cluster
    # secret, program) any more: the orphaned node removes it before it exits.
    assert result["victim_dir_left"] is False, result
    left = [pid for pid in result["node_pids"] if is_running_node(pid)]
    assert not left, f"node processes left running: {left}"
