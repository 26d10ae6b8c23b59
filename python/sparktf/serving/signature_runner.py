"""``SignatureRunner``: one SavedModel signature called on decoded column batches."""

from __future__ import annotations

from typing import Any

import numpy as np

from sparktf.v1 import feed_pb2
from sparktf.wire.column_batch import Column, RaggedColumn


class SignatureRunner:
    """Loads ``export_dir`` once and calls its ``signature`` on batches of columns."""

    def __init__(self, export_dir: str, signature: str) -> None:
        import tensorflow as tf

        self._tf = tf
        self._loaded = tf.saved_model.load(export_dir)
        signatures = dict(self._loaded.signatures)
        if signature not in signatures:
            raise ValueError(
                f"the SavedModel at {export_dir} has no signature '{signature}'; it "
                f"has {', '.join(sorted(signatures)) or 'none'}"
            )
        self._fn = signatures[signature]
        self.inputs: dict[str, Any] = self._fn.structured_input_signature[1]
        self.where = f"signature '{signature}' of {export_dir}"

    def __call__(self, inputs: feed_pb2.FeedSchema, columns: dict[str, Column]) -> dict[str, Any]:
        """The signature's outputs (numpy arrays) for one batch."""
        tf = self._tf
        feeds = {}
        for spec in inputs.columns:
            wanted = self.inputs.get(spec.name)
            if wanted is None:
                raise ValueError(
                    f"{self.where} has no input '{spec.name}' (Spark column "
                    f"'{spec.source_column}'); its inputs: {', '.join(self.inputs)}"
                )
            col = columns[spec.name]
            if isinstance(col, RaggedColumn):
                raise ValueError(
                    f"column '{spec.source_column}' holds arrays of varying length; "
                    f"input '{spec.name}' takes a dense tensor"
                )
            rank = wanted.shape.rank
            if rank is not None and rank != np.ndim(col):
                raise ValueError(
                    f"column '{spec.source_column}' gives input '{spec.name}' rows of shape "
                    f"{tuple(np.shape(col)[1:])}, the signature wants {wanted.shape[1:]}"
                )
            if (
                rank is not None
                and rank > 1
                and not wanted.shape[1:].is_compatible_with(np.shape(col)[1:])
            ):
                raise ValueError(
                    f"column '{spec.source_column}' gives input '{spec.name}' rows of shape "
                    f"{tuple(np.shape(col)[1:])}, the signature wants {wanted.shape[1:]}"
                )
            if wanted.dtype.is_numpy_compatible and wanted.dtype != tf.string:
                # An int column (TFRecords give int64 pixels) feeds a float input as TFoS did.
                col = np.asarray(col, dtype=wanted.dtype.as_numpy_dtype)
            feeds[spec.name] = tf.constant(col, dtype=wanted.dtype)
        outputs = self._fn(**feeds)
        return {name: value.numpy() for name, value in outputs.items()}
