"""Batches of one feed, plain (``batches``) or with as many steps on every fed node
(``balanced_batches``: what synchronous training needs), over a cursor's ``next_batch``.

Example (what ``DataFeed.balanced_batches`` does)::

    for batch in balanced_batches(cursor, 64):
        train_step(batch)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from sparktf.v1 import feed_pb2
from sparktf.wire.column_batch import Column


class Cursor(Protocol):
    """What the batches read: ``TrainingCursor`` (or ``DataFeed``)."""

    @property
    def feed_id(self) -> str | None: ...

    def next_batch(self, batch_size: int, timeout: float | None = None) -> dict[str, Column]: ...

    def wait_schema(self, timeout: float | None = None) -> feed_pb2.FeedSchema: ...


def batches(cursor: Cursor, batch_size: int) -> Iterator[dict[str, Column]]:
    """Batches of one feed, until its end (or ``terminate()``)."""
    while True:
        batch = cursor.next_batch(batch_size)
        if not batch:
            return
        yield batch


def balanced_batches(cursor: Cursor, batch_size: int) -> Iterator[dict[str, Column]]:
    """Batches of one feed, as many on every fed node (see ``DataFeed.balanced_batches``).

    The feed's plan (in its schema) gives this node's share and the smallest share; every node
    yields ``max(1, smallest // batch_size)`` batches, the last one taking the rest of its share.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, found {batch_size}")
    plan = cursor.wait_schema().plan
    if plan.min_node_rows <= 0:  # no plan: a feed from an older JVM side
        yield from batches(cursor, batch_size)
        return
    steps = max(1, plan.min_node_rows // batch_size)
    for _ in range(steps - 1):
        batch = cursor.next_batch(batch_size)
        if not batch:  # terminated, or the feed ended early
            return
        yield batch
    rest = plan.node_rows - (steps - 1) * batch_size
    last = cursor.next_batch(rest)
    if not last:
        return
    yield last
    extra = cursor.next_batch(1)  # takes the end marker, so the next feed starts clean
    if extra:
        raise RuntimeError(
            f"feed '{cursor.feed_id}' brought this node more rows than its plan of "
            f"{plan.node_rows}; the balanced batches would differ between nodes"
        )
