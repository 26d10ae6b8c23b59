"""Synchronous training on the simulated multi-host cluster: tf_keras ``model.fit`` under
MultiWorkerMirroredStrategy on 3 hosts, one node each, fed from uneven partitions. The feed
deals every node the same share, so all three run the same steps and training ends."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import pytest
from pyspark.sql import functions as F

from sparktf import TFCluster


def fit_and_count_steps(args: dict[str, Any], ctx: Any) -> None:
    import json
    import os

    import tensorflow as tf
    import tf_keras as keras

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        model = keras.Sequential([keras.layers.Input((16,)), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
    steps = []
    callback = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: steps.append(b))
    dataset = ctx.get_data_feed().dataset(30, features=["x"], label="y")
    model.fit(dataset, epochs=1, verbose=0, callbacks=[callback])
    name = f"{ctx.job_name}-{ctx.task_index}.json"
    with open(os.path.join(args["out"], name), "w") as f:
        json.dump({"steps": len(steps)}, f)


@pytest.mark.timeout(400)
def test_keras_fit_under_mwms_on_three_hosts_with_uneven_partitions(sim_hosts) -> None:
    spark, sim = sim_hosts.spark, sim_hosts.sim
    out = os.path.join(sim.shared_dir, f"fit-{uuid.uuid4().hex}")
    os.makedirs(out)
    # Partitions of 10, 2,000 and 190 rows: the hosts hold very different parts of the data.
    ids = spark.sparkContext.parallelize(
        [range(0, 10), range(10, 2010), range(2010, 2200)], 3
    ).flatMap(lambda r: [(i,) for i in r])
    df = spark.createDataFrame(ids, "id long").select(
        F.array_repeat((F.col("id") / 2200.0).cast("float"), 16).alias("x"),
        (F.col("id") % 2).cast("float").alias("y"),
    )
    assert [len(p) for p in df.rdd.glom().collect()] == [10, 2000, 190]
    cluster = TFCluster.run(
        spark,
        fit_and_count_steps,
        {"out": out},
        num_executors=3,
        queue_capacity=1,
        feed_timeout=120,
        reservation_timeout=120,
    )
    try:
        report = cluster.train(df)
    finally:
        cluster.shutdown(timeout=180)
    print(f"report: {json.dumps(report)}")
    assert sorted(report["rows_per_node"].values()) == [733, 733, 734]
    steps = {n: json.load(open(os.path.join(out, n)))["steps"] for n in sorted(os.listdir(out))}
    # 733 or 734 rows a node: 23 batches of 30 and one of the rest (the dataset cuts the
    # smallest share into the same batches everywhere); MWMS splits each dataset batch over the
    # three replicas (it is a global batch), so every node runs 3 x 24 steps.
    assert len(steps) == 3 and set(steps.values()) == {72}, steps
