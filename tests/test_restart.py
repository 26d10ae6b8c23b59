"""Restart: with ``max_restarts`` and a checkpoint directory, a cluster whose node fails is torn
down and started afresh, and the program resumes from its own checkpoints in
``ctx.checkpoint_dir``. In InputMode.SPARK the ``train()`` in progress feeds the epoch in
progress again; in InputMode.TENSORFLOW ``shutdown()`` waits for the restarted programs.

Each program appends what it did (its start, the step it restored, its last step) to a file per
node in a tmp dir, and the tests assert on those values. A node fails only on its first run: a
marker file in the tmp dir says the failure already happened.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest

from sparktf import InputMode, TFCluster
from sparktf.cluster import SparkTFError

ROWS = 400  # per epoch: 200 per node, 40 steps of 5 rows (a batch of 10 over 2 replicas)
BATCH = 10
EPOCHS = 6
SAVE_EVERY = 5
KILL_AT_STEP = 12


def record(args: dict[str, Any], ctx: Any, **event: Any) -> None:
    """Appends one JSON line to this node's file of events."""
    event["cluster_id"] = ctx.cluster_id
    with open(os.path.join(args["out"], f"{ctx.job_name}-{ctx.task_index}.jsonl"), "a") as f:
        f.write(json.dumps(event) + "\n")


def events(out: Any, node: str) -> list[dict[str, Any]]:
    with open(os.path.join(out, f"{node}.jsonl")) as f:
        return [json.loads(line) for line in f]


def train_with_checkpoint_manager(args: dict[str, Any], ctx: Any) -> None:
    """Linear regression under MultiWorkerMirroredStrategy with a custom loop; a
    tf.train.CheckpointManager saves every SAVE_EVERY steps. The worker SIGKILLs itself once, at
    step KILL_AT_STEP of its first run."""
    import signal

    import tensorflow as tf
    import tf_keras as keras

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        model = keras.Sequential([keras.layers.Input((1,)), keras.layers.Dense(1)])
        optimizer = keras.optimizers.SGD(0.01)
    step = tf.Variable(0, dtype=tf.int64, trainable=False)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step)
    latest = tf.train.latest_checkpoint(ctx.checkpoint_dir)
    if latest:
        checkpoint.restore(latest)
    record(
        args, ctx, event="start", restored_step=int(step.numpy()), checkpoint_dir=ctx.checkpoint_dir
    )
    # Under MWMS every worker saves (it may take collective ops); only the chief's copy is kept.
    where = (
        ctx.checkpoint_dir if ctx.is_chief else os.path.join(ctx.working_dir, "checkpoint-scratch")
    )
    manager = tf.train.CheckpointManager(checkpoint, where, max_to_keep=2)

    # No annotations on the traced functions: AutoGraph reads them where `Any` is unknown.
    def replica_step(x, y):
        with tf.GradientTape() as tape:
            x = tf.reshape(tf.cast(x, tf.float32), [-1, 1])
            error = model(x, training=True)[:, 0] - tf.cast(y, tf.float32)
            loss = tf.nn.compute_average_loss(tf.square(error))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    @tf.function
    def train_step(x, y):
        return strategy.reduce(
            tf.distribute.ReduceOp.SUM, strategy.run(replica_step, args=(x, y)), axis=None
        )

    dataset = ctx.get_data_feed().dataset(args["batch_size"], features=["x"], label="y")
    marker = os.path.join(args["out"], "killed-once")
    for x, y in strategy.experimental_distribute_dataset(dataset):
        train_step(x, y)
        done = int(step.assign_add(1).numpy())
        if done % args["save_every"] == 0:
            manager.save(checkpoint_number=done)
        if ctx.job_name == "worker" and done == args["kill_at_step"] and not os.path.exists(marker):
            open(marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
    record(args, ctx, event="end", step=int(step.numpy()))


def rows(spark: Any) -> Any:
    return (
        spark.range(ROWS)
        .selectExpr("cast(id as double) / 400 as x")
        .selectExpr("x", "2 * x + 1 as y")
        .repartition(4)
        .cache()
    )


@pytest.mark.timeout(900)
def test_a_killed_node_restarts_and_training_resumes_from_the_checkpoint(spark, tmp_path):
    out = tmp_path / "events"
    out.mkdir()
    checkpoints = str(tmp_path / "checkpoints")
    df = rows(spark)
    df.count()
    cluster = TFCluster.run(
        spark,
        train_with_checkpoint_manager,
        {
            "out": str(out),
            "batch_size": BATCH,
            "save_every": SAVE_EVERY,
            "kill_at_step": KILL_AT_STEP,
        },
        num_executors=2,
        input_mode=InputMode.SPARK,
        master_node="chief",
        checkpoint_dir=checkpoints,
        max_restarts=1,
        # A small queue keeps the feed close behind training: the kill lands inside train().
        queue_capacity=2,
        reservation_timeout=120,
        feed_timeout=300,
        shutdown_timeout=300,
    )
    first_id = cluster.cluster_id
    started = time.monotonic()
    try:
        report = cluster.train(df, num_epochs=EPOCHS)
        train_seconds = time.monotonic() - started
    finally:
        cluster.shutdown(timeout=300)
    print(f"train() with one restart took {train_seconds:.1f} s; report {report}")

    assert report["restarts"] == 1 and cluster.restarts == 1
    assert cluster.cluster_id != first_id
    [refed] = report["restarted_epochs"]
    assert 1 <= refed <= EPOCHS
    # Every epoch counted once, from the cluster that took it whole.
    assert report["epochs"] == EPOCHS
    assert report["rows_total"] == ROWS * EPOCHS
    assert report["rows_per_node"] == {
        "chief:0": ROWS // 2 * EPOCHS,
        "worker:0": ROWS // 2 * EPOCHS,
    }

    saved_before_kill = KILL_AT_STEP // SAVE_EVERY * SAVE_EVERY
    # MWMS splits each dataset batch over the two replicas: a step trains BATCH / 2 rows a node.
    steps_per_epoch = (ROWS // 2) // (BATCH // 2)
    for node in ("chief-0", "worker-0"):
        first_start, second_start, end = events(out, node)
        assert first_start["event"] == second_start["event"] == "start"
        assert first_start["restored_step"] == 0
        assert first_start["cluster_id"] == first_id != second_start["cluster_id"]
        assert first_start["checkpoint_dir"] == second_start["checkpoint_dir"] == checkpoints
        # The restarted program continued from the checkpoint, not from zero ...
        assert second_start["restored_step"] == saved_before_kill
        # ... and trained on the epoch in progress again plus the epochs not fed yet.
        assert end == {
            "event": "end",
            "cluster_id": second_start["cluster_id"],
            "step": saved_before_kill + steps_per_epoch * (EPOCHS - refed + 1),
        }


def raise_mid_feed_on_worker(args: dict[str, Any], ctx: Any) -> None:
    record(args, ctx, event="start")
    feed = ctx.get_data_feed()
    feed.next_batch(1)
    if ctx.job_name == "worker":
        raise ValueError("boom mid-feed, every run")
    while not feed.should_stop():
        feed.next_batch(16)


@pytest.mark.timeout(300)
def test_restarts_exhausted_fail_like_a_cluster_without_restarts(spark, tmp_path):
    cluster = TFCluster.run(
        spark,
        raise_mid_feed_on_worker,
        {"out": str(tmp_path)},
        num_executors=2,
        checkpoint_dir=str(tmp_path / "ckpt"),
        max_restarts=1,
        reservation_timeout=60,
        feed_timeout=60,
    )
    started = time.monotonic()
    try:
        with pytest.raises(SparkTFError) as err:
            cluster.train(
                spark.range(20000).selectExpr("cast(id as double) as x").repartition(4),
                num_epochs=50,
            )
        elapsed = time.monotonic() - started
        cluster.shutdown(timeout=10)
    finally:
        try:
            cluster.shutdown(timeout=10)
        except SparkTFError:
            pass
    message = str(err.value)
    print(f"time-to-error after 1 restart {elapsed:.1f} s: {message}")
    assert cluster.restarts == 1
    assert "worker:0" in message and "127.0.0.1" in message, message
    assert "ValueError: boom mid-feed, every run" in message and "Traceback" in message, message
    # Both runs started on both nodes: the first cluster, then the restarted one.
    for node in ("chief-0", "worker-0"):
        assert len({e["cluster_id"] for e in events(tmp_path, node)}) == 2


def read_all(args: dict[str, Any], ctx: Any) -> None:
    record(args, ctx, event="start")
    feed = ctx.get_data_feed()
    while not feed.should_stop():
        feed.next_batch(16)


@pytest.mark.timeout(300)
def test_a_failure_with_every_node_well_is_not_restarted(spark, tmp_path):
    """A null in a column would fail the restarted cluster the same way: no restart."""
    cluster = TFCluster.run(
        spark,
        read_all,
        {"out": str(tmp_path)},
        num_executors=2,
        checkpoint_dir=str(tmp_path / "ckpt"),
        max_restarts=1,
        reservation_timeout=60,
        feed_timeout=60,
    )
    df = spark.range(1000).selectExpr("IF(id = 567, NULL, cast(id as double)) AS x")
    try:
        with pytest.raises(SparkTFError) as err:
            cluster.train(df.repartition(2))
    finally:
        cluster.shutdown(timeout=10)
    assert "column 'x' has a null" in str(err.value), str(err.value)
    assert cluster.restarts == 0
    for node in ("chief-0", "worker-0"):
        assert len(events(tmp_path, node)) == 1


def fail_once_in_tensorflow_mode(args: dict[str, Any], ctx: Any) -> None:
    """The worker fails on its first run; the chief's first run waits for a peer that never
    comes (as a real chief blocks on a dead worker), so only stopping it ends it."""
    import time as t

    record(args, ctx, event="start", checkpoint_dir=ctx.checkpoint_dir)
    marker = os.path.join(args["out"], "failed-once")
    first_run = not os.path.exists(marker)
    if ctx.job_name == "worker" and first_run:
        open(marker, "w").close()
        raise ValueError("worker lost its input files (first run)")
    if ctx.job_name == "chief" and first_run:
        t.sleep(300)
    record(args, ctx, event="end")


@pytest.mark.timeout(300)
def test_tensorflow_mode_restarts_failed_programs_before_shutdown_returns(spark, tmp_path):
    started = time.monotonic()
    cluster = TFCluster.run(
        spark,
        fail_once_in_tensorflow_mode,
        {"out": str(tmp_path)},
        num_executors=2,
        input_mode=InputMode.TENSORFLOW,
        model_dir=str(tmp_path / "model"),
        max_restarts=2,
        reservation_timeout=60,
    )
    # The blocked chief is stopped with its failed peer: a shutdown within 120 s proves the
    # restart did not wait for its 300 s sleep.
    cluster.shutdown(timeout=120)
    print(f"InputMode.TENSORFLOW with one restart: {time.monotonic() - started:.1f} s")
    assert cluster.restarts == 1
    for node in ("chief-0", "worker-0"):
        runs = events(tmp_path, node)
        starts = [e for e in runs if e["event"] == "start"]
        assert len(starts) == 2 and runs[-1]["event"] == "end"
        assert starts[0]["cluster_id"] != starts[1]["cluster_id"]
        assert {e["checkpoint_dir"] for e in starts} == {str(tmp_path / "model" / "checkpoints")}


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        (
            dict(max_restarts=1),
            "max_restarts is 1 but there is no checkpoint directory to resume from: set "
            "checkpoint_dir (or model_dir",
        ),
        (
            dict(max_restarts=2, checkpoint_dir="ckpt"),
            "max_restarts is 2 but the checkpoint directory 'ckpt' is relative",
        ),
        (dict(max_restarts=-1, checkpoint_dir="/tmp/c"), "max_restarts is -1: use 0 or more"),
    ],
)
def test_restart_settings_are_refused_before_anything_starts(spark, kwargs, expected):
    with pytest.raises(SparkTFError) as err:
        TFCluster.run(spark, raise_mid_feed_on_worker, {}, num_executors=2, **kwargs)
    assert expected in str(err.value)
