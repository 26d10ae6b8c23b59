"""The TFRecord example end to end: Spark writes the digits as TFRecords, two nodes in
InputMode.TENSORFLOW read their own part files with tf.data and train under MWMS, and the
exported model, scored on test rows read back from TFRecords, has learned."""

import pytest
import tfrecord_train


@pytest.mark.timeout(600)
def test_nodes_train_from_the_tfrecords_spark_wrote(spark, tmp_path):
    result = tfrecord_train.run(spark, str(tmp_path), epochs=8)
    print(result)
    assert result["part_files"] == [f"part-0000{i}.tfrecord" for i in range(4)]
    assert result["test_rows"] == 397
    assert result["test_schema"] == "struct<features:array<float>,label:int>"
    losses = result["loss_per_epoch"]
    assert len(losses) == 8 and losses[-1] < losses[0] / 2
    assert result["test_accuracy"] > 0.85  # chance is 0.1
