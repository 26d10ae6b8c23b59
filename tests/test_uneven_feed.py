"""Uneven partitions (10 rows and 10,000) under MultiWorkerMirroredStrategy: the feed deals the
rows evenly, both workers run the same number of steps, and training ends instead of hanging."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from pyspark.sql import functions as F

from sparktf import TFCluster


def count_steps(args: dict[str, Any], ctx: Any) -> None:
    import tensorflow as tf
    import tf_keras as keras

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        model = keras.Sequential([keras.layers.Input((1024,)), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
    steps = []
    callback = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: steps.append(b))
    dataset = ctx.get_data_feed().dataset(32, features=["x"], label="y")
    model.fit(dataset, epochs=1, verbose=0, callbacks=[callback])
    with open(os.path.join(args["out"], f"{ctx.job_name}.json"), "w") as f:
        json.dump({"steps": len(steps)}, f)


@pytest.mark.timeout(600)
def test_uneven_partitions_do_not_hang_synchronous_training(spark, tmp_path):
    # One slice per partition: the first holds 10 rows, the second 10,000.
    ids = spark.sparkContext.parallelize([range(0, 10), range(10, 10010)], 2).flatMap(
        lambda r: [(i,) for i in r]
    )
    # Rows of 4 KiB and a queue of one batch (~1000 rows): the nodes hold far less than their
    # share, so both must be fed at one pace while they train in lockstep, or they deadlock.
    df = spark.createDataFrame(ids, "id long").select(
        F.array_repeat((F.col("id") / 10010.0).cast("float"), 1024).alias("x"),
        (F.col("id") % 2).cast("float").alias("y"),
    )
    assert [len(p) for p in df.rdd.glom().collect()] == [10, 10000]
    cluster = TFCluster.run(
        spark,
        count_steps,
        {"out": str(tmp_path)},
        num_executors=2,
        queue_capacity=1,
        feed_timeout=120,
    )
    try:
        report = cluster.train(df)
    finally:
        cluster.shutdown(timeout=180)
    assert report["rows_per_node"] == {"chief:0": 5005, "worker:0": 5005}
    steps = {
        name: json.loads((tmp_path / f"{name}.json").read_text())["steps"]
        for name in ("chief", "worker")
    }
    # 5005 rows a node: 155 batches of 32 and one of 45; MWMS splits each dataset batch over the
    # two replicas (it is a global batch), so each node runs 2 x 156 steps.
    assert steps == {"chief": 312, "worker": 312}
