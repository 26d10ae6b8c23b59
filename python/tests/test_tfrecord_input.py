"""The node-side view of a save_as_tfrecords folder: each training node's share of the part
files, and the parse spec built from the schema sidecar."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import tensorflow as tf

from sparktf.program.tfrecord_input import feature_spec, tfrecord_files

SCHEMA = {
    "type": "struct",
    "fields": [
        {"name": "label", "type": "integer", "nullable": True, "metadata": {}},
        {"name": "score", "type": "double", "nullable": True, "metadata": {}},
        {"name": "name", "type": "string", "nullable": True, "metadata": {}},
        {
            "name": "pixels",
            "type": {"type": "array", "elementType": "float", "containsNull": True},
            "nullable": True,
            "metadata": {},
        },
        {
            "name": "vec",
            "type": {
                "type": "udt",
                "class": "org.apache.spark.ml.linalg.VectorUDT",
                "pyClass": "pyspark.ml.linalg.VectorUDT",
                "sqlType": {"type": "struct", "fields": []},
            },
            "nullable": True,
            "metadata": {},
        },
    ],
}


def _folder(tmp_path, parts: int) -> str:
    for i in range(parts):
        (tmp_path / f"part-{i:05d}.tfrecord").write_bytes(b"")
    (tmp_path / "_sparktf_schema.json").write_text(json.dumps(SCHEMA))
    return str(tmp_path)


def _ctx(job: str, index: int, workers: int, chief: bool = True) -> SimpleNamespace:
    spec = {"worker": ["w"] * (workers - (1 if chief else 0))}
    if chief:
        spec["chief"] = ["c"]
    return SimpleNamespace(job_name=job, task_index=index, num_workers=workers, cluster_spec=spec)


def test_each_training_node_gets_every_nth_file(tmp_path):
    folder = _folder(tmp_path, 5)
    names = lambda files: [f.rsplit("/", 1)[1][5:10] for f in files]  # noqa: E731
    assert names(tfrecord_files(folder)) == ["00000", "00001", "00002", "00003", "00004"]
    assert names(tfrecord_files(folder, _ctx("chief", 0, 2))) == ["00000", "00002", "00004"]
    assert names(tfrecord_files(folder, _ctx("worker", 0, 2))) == ["00001", "00003"]
    assert names(tfrecord_files(folder, _ctx("worker", 1, 2, chief=False))) == ["00001", "00003"]


def test_fewer_files_than_nodes_or_a_ps_reading_fails_clearly(tmp_path):
    folder = _folder(tmp_path, 1)
    with pytest.raises(ValueError, match="1 part files for 2 training nodes"):
        tfrecord_files(folder, _ctx("chief", 0, 2))
    with pytest.raises(ValueError, match="ps:0 reads no training files"):
        tfrecord_files(_folder(tmp_path, 2), _ctx("ps", 0, 2))
    with pytest.raises(FileNotFoundError, match="no part-"):
        tfrecord_files(str(tmp_path / "missing"))


def test_feature_spec_follows_the_schema(tmp_path):
    spec = feature_spec(_folder(tmp_path, 1), shapes={"vec": [3]}, defaults={"score": 0.0})
    assert spec["label"] == tf.io.FixedLenFeature([], tf.int64)
    assert spec["score"] == tf.io.FixedLenFeature([], tf.float32, default_value=0.0)
    assert spec["name"] == tf.io.FixedLenFeature([], tf.string)
    assert isinstance(spec["pixels"], tf.io.RaggedFeature) and spec["pixels"].dtype == tf.float32
    assert spec["vec"] == tf.io.FixedLenFeature([3], tf.float32)
    assert list(feature_spec(str(tmp_path), columns=["name"])) == ["name"]
    with pytest.raises(KeyError, match="no column 'image'"):
        feature_spec(str(tmp_path), shapes={"image": [28, 28]})
