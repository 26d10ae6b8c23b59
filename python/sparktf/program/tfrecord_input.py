"""Inside a node (InputMode.TENSORFLOW): this node's share of the TFRecord files that
``sparktf.tfrecord.save_as_tfrecords`` wrote, and the ``tf.io.parse_example`` spec of their
columns, from the folder's ``_sparktf_schema.json``.

Example, in ``main_fun(args, ctx)``::

    from sparktf.program.tfrecord_input import feature_spec, tfrecord_files

    files = tfrecord_files(args["data_dir"], ctx)            # this node's part files
    spec = feature_spec(args["data_dir"], shapes={"features": [64]})
    dataset = (tf.data.TFRecordDataset(files).batch(32)
               .map(lambda r: tf.io.parse_example(r, spec)))
"""

from __future__ import annotations

import json
from typing import Any

SCHEMA_FILE = "_sparktf_schema.json"

# Spark type -> the list a feature holds (see io.sparktf.tfrecord.ExampleColumn).
_INT64 = {"boolean", "byte", "short", "integer", "long"}
_FLOAT = {"float", "double"}


def _join(folder: str, name: str) -> str:
    return folder.rstrip("/") + "/" + name


def _training_index(ctx: Any) -> int:
    """This node's position among the nodes that train (chief first, then the workers)."""
    if ctx.job_name == "chief":
        return 0
    if ctx.job_name == "worker":
        return ctx.task_index + (1 if "chief" in ctx.cluster_spec else 0)
    raise ValueError(
        f"{ctx.job_name}:{ctx.task_index} reads no training files: only the chief "
        "and the workers do"
    )


def tfrecord_files(path: str, ctx: Any | None = None) -> list[str]:
    """The part files under the folder ``path`` (any file system TensorFlow reads), sorted; with
    ``ctx``, only this node's share: every ``ctx.num_workers``-th file from the node's index
    (chief 0, then the workers). Each node reads whole files, so write at least as many
    partitions as there are training nodes; fewer fails here instead of leaving a node empty
    (MultiWorkerMirroredStrategy would wait for it)."""
    import tensorflow as tf

    files = sorted(
        tf.io.gfile.glob(_join(path, "part-*.tfrecord"))
        + tf.io.gfile.glob(_join(path, "part-*.tfrecord.gz"))
    )
    if not files:
        raise FileNotFoundError(
            f"no part-*.tfrecord files in {path}: write them with "
            "sparktf.tfrecord.save_as_tfrecords"
        )
    if ctx is None:
        return files
    if len(files) < ctx.num_workers:
        raise ValueError(
            f"{path} holds {len(files)} part files for {ctx.num_workers} training "
            "nodes: repartition the DataFrame to at least as many partitions as "
            "nodes before save_as_tfrecords"
        )
    return files[_training_index(ctx) :: ctx.num_workers]


def feature_spec(
    path: str,
    shapes: dict[str, list[int]] | None = None,
    defaults: dict[str, Any] | None = None,
    columns: list[str] | None = None,
) -> dict[str, Any]:
    """The ``tf.io.parse_example`` spec of the columns in ``path``'s ``_sparktf_schema.json``.

    Scalars become ``FixedLenFeature([], dtype)``: int64 for boolean and integer columns,
    float32 for float and double, string for string and binary. Arrays and ML vectors become
    ``FixedLenFeature(shapes[name], dtype)`` when ``shapes`` gives their shape, else
    ``RaggedFeature(dtype)``. ``defaults`` gives a column's ``default_value``: a null is an
    absent feature, which fails ``parse_example`` unless it has one. ``columns`` picks columns
    (default: all).
    """
    import tensorflow as tf

    shapes = shapes or {}
    defaults = defaults or {}
    schema_path = _join(path, SCHEMA_FILE)
    if not tf.io.gfile.exists(schema_path):
        raise FileNotFoundError(
            f"{schema_path} does not exist: the folder was not written by "
            "save_as_tfrecords; build the spec by hand"
        )
    with tf.io.gfile.GFile(schema_path, "r") as f:
        fields = {field["name"]: field["type"] for field in json.load(f)["fields"]}
    wanted = columns if columns is not None else list(fields)
    unknown = [c for c in list(wanted) + list(shapes) + list(defaults) if c not in fields]
    if unknown:
        raise KeyError(f"{path} has no column {unknown[0]!r}; it has: {', '.join(fields)}")
    spec = {}
    for name in wanted:
        spark_type = fields[name]
        is_list = isinstance(spark_type, dict)
        element = (
            spark_type["elementType"]
            if is_list and spark_type["type"] == "array"
            else ("double" if is_list else spark_type)
        )  # a vector (udt) is a float list
        if not isinstance(element, str):
            raise ValueError(f"column {name!r} is {spark_type}, which sparktf does not write")
        dtype = tf.int64 if element in _INT64 else tf.float32 if element in _FLOAT else tf.string
        if is_list and name not in shapes:
            spec[name] = tf.io.RaggedFeature(dtype)
        else:
            shape = shapes.get(name, [])
            if name in defaults:
                spec[name] = tf.io.FixedLenFeature(shape, dtype, default_value=defaults[name])
            else:
                spec[name] = tf.io.FixedLenFeature(shape, dtype)
    return spec
