"""The Keras 3 path: sparktf.program.keras3.fit trains under MultiWorkerMirroredStrategy on two
nodes, and the chief's .keras file reloads in Keras 3 and has learned."""

import keras3_digits
import keras_digits
import pytest

from sparktf import TFCluster


@pytest.mark.timeout(600)
def test_keras3_custom_loop_on_two_nodes_learns_digits(spark, tmp_path):
    train_df, test_df = keras_digits.digits_frames(spark)
    train_df = train_df.repartition(2).cache()
    rows = train_df.count()
    export_dir = str(tmp_path / "model")
    cluster = TFCluster.run(
        spark,
        keras3_digits.main_fun,
        {"batch_size": 32, "learning_rate": 0.01},
        num_executors=2,
        export_dir=export_dir,
    )
    try:
        report = cluster.train(train_df, num_epochs=15)
    finally:
        cluster.shutdown(timeout=300)
    assert report["rows_total"] == rows * 15
    accuracy = keras3_digits.evaluate(export_dir, test_df)
    print(f"keras 3 test accuracy {accuracy:.3f}")
    assert accuracy > 0.9
