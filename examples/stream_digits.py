"""Trains a Keras classifier from a file stream while the files arrive.

scikit-learn's digits land in a directory as Parquet files, one every `--file-seconds`, while
``cluster.train_stream`` feeds each micro-batch (one file) to two nodes that train a tf_keras
MLP under MultiWorkerMirroredStrategy, one ``model.fit`` per micro-batch. Once the last file is
fed the query is stopped and the nodes' ``feed.next_feed()`` says the stream ended; the same
programs then score the held-out rows for ``cluster.inference``. Prints one JSON line. (Scoring
a stream per micro-batch: see README, "Streams"; tested by ``tests/test_stream_train.py``.)

    python examples/stream_digits.py --master 'local-cluster[2,1,1024]'
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from typing import Any


def main_fun(args: dict[str, Any], ctx: Any) -> None:
    """Every node: train on each micro-batch until the stream ends."""
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
            optimizer=keras.optimizers.Adam(0.01),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
    feed = ctx.get_data_feed()
    while feed.next_feed():  # one micro-batch; False once the query has ended
        # Each iteration of feed.dataset() reads one feed: cache() keeps the micro-batch for
        # the epochs after the first.
        dataset = feed.dataset(32, features=["features"], label="label").cache()
        model.fit(dataset, epochs=args["epochs_per_batch"], verbose=0)
    # The stream ended: serve the driver's cluster.inference. next_feed() waits for its rows;
    # each node answers its own batches with a plain model call (no collective).
    if feed.next_feed():
        while not feed.should_stop():
            batch = feed.next_batch(64)
            if batch:
                logits = model(batch["features"], training=False).numpy()
                feed.batch_results({"prediction": logits.argmax(-1)})


def write_files(folder: str, x: Any, y: Any, files: int, pause: float) -> None:
    """`files` Parquet files of the rows, each appearing whole (written aside, then renamed)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for i, part in enumerate(range(files)):
        rows = slice(part * len(y) // files, (part + 1) * len(y) // files)
        features = pa.array(x[rows].tolist(), type=pa.list_(pa.float32()))
        table = pa.table({"features": features, "label": pa.array(y[rows], type=pa.int32())})
        tmp = os.path.join(folder, f".part-{i}.tmp")
        pq.write_table(table, tmp)
        os.rename(tmp, os.path.join(folder, f"part-{i:03d}.parquet"))
        time.sleep(pause)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--master", default="local-cluster[2,1,1024]")
    parser.add_argument("--files", type=int, default=6)
    parser.add_argument("--file-seconds", type=float, default=2.0)
    parser.add_argument("--epochs-per-batch", type=int, default=5)
    opts = parser.parse_args(argv)

    import numpy as np
    from pyspark.sql import SparkSession
    from sklearn.datasets import load_digits

    import sparktf
    from sparktf import InputMode, TFCluster

    spark = (
        SparkSession.builder.master(opts.master)
        .appName("sparktf stream digits")
        .config("spark.jars", sparktf.jar_path())
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.pyspark.python", sys.executable)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    work = tempfile.mkdtemp(prefix="sparktf-stream-digits-")
    landing = os.path.join(work, "landing")
    os.makedirs(landing)
    digits = load_digits()
    order = np.random.default_rng(7).permutation(len(digits.target))
    x = (digits.data[order] / 16.0).astype("float32")
    y = digits.target[order].astype("int32")
    test = 397
    schema = "features array<float>, label int"  # the first `test` rows are left for testing
    cluster = TFCluster.run(
        spark,
        main_fun,
        {"epochs_per_batch": opts.epochs_per_batch},
        num_executors=2,
        input_mode=InputMode.SPARK,
    )
    try:
        started = time.time()
        arriving = threading.Thread(
            target=write_files,
            args=(landing, x[test:], y[test:], opts.files, opts.file_seconds),
        )
        arriving.start()
        stream = spark.readStream.schema(schema).option("maxFilesPerTrigger", 1).parquet(landing)
        query = cluster.train_stream(
            stream, os.path.join(work, "ckpt-train"), {"processingTime": "1 second"}
        )
        arriving.join()
        fed_dir = os.path.join(work, "ckpt-train", "sparktf", "fed")
        deadline = time.time() + 600
        while not os.path.isdir(fed_dir) or (
            len([n for n in os.listdir(fed_dir) if n.isdigit()]) < opts.files
        ):
            if time.time() > deadline or not query.isActive:
                raise RuntimeError(f"the files were not all fed: {query.exception()}")
            time.sleep(0.5)
        query.stop()  # the programs' next_feed() turns False: they move on to answering
        reports = [
            json.load(open(os.path.join(fed_dir, n))) for n in os.listdir(fed_dir) if n.isdigit()
        ]
        trained = time.time() - started
        held_out = spark.createDataFrame(
            [(x[i].tolist(), int(y[i])) for i in range(test)], schema
        ).repartition(2)
        scored = cluster.inference(held_out, "prediction long").collect()
        accuracy = sum(r["prediction"] == r["label"] for r in scored) / len(scored)

        print(
            json.dumps(
                {
                    "micro_batches_trained": len(reports),
                    "rows_trained": sum(r["rows_total"] for r in reports),
                    "rows_per_node": [r["rows_per_node"] for r in reports],
                    "train_seconds": round(trained, 1),
                    "test_rows": len(scored),
                    "test_accuracy": round(accuracy, 4),
                }
            )
        )
        trained_all = sum(r["rows_total"] for r in reports) == len(y) - test
        return 0 if trained_all and len(scored) == test else 1
    finally:
        cluster.shutdown()
        spark.stop()


if __name__ == "__main__":
    sys.exit(main())
