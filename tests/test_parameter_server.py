"""ParameterServerStrategy on a real cluster: 1 ps, a chief (the coordinator), 2 workers and a
sidecar evaluator, run as a user would (spark-submit of examples/parameter_server.py on its own
local-cluster of 5 executors); and a ps-style worker under InputMode.SPARK failing clearly."""

from __future__ import annotations

import json
import os
import re
import time

import psutil
import pytest
from conftest import ROOT, launch

import sparktf
from sparktf import InputMode, TFCluster
from sparktf.cluster import SparkTFError

EPOCHS = 8


@pytest.mark.timeout(720)
def test_parameter_server_training_with_a_sidecar_evaluator(spark_env, tmp_path):
    from pyspark.find_spark_home import _find_spark_home

    spark_home = _find_spark_home()
    jar = sparktf.jar_path()
    env = dict(spark_env)
    env.pop("PYTHONPATH", None)  # sparktf comes from the jar, as with --packages
    env.update(SPARK_HOME=spark_home, PYSPARK_DRIVER_PYTHON=spark_env["PYSPARK_PYTHON"])
    model_dir = tmp_path / "model"
    cmd = [
        os.path.join(spark_home, "bin", "spark-submit"),
        # 1 ps + chief + evaluator + 2 workers: one executor each.
        "--master",
        "local-cluster[5,1,1024]",
        "--jars",
        jar,
        "--py-files",
        jar,
        "--conf",
        "spark.driver.host=127.0.0.1",
        os.path.join(ROOT, "examples", "parameter_server.py"),
        "--master",
        "",
        "--epochs",
        str(EPOCHS),
        "--model-dir",
        str(model_dir),
        # ps and workers must end with the chief; a hang would fail shutdown after this.
        "--timeout",
        "300",
    ]
    started = time.monotonic()
    done = launch(cmd, env, tmp_path, timeout=660)
    seconds = time.monotonic() - started
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # Nodes whose executor is gone are no longer our descendants (the autouse check cannot see
    # them): look for this cluster's node processes by their working directories' names.
    started_line = re.search(r"sparktf cluster (\w+): starting (.*)", done.stderr)
    assert started_line, "the driver log does not name the cluster"
    assert started_line.group(2).split(", ") == [
        "ps:0",
        "chief:0",
        "evaluator:0",
        "worker:0",
        "worker:1",
    ]
    assert not cluster_nodes_left(started_line.group(1), wait_seconds=30)
    figures = {
        k: result[k] for k in ("loss_per_epoch", "wall_seconds", "shutdown_after_chief_seconds")
    }
    figures["evaluated"] = [(e["step"], e["accuracy"]) for e in result["evaluations"]]
    print(f"spark-submit ran {seconds:.0f} s: {json.dumps(figures)}")

    losses = result["loss_per_epoch"]
    assert len(losses) == EPOCHS
    assert losses[-1] < 0.5 * losses[0], f"the loss did not go down: {losses}"
    assert (model_dir / "export" / "saved_model.pb").exists(), "the chief exported no model"

    checkpoints = result["checkpoints"]
    evaluations = result["evaluations"]
    assert len(checkpoints) == EPOCHS
    assert evaluations, "the evaluator evaluated no checkpoint"
    assert all(e["checkpoint"] in checkpoints for e in evaluations), evaluations
    # The evaluator stops only after scoring the chief's last checkpoint.
    assert evaluations[-1]["checkpoint"] == checkpoints[-1], evaluations
    assert evaluations[-1]["accuracy"] > 0.8, evaluations
    steps = [e["step"] for e in evaluations]
    assert steps == sorted(set(steps)), f"a checkpoint was evaluated twice or out of order: {steps}"
    # Every node writes under its own run, <log_dir>/<job>-<index> (ctx.log_dir): TensorBoard
    # over <log_dir> shows the evaluator's "evaluator-0/eval" beside the workers' runs.
    assert list(
        (model_dir / "tensorboard" / "evaluator-0" / "eval").glob("events.out.tfevents.*")
    ), "the evaluator wrote no TensorBoard summaries"


def cluster_nodes_left(cluster_id: str, wait_seconds: float) -> list[int]:
    """PIDs of node processes of cluster ``cluster_id`` still running after ``wait_seconds``."""
    deadline = time.monotonic() + wait_seconds
    while True:
        left = []
        for p in psutil.process_iter(["cmdline"]):
            cmdline = " ".join(p.info["cmdline"] or [])
            if "sparktf.node" in cmdline and f"sparktf-{cluster_id}-" in cmdline:
                left.append(p.pid)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


def serve_on_every_worker(args, ctx):
    """The ps/worker side of a ParameterServerStrategy program, started in InputMode.SPARK."""
    if ctx.job_name == "worker":
        from sparktf.program.parameter_server import serve

        serve(ctx)


@pytest.mark.timeout(300)
def test_serve_on_a_spark_fed_worker_fails_naming_input_mode_tensorflow(spark):
    cluster = TFCluster.run(
        spark,
        serve_on_every_worker,
        {},
        num_executors=2,
        input_mode=InputMode.SPARK,
        master_node="chief",
    )
    with pytest.raises(SparkTFError) as err:
        cluster.shutdown(timeout=120)
    message = str(err.value)
    assert "worker:0" in message and "input_mode=InputMode.TENSORFLOW" in message, message


def chief_fails_after_using_the_ps(args, ctx):
    """The ps serves; the chief puts a variable on it, then raises. The ps ends by itself (the
    chief's server is gone) or by Spark cancelling the failed barrier stage, whichever is first."""
    if ctx.job_name == "ps":
        from sparktf.program.parameter_server import serve

        serve(ctx)
        return
    import tensorflow as tf

    tf.config.experimental_connect_to_cluster(
        tf.distribute.cluster_resolver.TFConfigClusterResolver(), job_name="chief"
    )
    with tf.device("/job:ps/task:0"):
        total = tf.Variable(1.0)
    total.assign_add(41.0)
    raise ValueError(f"the chief gives up with total={total.numpy():.0f}")


@pytest.mark.timeout(300)
def test_a_failing_chief_ends_the_ps_and_fails_shutdown_with_its_traceback(spark):
    started = time.monotonic()
    cluster = TFCluster.run(
        spark,
        chief_fails_after_using_the_ps,
        {},
        num_executors=2,
        num_ps=1,
        input_mode=InputMode.TENSORFLOW,
        master_node="chief",
    )
    with pytest.raises(SparkTFError) as err:
        cluster.shutdown(timeout=180)
    message = str(err.value)
    assert "chief:0" in message and "the chief gives up with total=42" in message, message
    print(f"failed chief: shutdown raised after {time.monotonic() - started:.1f} s")
