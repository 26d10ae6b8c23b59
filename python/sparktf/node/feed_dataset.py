"""The tf.data view of the feed: the element spec a feed's schema gives, and a
``tf.data.Dataset`` over batches with it. TensorFlow is imported only when these are called.

Example (what ``DataFeed.dataset`` does)::

    ds = feed_dataset(element_spec(schema), lambda: balanced_batches(cursor, 64), ["x"], "y")
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from sparktf.v1 import feed_pb2
from sparktf.wire.column_batch import Column, RaggedColumn

if TYPE_CHECKING:
    import tensorflow as tf

_TF_DTYPES = {
    feed_pb2.BOOL: "bool",
    feed_pb2.INT8: "int8",
    feed_pb2.INT16: "int16",
    feed_pb2.INT32: "int32",
    feed_pb2.INT64: "int64",
    feed_pb2.FLOAT32: "float32",
    feed_pb2.FLOAT64: "float64",
    feed_pb2.BINARY: "string",
    feed_pb2.STRING: "string",
}


# Batches ``dataset()`` prepares ahead of the training step.
PREFETCH_BATCHES = 2


def element_spec(schema: feed_pb2.FeedSchema) -> dict[str, Any]:
    """``{name: tf.TensorSpec | tf.RaggedTensorSpec}`` of one batch of ``schema``'s columns."""
    import tensorflow as tf

    spec: dict[str, Any] = {}
    for col in schema.columns:
        dtype = tf.as_dtype(_TF_DTYPES[col.dtype])
        if col.shape == feed_pb2.VAR_ARRAY:
            spec[col.name] = tf.RaggedTensorSpec(
                [None, None], dtype, ragged_rank=1, row_splits_dtype=tf.int64
            )
        elif col.shape == feed_pb2.FIXED_ARRAY:
            spec[col.name] = tf.TensorSpec([None, col.width], dtype)
        else:
            spec[col.name] = tf.TensorSpec([None], dtype)
    return spec


def feed_dataset(
    spec: dict[str, Any],
    batches: Callable[[], Iterator[dict[str, Column]]],
    features: list[str] | None = None,
    label: str | None = None,
) -> tf.data.Dataset:
    """A dataset whose every iteration yields the batches of one ``batches()`` call, as dicts of
    all columns, or ``(x, y)`` when ``features``/``label`` are given (see ``DataFeed.dataset``).
    """
    import tensorflow as tf

    names = list(spec)
    for name in (features or []) + ([label] if label else []):
        if name not in spec:
            raise ValueError(f"column '{name}' is not in the feed; it has {', '.join(names)}")
    ragged = {n for n, s in spec.items() if isinstance(s, tf.RaggedTensorSpec)}

    def to_tf(batch: dict[str, Column], name: str) -> Any:
        col = batch[name]
        if name in ragged:
            assert isinstance(col, RaggedColumn)
            return tf.RaggedTensor.from_row_splits(col.values, col.row_splits, validate=False)
        return col

    if features is None and label is None:
        signature: Any = spec

        def element(batch: dict[str, Column]) -> Any:
            return {n: to_tf(batch, n) for n in names}
    else:
        xs = features if features is not None else [n for n in names if n != label]
        x_spec: Any = spec[xs[0]] if len(xs) == 1 else {n: spec[n] for n in xs}
        signature = x_spec if label is None else (x_spec, spec[label])

        def element(batch: dict[str, Column]) -> Any:
            x = to_tf(batch, xs[0]) if len(xs) == 1 else {n: to_tf(batch, n) for n in xs}
            return x if label is None else (x, to_tf(batch, label))

    def generate() -> Iterator[Any]:
        for batch in batches():
            yield element(batch)

    # Prefetch: the generator (waiting for rows, slicing them into batches) runs in
    # tf.data's background thread while the model trains on the previous batch. Two batches
    # keep the feed ahead of training without holding much more memory than one.
    ds = tf.data.Dataset.from_generator(generate, output_signature=signature).prefetch(
        PREFETCH_BATCHES
    )
    return ds.with_options(dataset_options())


def dataset_options() -> tf.data.Options:
    """The feed dataset's options: no auto-sharding (each node reads only its own rows) and
    no autotuning.

    Autotune is off because a tf.data iterator with it (TF 2.21) takes up to a minute to
    delete: its destructor waits for the autotune thread, which only checks for cancellation
    between optimizations, and their period grows to 60 s (an iterator that ran 100 s took
    42 s to delete; without autotune, 0.26 s). Keras' epoch iterators are freed by Python's
    garbage collector, at whatever point it runs: on one node of a synchronous job, in the
    middle of a later ``fit``, while the others wait at the next collective (a 136 s first
    step). The feed's pipeline has nothing to tune: a generator and a fixed prefetch.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    options.autotune.enabled = False
    return options
