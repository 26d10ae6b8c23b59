"""Checkpoints and export: every node gets the same ``ctx.checkpoint_dir`` (here the default,
``<model_dir>/checkpoints``) and ``ctx.export_dir``; Keras ``BackupAndRestore`` writes its
checkpoints there under MultiWorkerMirroredStrategy, and the chief exports a SavedModel that
loads in the driver with the weights the cluster trained."""

from __future__ import annotations

import glob
import json
import os
from typing import Any

import pytest

from sparktf import InputMode, TFCluster

ROWS = 400
BATCH = 10
EPOCHS = 3


def fit_with_backup_and_restore(args: dict[str, Any], ctx: Any) -> None:
    import tensorflow as tf
    import tf_keras as keras

    from sparktf.program.export import export_model

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        model = keras.Sequential([keras.layers.Input((1,)), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    dataset = ctx.get_data_feed().dataset(BATCH, features=["x"], label="y")
    backup = keras.callbacks.BackupAndRestore(
        backup_dir=ctx.checkpoint_dir, save_freq=5, delete_checkpoint=False
    )
    model.fit(dataset, epochs=1, callbacks=[backup], verbose=0)
    exported = export_model(model, ctx)
    with open(os.path.join(args["out"], f"{ctx.job_name}.json"), "w") as f:
        json.dump(
            {
                "checkpoint_dir": ctx.checkpoint_dir,
                "export_dir": ctx.export_dir,
                "exported": exported,
                "steps": int(model.optimizer.iterations.numpy()),
                "weights": [w.tolist() for w in model.get_weights()],
            },
            f,
        )


@pytest.mark.timeout(600)
def test_backup_and_restore_writes_to_checkpoint_dir_and_the_chief_exports(spark, tmp_path):
    import numpy as np

    out = tmp_path / "out"
    out.mkdir()
    model_dir, export_dir = str(tmp_path / "model"), str(tmp_path / "export")
    df = (
        spark.range(ROWS)
        .selectExpr("cast(id as float) / 400 as v")
        .selectExpr("array(v) as x", "2 * v + 1 as y")
        .repartition(2)
        .cache()
    )
    cluster = TFCluster.run(
        spark,
        fit_with_backup_and_restore,
        {"out": str(out)},
        num_executors=2,
        input_mode=InputMode.SPARK,
        master_node="chief",
        model_dir=model_dir,
        export_dir=export_dir,
        reservation_timeout=120,
        feed_timeout=300,
    )
    try:
        report = cluster.train(df, num_epochs=EPOCHS)
    finally:
        cluster.shutdown(timeout=300)
    assert report["rows_total"] == ROWS * EPOCHS and report["restarts"] == 0

    chief = json.loads((out / "chief.json").read_text())
    worker = json.loads((out / "worker.json").read_text())
    checkpoint_dir = os.path.join(model_dir, "checkpoints")
    assert chief["checkpoint_dir"] == worker["checkpoint_dir"] == checkpoint_dir
    assert chief["export_dir"] == worker["export_dir"] == export_dir
    assert chief["exported"] == export_dir and worker["exported"] is None
    # A step is BATCH / 2 rows per node: MWMS splits each batch over the two replicas. (Keras
    # fit counted one step more than that here, at the end of the data.)
    assert chief["steps"] == worker["steps"] >= ROWS // 2 * EPOCHS // (BATCH // 2)
    # BackupAndRestore saved TensorFlow checkpoints under ctx.checkpoint_dir.
    indexes = glob.glob(os.path.join(checkpoint_dir, "**", "*.index"), recursive=True)
    assert indexes, f"no checkpoint under {checkpoint_dir}: {os.listdir(model_dir)}"

    import tf_keras as keras

    loaded = keras.models.load_model(export_dir)
    for saved, trained in zip(loaded.get_weights(), chief["weights"]):
        np.testing.assert_array_equal(saved, np.array(trained, dtype=saved.dtype))
    prediction = loaded.predict(np.array([[0.5]], dtype="float32"), verbose=0)
    written = sorted(os.path.relpath(i, checkpoint_dir) for i in indexes)
    print(
        f"steps {chief['steps']}; checkpoints: {written}; "
        f"exported model predicts {prediction.ravel()[0]:.3f} for 0.5 (truth 2.0)"
    )
    assert prediction.shape == (1, 1)
