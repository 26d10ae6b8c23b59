"""``TrainingCursor``: the program's place in the feeds, for ``next_batch``, ``should_stop``,
``terminate`` and the feed's schema (see ``DataFeed`` for what the program sees).

It rebatches the queue's chunks into batches of the size asked, keeps the rows of a chunk not
yet returned, and moves from one feed to the next at its end marker. Inference rows pass
through it unbatched: it hands them out as they came and tells ``PendingAnswers`` whom they
answer.

Example::

    cursor = TrainingCursor(queue, timeout=600.0, answers=PendingAnswers())
    while not cursor.should_stop():
        batch = cursor.next_batch(64)
"""

from __future__ import annotations

import threading
import time

from sparktf.node.feed_queue import FeedChunk, FeedEnd, FeedQueue
from sparktf.node.inference_answers import PendingAnswers
from sparktf.v1 import feed_pb2
from sparktf.wire.column_batch import Column, concat_rows, slice_rows


class TrainingCursor:
    """One consumer thread at a time (``next_batch`` calls of several threads are serialized)."""

    def __init__(self, queue: FeedQueue, timeout: float, answers: PendingAnswers) -> None:
        self._queue = queue
        self.timeout = timeout  # default wait for data, seconds (bootstrap feed_timeout_seconds)
        self._answers = answers
        self._lock = threading.Lock()  # serializes next_batch calls of several threads
        self._carry: FeedChunk | None = None  # rows of the current feed not yet returned
        self._carry_offset = 0
        self._feed_id: str | None = None
        self._feed_ended = False
        self._owe_empty = False  # the end came with rows: the next call returns {}
        self._terminated = False

    @property
    def feed_id(self) -> str | None:
        """The feed being served (or last served), None before the first rows."""
        return self._feed_id

    def wait_schema(self, timeout: float | None = None) -> feed_pb2.FeedSchema:
        """Schema of the current feed, else of the next one; waits (up to ``timeout``) only
        when no feed stream has started yet."""
        wait = self.timeout if timeout is None else timeout
        known = None if self._feed_id is None else self._queue.schema_of(self._feed_id)
        if known is not None and not self._feed_ended:
            return known
        try:
            # Between feeds, the next feed's schema if it is already here, else the last one.
            schema = self._queue.wait_next_schema(0.0 if known is not None else wait)
        except TimeoutError:
            if known is not None:
                return known
            raise TimeoutError(
                f"no data from Spark for {wait:g} s: no feed stream has started, so the "
                "columns are unknown; is a train() or inference() running on this "
                "cluster?") from None
        if schema is None:  # closed
            if known is not None:
                return known
            raise RuntimeError("the data feed was terminated before any feed started")
        return schema

    def should_stop(self) -> bool:
        """True once the current feed ended or ``terminate()`` was called."""
        # No lock: another thread may be blocked in next_batch holding it.
        if self._terminated or self._queue.closed:
            return True
        if self._feed_ended:
            self._owe_empty = False  # the program has seen the end
            return True
        return False

    def terminate(self) -> None:
        """Take no more data; a ``next_batch`` blocked in another thread returns ``{}``."""
        self._terminated = True
        self._queue.close()

    def next_batch(self, batch_size: int, timeout: float | None = None) -> dict[str, Column]:
        """Up to ``batch_size`` rows as ``{name: column}``; ``{}`` at a feed's end."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, found {batch_size}")
        wait = self.timeout if timeout is None else timeout
        with self._lock:
            if self._terminated or self._queue.closed:
                self._carry = None
                return {}
            if self._owe_empty:
                self._owe_empty = False
                return {}
            deadline = time.monotonic() + wait
            parts: list[dict[str, Column]] = []
            need = batch_size
            while need:
                if self._carry is None:
                    try:
                        item = self._queue.get(max(0.0, deadline - time.monotonic()))
                    except TimeoutError:
                        self._keep(parts)
                        raise TimeoutError(self._timeout_message(wait)) from None
                    if item is None:  # terminated while waiting
                        self._carry = None
                        return {}
                    if isinstance(item, FeedEnd):
                        self._feed_ended = True
                        if item.feed_id != self._feed_id:
                            self._feed_id = item.feed_id  # a feed that sent this node no rows
                        if parts:
                            self._owe_empty = True
                            break
                        return {}
                    self._take(item)
                assert self._carry is not None
                if self._carry.answers is not None:
                    # Inference rows never wait for more: their task waits for the answers.
                    assert not parts, "an inference chunk follows training rows in one lane"
                    return self._take_answerable(need)
                start = self._carry_offset
                stop = min(self._carry.num_rows, start + need)
                parts.append(slice_rows(self._carry.columns, start, stop))
                need -= stop - start
                if stop == self._carry.num_rows:
                    self._carry, self._carry_offset = None, 0
                else:
                    self._carry_offset = stop
            return concat_rows(parts)

    def _take_answerable(self, need: int) -> dict[str, Column]:
        """Up to ``need`` rows of the current inference chunk; remembers whom they answer."""
        chunk = self._carry
        assert chunk is not None and chunk.answers is not None
        start = self._carry_offset
        stop = min(chunk.num_rows, start + need)
        self._answers.handed_out(chunk.answers, stop - start)
        if stop == chunk.num_rows:
            self._carry, self._carry_offset = None, 0
        else:
            self._carry_offset = stop
        return slice_rows(chunk.columns, start, stop)

    def _take(self, chunk: FeedChunk) -> None:
        if chunk.feed_id != self._feed_id or self._feed_ended:
            self._feed_id, self._feed_ended, self._owe_empty = chunk.feed_id, False, False
        self._carry, self._carry_offset = chunk, 0

    def _keep(self, parts: list[dict[str, Column]]) -> None:
        """Keep rows gathered by a call that then timed out for the next call."""
        if parts:  # the carry is empty here: the wait happens only once it ran out
            rows = concat_rows(parts)
            assert self._feed_id is not None
            self._carry, self._carry_offset = FeedChunk(self._feed_id, batch_rows(rows), rows), 0

    def _timeout_message(self, wait: float) -> str:
        where = (f"feed '{self._feed_id}' has not ended" if self._feed_id and not self._feed_ended
                 else "waiting for the next feed")
        return (f"no data from Spark for {wait:g} s: {where}; {self._queue.total_rows} rows "
                "received so far. Is a train() running on this cluster, and are its tasks "
                "running? Pass timeout= or raise feed_timeout_seconds for slower feeds")


def batch_rows(batch: dict[str, Column]) -> int:
    """Rows in a batch returned by ``next_batch`` (0 for ``{}``)."""
    if not batch:
        return 0
    return len(next(iter(batch.values())))
