"""Trains from TFRecord files: InputMode.TENSORFLOW, where the nodes read their own data.

The digits (scikit-learn's, no download) become DataFrames; sparktf writes them as TFRecords in
the JVM (``save_as_tfrecords``: one part file per partition, the schema beside them); two
TensorFlow nodes each read their share of the part files with ``tf.data``, train a Keras MLP
under MultiWorkerMirroredStrategy, and the chief exports it. The driver reads the test
TFRecords back into a DataFrame (``load_tfrecords``) and scores the exported model on them.

Run it by hand (``scripts/build`` first)::

    PYTHONPATH=python python examples/tfrecord_train.py --master 'local-cluster[2,1,1024]' \
        --epochs 10

On a real cluster, ``--data-dir`` and ``--model-dir`` must be on storage every node reaches
(HDFS, a shared mount).
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
    """Runs on every node: read this node's part files, train under MWMS, export."""
    import tensorflow as tf
    import tf_keras as keras

    from sparktf.program.export import export_model
    from sparktf.program.tfrecord_input import feature_spec, tfrecord_files

    # The strategy first: it must exist before any other TensorFlow op runs.
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    files = tfrecord_files(args["data_dir"], ctx)
    spec = feature_spec(args["data_dir"], shapes={"features": [64]})

    def features_and_label(records: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        parsed = tf.io.parse_example(records, spec)
        return parsed["features"], parsed["label"]

    # Every node repeats its own files and runs the same steps per epoch: under MWMS a node
    # that ran out of data early would leave the others waiting in their collectives.
    dataset = (
        tf.data.TFRecordDataset(files)
        .shuffle(2048, seed=ctx.task_index)
        .repeat()
        .batch(args["batch_size"])
        .map(features_and_label)
        .prefetch(2)
    )
    options = tf.data.Options()
    # The files are sharded already (tfrecord_files); TF must not shard them again.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    dataset = dataset.with_options(options)
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
    history = model.fit(
        dataset, epochs=args["epochs"], steps_per_epoch=args["steps_per_epoch"], verbose=2
    )
    export_model(model, ctx)
    if ctx.job_name == "chief":
        with tf.io.gfile.GFile(os.path.join(ctx.model_dir, "history.json"), "w") as f:
            json.dump({k: [float(v) for v in vs] for k, vs in history.history.items()}, f)


def run(
    spark: Any,
    work_dir: str,
    epochs: int,
    batch_size: int = 32,
    learning_rate: float = 0.01,
    nodes: int = 2,
) -> dict[str, Any]:
    """Writes the digits as TFRecords under ``work_dir``, trains on them with ``nodes`` nodes and
    returns what happened: losses per epoch, test accuracy, timings."""
    from sparktf import InputMode, TFCluster
    from sparktf.tfrecord import load_tfrecords, save_as_tfrecords

    train_dir = os.path.join(work_dir, "train")
    test_dir = os.path.join(work_dir, "test")
    model_dir = os.path.join(work_dir, "model")
    export_dir = os.path.join(work_dir, "export")
    os.makedirs(model_dir, exist_ok=True)
    started = time.time()
    train_df, test_df = keras_digits.digits_frames(spark)
    train_rows = train_df.count()
    # Two part files per node: each node reads whole files.
    save_as_tfrecords(train_df.repartition(2 * nodes), train_dir, mode="overwrite")
    save_as_tfrecords(test_df.coalesce(1), test_dir, mode="overwrite")
    written = time.time()  # the first Spark jobs of the session: they include executor start
    # A step takes one batch on every node: an epoch sees the training rows about once.
    steps_per_epoch = max(1, train_rows // (batch_size * nodes))
    cluster = TFCluster.run(
        spark,
        main_fun,
        {
            "data_dir": train_dir,
            "epochs": epochs,
            "steps_per_epoch": steps_per_epoch,
            "batch_size": batch_size,
            "learning_rate": learning_rate,
        },
        num_executors=nodes,
        input_mode=InputMode.TENSORFLOW,
        master_node="chief",
        model_dir=model_dir,
        export_dir=export_dir,
    )
    cluster.shutdown()
    trained = time.time()
    with open(os.path.join(model_dir, "history.json")) as f:
        history = json.load(f)
    test_back = load_tfrecords(spark, test_dir)  # the schema comes back from the sidecar
    accuracy = keras_digits.evaluate(export_dir, test_back)
    return {
        "test_accuracy": round(accuracy, 4),
        "loss_per_epoch": [round(v, 4) for v in history["loss"]],
        "train_rows": train_rows,
        "test_rows": test_back.count(),
        "test_schema": test_back.schema.simpleString(),
        "part_files": sorted(n for n in os.listdir(train_dir) if n.startswith("part-")),
        "steps_per_epoch": steps_per_epoch,
        "load_and_write_seconds": round(written - started, 1),
        "train_seconds": round(trained - written, 1),
        "export_dir": export_dir,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--master", default="local-cluster[2,1,1024]")
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument(
        "--work-dir",
        default=None,
        help="where the TFRecords, checkpoints and model go (default: a temp dir)",
    )
    parser.add_argument("--jar", default=None, help="sparktf jar (default: sparktf.jar_path())")
    opts = parser.parse_args(argv)

    from pyspark.sql import SparkSession

    import sparktf

    builder = (
        SparkSession.builder.appName("sparktf tfrecord train")
        .master(opts.master)
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.pyspark.python", sys.executable)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
    )
    jar = opts.jar or (None if keras_digits._jar_on_classpath() else sparktf.jar_path())
    if jar:
        builder = builder.config("spark.jars", jar)
    spark = builder.getOrCreate()
    work_dir = opts.work_dir or tempfile.mkdtemp(prefix="sparktf-tfrecord-")
    try:
        result = run(spark, work_dir, opts.epochs, opts.batch_size, opts.learning_rate, opts.nodes)
    finally:
        spark.stop()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
