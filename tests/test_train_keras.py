"""The main path end to end: the Python API trains a Keras model on two nodes of a
local-cluster, fed from a DataFrame, and the exported model has learned."""

import os

import keras_digits
import pytest

from sparktf import InputMode, TFCluster


@pytest.mark.timeout(600)
def test_keras_fit_on_two_nodes_learns_digits(spark, tmp_path):
    train_df, test_df = keras_digits.digits_frames(spark)
    train_df = train_df.repartition(2).cache()
    rows = train_df.count()
    export_dir = str(tmp_path / "model")
    cluster = TFCluster.run(
        spark,
        keras_digits.main_fun,
        {"batch_size": 32, "learning_rate": 0.01},
        num_executors=2,
        input_mode=InputMode.SPARK,
        master_node="chief",
        export_dir=export_dir,
    )
    try:
        report = cluster.train(train_df, num_epochs=20)
    finally:
        cluster.shutdown(timeout=300)
    assert report["rows_total"] == rows * 20
    assert sorted(report["rows_per_node"]) == ["chief:0", "worker:0"]
    assert all(n > 0 for n in report["rows_per_node"].values())
    assert os.path.isdir(export_dir)
    accuracy = keras_digits.evaluate(export_dir, test_df)
    print(f"test accuracy {accuracy:.3f}, feed {report['rows_per_second']:.0f} rows/s")
    assert accuracy > 0.9
