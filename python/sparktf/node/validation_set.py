"""The validation DataFrame of ``cluster.train(df, n, validation_df=v)``, as a node holds it.

The JVM feeds ``v`` once, before the training rows, as a feed of its own marked
``FeedPlan.validation``. ``ValidationSet.read`` takes this node's share whole, in the balanced
batches of any feed (every fed node the same number of batches), and keeps it in memory: Keras
reads ``validation_data`` again every epoch, and a feed cannot be read twice. Memory is bounded:
past ``MAX_VALIDATION_BYTES`` on a node, ``read`` raises an error that says so (feed a smaller
validation DataFrame, or more nodes, or let the program read its validation files itself).

Example (what ``DataFeed.validation_dataset`` does)::

    held = ValidationSet.read(cursor, 64)
    ds = feed_dataset(spec, held.batches, ["x"], "y")   # the same batches on every iteration
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from sparktf.node.balanced_batches import Cursor, balanced_batches
from sparktf.wire.column_batch import Column, RaggedColumn

# A node's share of the validation DataFrame, decoded, at most: 256 MiB.
MAX_VALIDATION_BYTES = 256 * 1024 * 1024


def column_bytes(col: Column) -> int:
    if isinstance(col, RaggedColumn):
        return int(col.values.nbytes + col.row_splits.nbytes)
    if isinstance(col, np.ndarray):
        return int(col.nbytes) if col.dtype != object else sum(len(v) for v in col.tolist())
    return sum(len(v) for v in col)


class ValidationSet:
    """One node's share of the validation DataFrame, in batches, in memory."""

    def __init__(self, batches: list[dict[str, Column]], batch_size: int, nbytes: int) -> None:
        self._batches = batches
        self.batch_size = batch_size
        self.nbytes = nbytes

    @property
    def rows(self) -> int:
        return sum(len(next(iter(b.values()))) for b in self._batches if b)

    @property
    def num_batches(self) -> int:
        return len(self._batches)

    def batches(self) -> Iterator[dict[str, Column]]:
        return iter(self._batches)

    @staticmethod
    def read(cursor: Cursor, batch_size: int, limit: int = MAX_VALIDATION_BYTES) -> ValidationSet:
        """Takes the validation feed (the next feed the cursor serves) whole."""
        if not cursor.wait_schema().plan.validation:
            raise RuntimeError(
                "feed.validation_dataset(): the next feed is not a validation DataFrame; pass "
                "validation_df= to cluster.train(df, num_epochs, validation_df=...)"
            )
        held: list[dict[str, Column]] = []
        nbytes = 0
        for batch in balanced_batches(cursor, batch_size):
            nbytes += sum(column_bytes(c) for c in batch.values())
            if nbytes > limit:
                raise MemoryError(
                    f"the validation DataFrame's share on this node passed {limit} bytes "
                    f"(MAX_VALIDATION_BYTES of sparktf.node.validation_set) after "
                    f"{len(held) + 1} batches of {batch_size} rows: it is held in memory for "
                    "every epoch; feed a smaller validation_df, or start more nodes"
                )
            held.append(batch)
        return ValidationSet(held, batch_size, nbytes)
