"""The digits classifier with plain Keras 3 ``model.fit`` on Spark: two TensorFlow nodes train
under MultiWorkerMirroredStrategy, fed from a DataFrame, with compiled metrics and a validation
DataFrame (``cluster.train(..., validation_df=...)``); the chief saves a ``.keras`` file and its
history; the driver prints loss, accuracy and validation accuracy per epoch, then the test
accuracy of the reloaded model. The program is what a Keras 3 user writes: sparktf's node makes
``fit`` work under the strategy (README, "Keras: which path to use")::

    python examples/keras3_fit_digits.py --master 'local-cluster[2,1,1024]' --epochs 20
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Any

import keras_digits


def main_fun(args: dict[str, Any], ctx: Any) -> None:
    """Runs on every node: Keras 3 as on one machine, under MultiWorkerMirroredStrategy."""
    import keras
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        model = keras.Sequential(
            [keras.Input((64,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10)]
        )
        model.compile(
            optimizer=keras.optimizers.Adam(args["learning_rate"]),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
    feed = ctx.get_data_feed()
    batch = args["batch_size"]
    validation = feed.validation_dataset(batch, features=["features"], label="label")
    history = model.fit(
        feed.dataset(batch, features=["features"], label="label"),
        epochs=args["epochs"],
        # One Keras epoch per epoch fed: the node's rows, in batches MWMS splits over 2 replicas.
        steps_per_epoch=args["node_rows_per_epoch"] // batch * ctx.num_workers,
        validation_data=validation,
        verbose=2 if ctx.is_chief else 0,  # the chief's epoch lines reach the driver
    )
    if ctx.is_chief:
        os.makedirs(ctx.export_dir, exist_ok=True)
        model.save(os.path.join(ctx.export_dir, "model.keras"))
        with open(os.path.join(ctx.export_dir, "history.json"), "w") as f:
            json.dump({k: [float(v) for v in vs] for k, vs in history.history.items()}, f)


def evaluate(export_dir: str, test_df: Any) -> float:
    import keras
    import numpy as np

    rows = test_df.collect()
    x = np.array([r.features for r in rows], dtype="float32")
    y = np.array([r.label for r in rows])
    model = keras.models.load_model(os.path.join(export_dir, "model.keras"))
    return float((np.argmax(model.predict(x, verbose=0), axis=1) == y).mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--master", default="local-cluster[2,1,1024]")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--export-dir", default=None)
    opts = parser.parse_args(argv)
    # The driver's own TensorFlow (the evaluation) at errors only, as the nodes' at warnings.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    from pyspark.sql import SparkSession

    import sparktf
    from sparktf import TFCluster

    nodes = 2
    builder = (
        SparkSession.builder.appName("sparktf keras 3 fit digits")
        .master(opts.master)
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.pyspark.python", sys.executable)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
    )
    if not keras_digits._jar_on_classpath():
        builder = builder.config("spark.jars", sparktf.jar_path())
    spark = builder.getOrCreate()
    export_dir = opts.export_dir or os.path.join(tempfile.mkdtemp(prefix="sparktf-k3-"), "model")
    try:
        train_df, test_df = keras_digits.digits_frames(spark)
        train_df = train_df.repartition(nodes).cache()
        test_df = test_df.cache()
        rows = train_df.count()
        test_df.count()
        started = time.time()
        cluster = TFCluster.run(
            spark,
            main_fun,
            {
                "epochs": opts.epochs,
                "batch_size": opts.batch_size,
                "learning_rate": opts.learning_rate,
                # steps_per_epoch is exact when every node's share is whole batches
                "node_rows_per_epoch": rows // nodes,
            },
            num_executors=nodes,
            export_dir=export_dir,
        )
        startup = time.time() - started
        report = cluster.train(train_df, num_epochs=opts.epochs, validation_df=test_df)
        cluster.shutdown()
        with open(os.path.join(export_dir, "history.json")) as f:
            history = json.load(f)
        print("epoch  loss    accuracy  val_accuracy")
        for e in range(len(history["loss"])):
            print(
                f"{e + 1:5d}  {history['loss'][e]:.4f}  {history['accuracy'][e]:.4f}    "
                f"{history['val_accuracy'][e]:.4f}"
            )
        result = {
            "test_accuracy": round(evaluate(export_dir, test_df), 4),
            "train_rows": rows,
            "epochs": opts.epochs,
            "rows_fed": report["rows_total"],
            "rows_per_node": report["rows_per_node"],
            "validation_rows_per_node": report["validation_rows_per_node"],
            "feed_rows_per_second": round(report["rows_per_second"], 1),
            "cluster_start_seconds": round(startup, 1),
            "wall_seconds": round(time.time() - started, 1),
            "export_dir": export_dir,
        }
        print(keras_digits.summary_table(result), file=sys.stderr)
        print(json.dumps(result))  # for scripts
        return 0 if report["rows_total"] == rows * opts.epochs else 1
    finally:
        spark.stop()


if __name__ == "__main__":
    sys.exit(main())
