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

import enum
import threading
import time
from dataclasses import dataclass

from sparktf.node.feed_queue import FeedChunk, FeedEnd, FeedQueue
from sparktf.node.inference_answers import PendingAnswers
from sparktf.v1 import feed_pb2
from sparktf.wire.column_batch import Column, concat_rows, slice_rows
from sparktf.wire.feed_wire import INFERENCE_FEED_ID


class Place(enum.Enum):
    """Where the program is in the current feed (``TrainingCursor.feed_id``)."""

    IN_FEED = "in the feed"  # its rows may still come (also before the first feed)
    END_UNSEEN = "at its end, unseen"  # the end came with rows next_batch returned: {} is owed
    END_SEEN = "past its end"  # the program saw the end; the next rows start the next feed


@dataclass
class _Carry:
    """A chunk next_batch took from the queue and has returned the first ``offset`` rows of."""

    chunk: FeedChunk
    offset: int = 0

    def take(self, most: int) -> tuple[dict[str, Column], int]:
        """The next rows, at most ``most``, and how many."""
        start, stop = self.offset, min(self.chunk.num_rows, self.offset + most)
        self.offset = stop
        return slice_rows(self.chunk.columns, start, stop), stop - start

    @property
    def used_up(self) -> bool:
        return self.offset == self.chunk.num_rows


class TrainingCursor:
    """One consumer thread at a time (``next_batch`` calls of several threads are serialized).

    Its state: the feed it serves (``feed_id``), its ``Place`` in it, and the rows of a chunk it
    has not returned yet. ``terminate()`` closes the queue, and a closed queue ends everything.
    """

    def __init__(self, queue: FeedQueue, timeout: float, answers: PendingAnswers) -> None:
        self._queue = queue
        self.timeout = timeout  # default wait for data, seconds (bootstrap feed_timeout_seconds)
        self._answers = answers
        self._lock = threading.Lock()  # serializes next_batch calls of several threads
        self._carry: _Carry | None = None
        self._feed_id: str | None = None
        self._place = Place.IN_FEED

    @property
    def feed_id(self) -> str | None:
        """The feed being served (or last served), None before the first rows."""
        return self._feed_id

    def wait_schema(self, timeout: float | None = None) -> feed_pb2.FeedSchema:
        """Schema of the feed the next rows come from: the current feed's while the program is
        in it, else (before the first feed, or once the program has seen the current feed's
        end) the next feed's, waited for up to ``timeout``. After an end, a stale schema would
        give the next feed the wrong plan (another share, or a validation feed's)."""
        wait = self.timeout if timeout is None else timeout
        known = None if self._feed_id is None else self._queue.schema_of(self._feed_id)
        if known is not None and self._place is not Place.END_SEEN:
            return known
        try:
            schema = self._queue.wait_next_schema(wait)
        except TimeoutError:
            if known is None:
                where = "no feed stream has started, so the columns are unknown"
            else:
                where = f"feed '{self._feed_id}' ended and no stream of the next feed started"
            raise TimeoutError(
                f"no data from Spark for {wait:g} s: {where}; is a train() or inference() "
                "running on this cluster?"
            ) from None
        if schema is None:  # closed
            if known is not None:
                return known
            raise RuntimeError("the data feed was terminated before any feed started")
        return schema

    def should_stop(self) -> bool:
        """True once the current feed ended or ``terminate()`` was called."""
        # No lock: another thread may be blocked in next_batch holding it.
        if self._queue.closed:
            return True
        if self._place is Place.IN_FEED:
            return False
        self._place = Place.END_SEEN  # the program has seen the end: no {} is owed
        return True

    @property
    def exhausted(self) -> bool:
        """True once no row can come any more: ``terminate()`` was called, or the program has
        seen the inference feed end, which happens only when the cluster's shutdown begins."""
        if self._queue.closed:
            return True
        return self._feed_id == INFERENCE_FEED_ID and self._place is not Place.IN_FEED

    def wait_next_feed(self, timeout: float) -> bool:
        """True once the feed the next ``next_batch`` reads is here (or one is half read);
        False after the end of a stream with nothing left, or once closed."""
        if self._carry is not None or self._place is Place.END_UNSEEN:
            return True
        if not self._queue.wait_next_feed(timeout):
            return False
        if self._place is Place.END_SEEN:
            # The program moved on: as before its first feed, should_stop() says no until the
            # next feed ends (a serving loop after a stream or a train() reads
            # cluster.inference's rows), and wait_schema() gives the next feed's plan.
            self._feed_id, self._place = None, Place.IN_FEED
        return True

    def terminate(self) -> None:
        """Take no more data; a ``next_batch`` blocked in another thread returns ``{}``."""
        self._queue.close()

    def next_batch(self, batch_size: int, timeout: float | None = None) -> dict[str, Column]:
        """Up to ``batch_size`` rows as ``{name: column}``; ``{}`` at a feed's end."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, found {batch_size}")
        wait = self.timeout if timeout is None else timeout
        with self._lock:
            if self._queue.closed:
                self._carry = None
                return {}
            if self._place is Place.END_UNSEEN:
                self._place = Place.END_SEEN
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
                        return {}
                    if isinstance(item, FeedEnd):
                        self._feed_id = item.feed_id  # may be a feed that sent this node no rows
                        if parts:
                            self._place = Place.END_UNSEEN
                            break
                        self._place = Place.END_SEEN
                        return {}
                    if item.feed_id != self._feed_id or self._place is not Place.IN_FEED:
                        self._feed_id, self._place = item.feed_id, Place.IN_FEED
                    self._carry = _Carry(item)
                if self._carry.chunk.answers is not None:
                    # Inference rows never wait for more: their task waits for the answers.
                    assert not parts, "an inference chunk follows training rows in one lane"
                    return self._hand_out(need)
                rows, taken = self._carry.take(need)
                parts.append(rows)
                need -= taken
                if self._carry.used_up:
                    self._carry = None
            return concat_rows(parts)

    def _hand_out(self, need: int) -> dict[str, Column]:
        """Up to ``need`` rows of the current inference chunk; remembers whom they answer."""
        assert self._carry is not None and self._carry.chunk.answers is not None
        sink = self._carry.chunk.answers
        rows, taken = self._carry.take(need)
        self._answers.handed_out(sink, taken)
        if self._carry.used_up:
            self._carry = None
        return rows

    def _keep(self, parts: list[dict[str, Column]]) -> None:
        """Keep rows gathered by a call that then timed out for the next call."""
        if parts:  # the carry is empty here: the wait happens only once it ran out
            rows = concat_rows(parts)
            assert self._feed_id is not None
            self._carry = _Carry(FeedChunk(self._feed_id, batch_rows(rows), rows))

    def _timeout_message(self, wait: float) -> str:
        where = (
            f"feed '{self._feed_id}' has not ended"
            if self._feed_id and self._place is Place.IN_FEED
            else "waiting for the next feed"
        )
        return (
            f"no data from Spark for {wait:g} s: {where}; {self._queue.total_rows} rows "
            "received so far. Is a train() running on this cluster, and are its tasks "
            "running? Pass timeout= or raise feed_timeout_seconds for slower feeds"
        )


def batch_rows(batch: dict[str, Column]) -> int:
    """Rows in a batch returned by ``next_batch`` (0 for ``{}``)."""
    if not batch:
        return 0
    return len(next(iter(batch.values())))
