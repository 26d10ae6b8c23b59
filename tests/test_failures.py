"""Fail fast: each way a cluster can break becomes a SparkTFError in the driver, within seconds,
naming the node (role:index and host) and carrying its traceback or its death; the other nodes
are stopped and no node process is left (the autouse ``no_leftover_nodes`` fixture checks).

The programs are tiny (no TensorFlow): what is tested is sparktf's failure path.
"""

from __future__ import annotations

import os
import signal
import stat
import sys
import threading
import time

import pytest
from conftest import java_nodes, node_pids

from sparktf import InputMode, TFCluster
from sparktf.cluster import SparkTFError

# Each case must fail within this; a slower one is a product bug, not a test to loosen.
FAIL_FAST_SECONDS = 30


def raise_before_feeding(args, ctx):
    raise ValueError("boom before feeding (test case a)")


def raise_mid_feed(args, ctx):
    feed = ctx.get_data_feed()
    feed.next_batch(1)
    if ctx.job_name == "worker":
        raise ValueError("boom mid-feed (test case b)")
    while not feed.should_stop():
        feed.next_batch(16)


def read_until_stopped(args, ctx):
    feed = ctx.get_data_feed()
    while not feed.should_stop():
        feed.next_batch(16)
        marker = (args or {}).get("fed_marker")
        if marker:
            # Tells the test that this node has taken data.
            with open(f"{marker}.{ctx.job_name}", "w"):
                pass


def rows(spark, n=20000):
    return spark.range(n).selectExpr("cast(id as double) as x").repartition(4)


def start(spark, main_fun, args=None, **kwargs):
    kwargs.setdefault("reservation_timeout", 60)
    return TFCluster.run(
        spark,
        main_fun,
        args or {},
        num_executors=2,
        input_mode=InputMode.SPARK,
        master_node="chief",
        feed_timeout=60,
        shutdown_timeout=60,
        **kwargs,
    )


def expect_failure(action, case):
    """Runs ``action``, which must raise SparkTFError within FAIL_FAST_SECONDS; returns the
    message and prints the time-to-error."""
    started = time.monotonic()
    with pytest.raises(SparkTFError) as info:
        action()
    elapsed = time.monotonic() - started
    print(f"time-to-error {case}) {elapsed:.1f} s")
    print(f"error {case}) {info.value}")
    assert elapsed < FAIL_FAST_SECONDS, f"case {case} took {elapsed:.1f} s to fail"
    return str(info.value)


def shutdown_quietly(cluster):
    """After a failure the cluster is already stopped; shutdown must not raise or hang."""
    started = time.monotonic()
    cluster.shutdown(timeout=10)
    assert time.monotonic() - started < 5


def stop_anyway(cluster):
    """Cleanup when a test failed before the failure it expected: the nodes must still go."""
    try:
        cluster.shutdown(timeout=10)
    except SparkTFError:
        pass


@pytest.mark.timeout(180)
def test_a_program_raises_before_feeding(spark):
    cluster = start(spark, raise_before_feeding)
    try:
        message = expect_failure(lambda: cluster.train(rows(spark)), "a")
        shutdown_quietly(cluster)
    finally:
        stop_anyway(cluster)
    assert "chief:0" in message and "worker:0" in message, message
    assert "127.0.0.1" in message, message
    assert "ValueError: boom before feeding (test case a)" in message, message
    assert "Traceback" in message, message


@pytest.mark.timeout(180)
def test_b_program_raises_mid_feed(spark):
    cluster = start(spark, raise_mid_feed)
    try:
        message = expect_failure(lambda: cluster.train(rows(spark), num_epochs=50), "b")
        shutdown_quietly(cluster)
    finally:
        stop_anyway(cluster)
    assert "worker:0" in message and "127.0.0.1" in message, message
    assert "ValueError: boom mid-feed (test case b)" in message, message
    assert "Traceback" in message, message


@pytest.mark.timeout(180)
def test_c_node_killed_mid_feed(spark, tmp_path):
    before = node_pids()
    marker = str(tmp_path / "fed")
    cluster = start(spark, read_until_stopped, {"fed_marker": marker})
    worker_pid = next(n.pid() for n in java_nodes(cluster) if n.role().address() == "worker:0")
    assert worker_pid in node_pids() - before

    def feed_and_kill():
        def kill_when_fed():
            # Kill once the worker has taken data, so the kill lands mid-feed.
            deadline = time.monotonic() + FAIL_FAST_SECONDS
            while time.monotonic() < deadline and not os.path.exists(f"{marker}.worker"):
                time.sleep(0.05)
            os.kill(worker_pid, signal.SIGKILL)

        threading.Thread(target=kill_when_fed, daemon=True).start()
        cluster.train(rows(spark), num_epochs=1000)

    try:
        message = expect_failure(feed_and_kill, "c")
        shutdown_quietly(cluster)
    finally:
        stop_anyway(cluster)
    assert "worker:0" in message and "127.0.0.1" in message, message
    # The executor outlived its node: it tells how the node ended.
    assert "worker:0" in message and "died: killed by signal 9" in message, message


@pytest.mark.timeout(120)
def test_e_more_executors_than_the_cluster_has(spark):
    message = expect_failure(
        lambda: TFCluster.run(
            spark, read_until_stopped, {}, num_executors=3, reservation_timeout=5
        ),
        "e",
    )
    assert "needs 3 executors" in message and "has only 2" in message, message
    assert "num_executors" in message, message


@pytest.fixture
def sleeping_python(tmp_path):
    """An executable that looks like a Python to the launcher but never starts a node."""
    path = tmp_path / "sleeping-python"
    path.write_text(
        f"#!{sys.executable}\n"
        "import sys, time\n"
        "print('fake python: sleeping instead of starting a node', file=sys.stderr)\n"
        "time.sleep(300)\n"
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.mark.timeout(180)
def test_f_node_never_ready(spark, sleeping_python):
    message = expect_failure(
        lambda: start(spark, read_until_stopped, reservation_timeout=15, python=sleeping_python),
        "f",
    )
    assert "chief:0" in message and "worker:0" in message, message
    assert "127.0.0.1" in message, message
    assert "not ready within 15" in message, message
    assert "fake python: sleeping instead of starting a node" in message, message
