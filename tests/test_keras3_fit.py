"""Keras 3 ``model.fit``, unchanged, under MultiWorkerMirroredStrategy on two nodes fed from a
DataFrame: the node's fix (``sparktf.node.keras_mwms_fix``) is all that makes it work.

One Spark run carries most checks, to keep CI short: compiled metrics (``accuracy`` and a
``keras.metrics`` object) in ``history``, the same on both workers; ModelCheckpoint,
EarlyStopping, TensorBoard, BackupAndRestore through a restart (``max_restarts``: the worker
kills itself once at the start of an epoch, the restarted cluster resumes from the backup and
the feed from the epoch it died in, with ``fit(epochs=N)`` unchanged) and
a custom callback; ``validation_data``; ``evaluate``; ``predict``; ``steps_per_epoch``; class
weights; weights bit-identical on both workers; the chief's ``.keras`` file reloads on the
driver and scores > 0.9 on the held-out digits.

Each node appends JSON lines to a file per node in a tmp dir; the test asserts on them.
"""

from __future__ import annotations

import json
import os
from typing import Any

import keras_digits
import pytest

from sparktf import TFCluster

BATCH = 50  # rows per dataset batch on a node; MWMS splits it over the two replicas
EPOCHS = 10
KILL_EPOCH = 3  # 0-based: the worker dies as this epoch begins, on its first run only


def record(args: dict[str, Any], ctx: Any, **event: Any) -> None:
    event["cluster_id"] = ctx.cluster_id
    with open(os.path.join(args["out"], f"{ctx.job_name}-{ctx.task_index}.jsonl"), "a") as f:
        f.write(json.dumps(event) + "\n")


def events(out: Any, node: str) -> list[dict[str, Any]]:
    with open(os.path.join(out, f"{node}.jsonl")) as f:
        return [json.loads(line) for line in f]


def keras3_fit(args: dict[str, Any], ctx: Any) -> None:
    """A Keras 3 user's program: nothing in it works around MultiWorkerMirroredStrategy."""
    import hashlib
    import signal

    import keras
    import numpy as np
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        model = keras.Sequential(
            [keras.Input((64,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10)]
        )
        model.compile(
            optimizer=keras.optimizers.Adam(0.01),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy", keras.metrics.SparseTopKCategoricalAccuracy(k=2, name="top2")],
        )
    feed = ctx.get_data_feed()
    per_epoch = args["node_rows_per_epoch"]
    feed_epochs = feed.schema.plan.node_rows // per_epoch  # fewer after a restart
    # Every node keeps its own backup, in a directory that outlives the restart.
    backup_dir = os.path.join(ctx.checkpoint_dir, f"{ctx.job_name}-{ctx.task_index}")
    metadata = os.path.join(backup_dir, "training_metadata.json")
    restored = json.load(open(metadata))["epoch"] if os.path.exists(metadata) else 0
    record(args, ctx, event="start", restored=restored, feed_epochs=feed_epochs)
    mine = ctx.model_dir if ctx.is_chief else ctx.working_dir  # only the chief's files count
    x_val, y_val = np.array(args["x_val"], "float32"), np.array(args["y_val"], "int32")
    marker = os.path.join(args["out"], "killed")

    class Recorder(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            if epoch == KILL_EPOCH and ctx.job_name == "worker" and not os.path.exists(marker):
                open(marker, "w").close()
                os.kill(os.getpid(), signal.SIGKILL)

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            record(
                args, ctx, event="epoch", epoch=epoch, logs={k: float(v) for k, v in logs.items()}
            )

    early = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=EPOCHS)
    history = model.fit(
        feed.dataset(BATCH, features=["features"], label="label"),
        # As a user writes it: the restarted feed starts at the first epoch the programs had
        # not finished, where BackupAndRestore resumes (sparktf.node.epoch_record).
        epochs=args["epochs"],
        steps_per_epoch=per_epoch // BATCH * 2,  # the replicas' halves of the node's batches
        validation_data=(x_val, y_val),
        class_weight={c: 1.0 + c / 10 for c in range(10)},
        verbose=0,
        callbacks=[
            keras.callbacks.BackupAndRestore(backup_dir),
            keras.callbacks.ModelCheckpoint(os.path.join(mine, "epoch-{epoch:02d}.keras")),
            keras.callbacks.TensorBoard(os.path.join(mine, "tensorboard")),
            early,
            Recorder(),
        ],
    )
    evaluated = model.evaluate(x_val, y_val, verbose=0, return_dict=True)
    predicted = model.predict(x_val, verbose=0)
    weights = hashlib.sha256(b"".join(np.asarray(w).tobytes() for w in model.get_weights()))
    if ctx.is_chief:
        os.makedirs(ctx.export_dir, exist_ok=True)
        model.save(os.path.join(ctx.export_dir, "model.keras"))
    record(
        args,
        ctx,
        event="end",
        history={k: [float(v) for v in vs] for k, vs in history.history.items()},
        early_best=float(early.best),
        evaluate={k: float(v) for k, v in evaluated.items()},
        predicted_rows=int(predicted.shape[0]),
        predicted_accuracy=float((predicted.argmax(-1) == np.resize(y_val, len(predicted))).mean()),
        weights=weights.hexdigest(),
        checkpoints=sorted(f for f in os.listdir(mine) if f.startswith("epoch-")),
        tensorboard=sorted(os.listdir(os.path.join(mine, "tensorboard"))),
    )


@pytest.mark.timeout(900)
def test_keras3_fit_with_metrics_callbacks_and_a_restart_on_two_nodes(spark, tmp_path):
    train_df, test_df = keras_digits.digits_frames(spark)
    train_df = train_df.repartition(2).cache()
    rows = train_df.count()
    assert rows % (2 * BATCH) == 0, rows  # whole batches on both nodes: steps_per_epoch is exact
    test = test_df.collect()
    out = tmp_path / "events"
    out.mkdir()
    export_dir = str(tmp_path / "export")
    cluster = TFCluster.run(
        spark,
        keras3_fit,
        {
            "out": str(out),
            "epochs": EPOCHS,
            "node_rows_per_epoch": rows // 2,
            "x_val": [r.features for r in test],
            "y_val": [r.label for r in test],
        },
        num_executors=2,
        model_dir=str(tmp_path / "model"),
        export_dir=export_dir,
        checkpoint_dir=str(tmp_path / "backup"),
        max_restarts=1,
        queue_capacity=4,
        reservation_timeout=120,
        feed_timeout=300,
        shutdown_timeout=300,
    )
    try:
        report = cluster.train(train_df, num_epochs=EPOCHS)
    finally:
        cluster.shutdown(timeout=300)
    print(f"keras 3 fit report {report}")
    assert report["restarts"] == 1 and report["epochs"] == EPOCHS
    assert report["rows_total"] == rows * EPOCHS
    [refed] = report["restarted_epochs"]  # 1-based
    # Fed again from the epoch the worker died in, although the JVM had fed further: the
    # epochs after it were in the dead node's queue, never trained.
    assert refed == KILL_EPOCH + 1, report
    refeds = EPOCHS - refed + 1

    chief, worker = events(out, "chief-0"), events(out, "worker-0")
    for node in (chief, worker):
        starts = [e for e in node if e["event"] == "start"]
        # BackupAndRestore resumed after the epochs it saved; the restarted feed held the rest.
        assert [(s["restored"], s["feed_epochs"]) for s in starts] == [
            (0, EPOCHS),
            (KILL_EPOCH, refeds),
        ]
    chief_end, worker_end = chief[-1], worker[-1]
    assert chief_end["event"] == worker_end["event"] == "end"
    history = chief_end["history"]
    # The restarted fit's history holds the epochs it ran.
    assert set(history) == {"loss", "accuracy", "top2", "val_loss", "val_accuracy", "val_top2"}, (
        history
    )
    assert all(len(v) == refeds for v in history.values()), history
    # Metrics are reduced over both workers: every figure the same on both.
    assert history == worker_end["history"]
    assert chief_end["evaluate"] == worker_end["evaluate"]
    assert chief_end["weights"] == worker_end["weights"]  # bit-identical
    # The custom callback saw every epoch on every run, the same logs on both workers.
    epochs = {
        n: [(e["epoch"], e["logs"]) for e in ev if e["event"] == "epoch"]
        for n, ev in (("chief", chief), ("worker", worker))
    }
    assert [e for e, _ in epochs["chief"]] == list(range(KILL_EPOCH + refeds))
    assert epochs["chief"] == epochs["worker"]
    assert history["val_accuracy"][-1] == pytest.approx(chief_end["evaluate"]["accuracy"])
    assert chief_end["early_best"] == max(history["val_accuracy"])
    assert chief_end["evaluate"]["accuracy"] > 0.9
    assert chief_end["predicted_accuracy"] == pytest.approx(chief_end["evaluate"]["accuracy"])
    assert chief_end["predicted_rows"] % len(test) == 0
    assert chief_end["checkpoints"] == [
        f"epoch-{e:02d}.keras" for e in range(1, KILL_EPOCH + refeds + 1)
    ]
    assert {"train", "validation"} <= set(chief_end["tensorboard"])

    import keras
    import numpy as np

    model = keras.models.load_model(os.path.join(export_dir, "model.keras"))
    x = np.array([r.features for r in test], "float32")
    accuracy = float((model.predict(x, verbose=0).argmax(-1) == [r.label for r in test]).mean())
    print(f"keras 3 fit: test accuracy {accuracy:.3f}, history {history}")
    assert accuracy == pytest.approx(chief_end["evaluate"]["accuracy"])


def keras3_fit_validation_df(args: dict[str, Any], ctx: Any) -> None:
    """``model.fit`` with ``validation_data`` from the validation DataFrame of ``train()``; the
    worker kills itself once as epoch ``kill_epoch`` begins (``max_restarts``)."""
    import signal
    import warnings

    import keras
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])
        model.compile(
            optimizer=keras.optimizers.Adam(0.01),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
    feed = ctx.get_data_feed()
    validation = feed.validation_dataset(BATCH, features=["features"], label="label")
    held = sum(int(y.shape[0]) for _, y in validation)
    train = feed.dataset(BATCH, features=["features"], label="label")
    # The training feed: fewer epochs after a restart (restarted_epochs).
    feed_epochs = feed.schema.plan.node_rows // args["node_rows_per_epoch"]
    record(args, ctx, event="start", validation_rows=held, feed_epochs=feed_epochs)
    marker = os.path.join(args["out"], "killed")
    steps = []

    class ValidationSteps(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            if epoch == args["kill_epoch"] and ctx.job_name == "worker":
                if not os.path.exists(marker):
                    open(marker, "w").close()
                    os.kill(os.getpid(), signal.SIGKILL)

        def on_test_batch_end(self, batch: int, logs: Any = None) -> None:
            steps.append(batch)

    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        history = model.fit(
            train,
            epochs=feed_epochs,
            steps_per_epoch=args["node_rows_per_epoch"] // BATCH * 2,
            validation_data=validation,
            verbose=0,
            callbacks=[ValidationSteps()],
        )
    record(
        args,
        ctx,
        event="end",
        history={k: [float(v) for v in vs] for k, vs in history.history.items()},
        validation_steps=len(steps),
        warnings=[str(w.message) for w in warned],
    )


@pytest.mark.timeout(600)
def test_keras3_fit_with_a_validation_dataframe_through_a_restart(spark, tmp_path):
    train_df, test_df = keras_digits.digits_frames(spark)
    train_df = train_df.repartition(2).cache()
    test_df = test_df.repartition(3).cache()  # 397 rows: 199 and 198 on the nodes
    rows, test_rows = train_df.count(), test_df.count()
    out = tmp_path / "events"
    out.mkdir()
    epochs = 6
    cluster = TFCluster.run(
        spark,
        keras3_fit_validation_df,
        {"out": str(out), "node_rows_per_epoch": rows // 2, "kill_epoch": 1},
        num_executors=2,
        checkpoint_dir=str(tmp_path / "ckpt"),
        max_restarts=1,
        queue_capacity=2,  # the feed stays near the programs: the kill comes while it runs
        feed_timeout=300,
        shutdown_timeout=300,
    )
    try:
        report = cluster.train(train_df, num_epochs=epochs, validation_df=test_df)
    finally:
        cluster.shutdown(timeout=300)
    print(f"validation_df report {report}")
    assert report["restarts"] == 1
    assert report["rows_total"] == rows * epochs
    shares = {"chief:0": 0, "worker:0": 0}
    shares.update(report["validation_rows_per_node"])
    assert sorted(shares.values()) == [test_rows // 2, test_rows - test_rows // 2]
    [refed] = report["restarted_epochs"]
    assert refed == 2, report  # the epoch the worker died in (0-based 1), fed again
    chief, worker = events(out, "chief-0"), events(out, "worker-0")
    for node, name in ((chief, "chief:0"), (worker, "worker:0")):
        starts = [e for e in node if e["event"] == "start"]
        # Both incarnations read the node's whole validation share.
        assert [s["validation_rows"] for s in starts] == [shares[name]] * 2
        assert [s["feed_epochs"] for s in starts] == [epochs, epochs - refed + 1]
    chief_end, worker_end = chief[-1], worker[-1]
    assert chief_end["event"] == worker_end["event"] == "end"
    history = chief_end["history"]
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    run_epochs = epochs - refed + 1
    assert all(len(v) == run_epochs for v in history.values())
    assert history == worker_end["history"]
    # Every epoch validated on the same batches: 198 // 50 = 3 steps, the last with the rest,
    # each split over the two replicas.
    assert chief_end["validation_steps"] == worker_end["validation_steps"] == run_epochs * 3 * 2
    # The validation set states its length: no pass runs into its end ("ran out of data").
    for end in (chief_end, worker_end):
        assert not [w for w in end["warnings"] if "ran out of data" in w], end["warnings"]
    assert history["val_accuracy"][-1] > 0.8
