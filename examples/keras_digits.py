"""Trains a Keras classifier on Spark with sparktf, end to end.

scikit-learn's handwritten digits (shipped inside scikit-learn, no download) become a
DataFrame; two TensorFlow nodes on a local-cluster train an MLP under
MultiWorkerMirroredStrategy, fed from the DataFrame by the JVM (InputMode.SPARK); the chief
exports a SavedModel; the driver reloads it and prints the test accuracy.

Keras path: legacy Keras 2 (``tf_keras``) ``model.fit``, which works under
MultiWorkerMirroredStrategy on TF 2.21 (Keras 3 ``fit`` does not: keras-team/keras#20585).

Run it with ``scripts/demo`` (which sets up what is missing), or by hand::

    python examples/keras_digits.py --master 'local-cluster[2,1,1024]' --epochs 30
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Any


def main_fun(args: dict[str, Any], ctx: Any) -> None:
    """Runs on every node: build the model under MWMS, train on the fed data, export."""
    import tensorflow as tf
    import tf_keras as keras

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        model = keras.Sequential(
            [
                keras.layers.Input(shape=(64,)),
                keras.layers.Dense(64, activation="relu"),
                keras.layers.Dense(10),
            ]
        )
        model.compile(
            optimizer=keras.optimizers.Adam(args["learning_rate"]),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
    feed = ctx.get_data_feed()
    # One pass over the stream: the driver feeds it `epochs` times over.
    dataset = feed.dataset(args["batch_size"], features=["features"], label="label")
    model.fit(dataset, epochs=1, verbose=2)
    # The chief saves an undistributed copy: no collective ops, so no worker has to join.
    from sparktf.program.export import export_model

    export_model(model, ctx)


def digits_frames(spark: Any, test_rows: int = 397) -> tuple[Any, Any]:
    """The digits as (train, test) DataFrames: features array<float> (scaled to 0..1), label int."""
    import numpy as np
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = np.random.default_rng(7).permutation(len(digits.target))
    x = (digits.data[order] / 16.0).astype("float32")
    y = digits.target[order].astype("int32")
    rows = [(x[i].tolist(), int(y[i])) for i in range(len(y))]
    schema = "features array<float>, label int"
    train = spark.createDataFrame(rows[test_rows:], schema)
    test = spark.createDataFrame(rows[:test_rows], schema)
    return train, test


def evaluate(export_dir: str, test_df: Any) -> float:
    """Reloads the exported model in this process and scores it on the test rows."""
    import numpy as np
    import tf_keras as keras

    rows = test_df.collect()
    x = np.array([r.features for r in rows], dtype="float32")
    y = np.array([r.label for r in rows])
    model = keras.models.load_model(export_dir)
    predicted = np.argmax(model.predict(x, verbose=0), axis=1)
    return float((predicted == y).mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--master", default="local-cluster[2,1,1024]")
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--export-dir", default=None)
    parser.add_argument("--jar", default=None, help="sparktf jar (default: sparktf.jar_path())")
    opts = parser.parse_args(argv)
    # The driver's own TensorFlow (the evaluation) at errors only, as the nodes' at warnings.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    from pyspark.sql import SparkSession

    import sparktf
    from sparktf import InputMode, TFCluster

    builder = (
        SparkSession.builder.appName("sparktf keras digits")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.pyspark.python", sys.executable)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
    )
    if opts.master:
        builder = builder.master(opts.master)
    jar = opts.jar or (None if _jar_on_classpath() else sparktf.jar_path())
    if jar:
        builder = builder.config("spark.jars", jar)
    spark = builder.getOrCreate()
    export_dir = opts.export_dir or os.path.join(
        tempfile.mkdtemp(prefix="sparktf-digits-"), "model"
    )
    try:
        train_df, test_df = digits_frames(spark)
        train_df = train_df.repartition(opts.nodes).cache()
        train_rows = train_df.count()
        started = time.time()
        cluster = TFCluster.run(
            spark,
            main_fun,
            {"batch_size": opts.batch_size, "learning_rate": opts.learning_rate},
            num_executors=opts.nodes,
            input_mode=InputMode.SPARK,
            master_node="chief",
            export_dir=export_dir,
        )
        startup = time.time() - started
        report = cluster.train(train_df, num_epochs=opts.epochs)
        cluster.shutdown()
        accuracy = evaluate(export_dir, test_df)
        result = {
            "test_accuracy": round(accuracy, 4),
            "train_rows": train_rows,
            "epochs": opts.epochs,
            "rows_fed": report["rows_total"],
            "rows_per_node": report["rows_per_node"],
            "feed_rows_per_second": round(report["rows_per_second"], 1),
            "cluster_start_seconds": round(startup, 1),
            "wall_seconds": round(time.time() - started, 1),
            "export_dir": export_dir,
            "sparktf_from": os.path.dirname(os.path.dirname(os.path.abspath(sparktf.__file__))),
        }
        print(summary_table(result), file=sys.stderr)
        print(json.dumps(result))  # for scripts
        if report["rows_total"] != train_rows * opts.epochs:
            print(
                f"rows fed {report['rows_total']} != {train_rows} x {opts.epochs}", file=sys.stderr
            )
            return 1
        return 0
    finally:
        spark.stop()


def summary_table(result: dict[str, Any]) -> str:
    """The run at a glance, for a person (the JSON line after it is for scripts)."""
    per_node = ", ".join(
        f"{node} {rows:,}" for node, rows in sorted(result["rows_per_node"].items())
    )
    rows = [
        ("test accuracy", f"{result['test_accuracy']:.4f}"),
        (
            "rows fed",
            f"{result['rows_fed']:,} = {result['train_rows']:,} x {result['epochs']} "
            f"epochs ({per_node})",
        ),
        ("feed", f"{result['feed_rows_per_second']:,.0f} rows/s"),
        ("cluster start", f"{result['cluster_start_seconds']} s"),
        ("wall time", f"{result['wall_seconds']} s"),
        ("model", result["export_dir"]),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(["", "sparktf demo", *(f"  {n:<{width}}  {v}" for n, v in rows), ""])


def _jar_on_classpath() -> bool:
    """True when sparktf's Python came from its jar (spark-submit --packages): Spark has it."""
    import sparktf

    return ".jar" in os.path.dirname(os.path.dirname(os.path.abspath(sparktf.__file__)))


if __name__ == "__main__":
    sys.exit(main())
