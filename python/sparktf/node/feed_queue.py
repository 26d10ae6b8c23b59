"""The bounded queue between the gRPC Feed handlers (producers) and the program (consumer).

Chunks are kept per feed (one ``train()`` call = one feed id) in the order feeds first
arrived; the consumer drains the oldest feed, sees its end marker, then moves to the next.
Each feed holds at most ``capacity`` chunks: a per-feed bound means streams of a later feed
can never fill the queue and starve the feed the program is reading. End markers take no
capacity, so ending a feed never blocks.

Two counts per feed: rows *received* (the queue accepted them; the feed tasks see them
acknowledged) and rows *taken* (the program's data feed took them out of the queue). They
differ by what the queue holds; once the program has ended, rows received and not taken were
never read, which the driver must hear of (``NodeControl.EndFeed``).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sparktf.v1 import feed_pb2
from sparktf.wire.column_batch import Column

if TYPE_CHECKING:
    from sparktf.node.answer_sink import AnswerSink

# Every wait wakes this often to re-check flags that no notify covers (a gRPC peer going away).
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class FeedChunk:
    """Decoded rows of one ColumnBatch."""

    feed_id: str
    num_rows: int
    columns: dict[str, Column]
    answers: AnswerSink | None = None  # inference rows: where their answers go


@dataclass(frozen=True)
class FeedEnd:
    """No more rows will come for ``feed_id``."""

    feed_id: str


QueueItem = FeedChunk | FeedEnd


class FeedEndedError(RuntimeError):
    """Rows arrived for a feed that EndFeed already closed."""


@dataclass
class _Lane:
    schema: feed_pb2.FeedSchema | None
    chunks: deque[FeedChunk] = field(default_factory=deque)
    ended: bool = False
    stream_end: bool = False  # no feed: the end of a streaming query, after the lanes before it


class FeedQueue:
    """Thread-safe; every blocking call takes a timeout."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"queue capacity must be >= 1 chunk, found {capacity}")
        self.capacity = capacity
        self._cond = threading.Condition()
        self._lanes: OrderedDict[str, _Lane] = OrderedDict()
        self._schemas: dict[str, feed_pb2.FeedSchema] = {}
        self._ended: set[str] = set()
        self._rows: dict[str, int] = {}
        self._taken: dict[str, int] = {}
        self._total_rows = 0
        self._total_taken = 0
        self._closed = False
        self._closed_ns: int | None = None
        self._stream_ends = 0  # streams ended (EndStream): names their markers

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called: no more rows are taken."""
        return self._closed

    @property
    def closed_ns(self) -> int | None:
        """``time.monotonic_ns()`` of the first ``close()``, None while open: whether the program
        closed the queue (``terminate()``) or the runtime did after it ended is told by comparing
        it with ``ProgramState.ended_ns``."""
        return self._closed_ns

    @property
    def total_rows(self) -> int:
        """Rows received over all feeds."""
        return self._total_rows

    @property
    def total_taken(self) -> int:
        """Rows the consumer took out of the queue over all feeds."""
        return self._total_taken

    def rows_received(self, feed_id: str) -> int:
        """Rows the queue accepted for ``feed_id``."""
        with self._cond:
            return self._rows.get(feed_id, 0)

    def rows_taken(self, feed_id: str) -> int:
        """Rows of ``feed_id`` the consumer took out of the queue (``get``)."""
        with self._cond:
            return self._taken.get(feed_id, 0)

    def room(self, feed_id: str) -> int:
        """Chunks the lane of ``feed_id`` can take now (the capacity before its first stream):
        what a feed task weighs when it picks the node for its next rows."""
        with self._cond:
            lane = self._lanes.get(feed_id)
            return self.capacity if lane is None else max(0, self.capacity - len(lane.chunks))

    def open_feed(self, feed_id: str, schema: feed_pb2.FeedSchema | None) -> None:
        """Register a stream of ``feed_id``; every stream of a feed must carry the same schema
        (``None``: streams whose chunks need no common schema, as inference streams)."""
        with self._cond:
            if self._closed:
                return  # the following put says so
            if feed_id in self._ended:
                raise FeedEndedError(
                    f"feed '{feed_id}' already ended (EndFeed was called); a stream for it came "
                    "late: is a retried feed task still running after its stage finished?"
                )
            known = self._schemas.get(feed_id)
            if schema is None:
                pass
            elif known is None:
                self._schemas[feed_id] = schema
            elif known != schema:
                raise ValueError(
                    f"feed '{feed_id}': this stream's schema {_names(schema)} differs from the "
                    f"feed's first stream {_names(known)}; all partitions must share one schema"
                )
            if feed_id not in self._lanes:
                self._lanes[feed_id] = _Lane(schema)
                self._rows.setdefault(feed_id, 0)
                self._cond.notify_all()  # wakes schema waiters

    def put(
        self,
        chunk: FeedChunk,
        timeout: float,
        interrupted: Callable[[], bool] | None = None,
        admit: Callable[[], None] | None = None,
        reserved: bool = False,
    ) -> bool:
        """Queue ``chunk`` (its feed must be open); False when closed or ``interrupted()``.

        ``admit`` runs under the queue's lock just before the chunk is queued; an exception
        from it refuses the chunk. Raises TimeoutError when the feed's lane stayed full for
        ``timeout`` seconds. A ``reserved`` chunk takes room the node set aside when it
        granted the rows (``DataFeed.Reserve``), so it never waits for the program.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if self._closed:
                    return False
                if chunk.feed_id in self._ended:
                    raise FeedEndedError(
                        f"feed '{chunk.feed_id}' ended while this stream was "
                        "still sending rows; EndFeed came too early"
                    )
                lane = self._lanes[chunk.feed_id]
                if reserved or len(lane.chunks) < self.capacity:
                    if admit is not None:
                        admit()
                    if chunk.num_rows:
                        lane.chunks.append(chunk)
                        self._rows[chunk.feed_id] += chunk.num_rows
                        self._total_rows += chunk.num_rows
                        self._cond.notify_all()
                    return True
                if interrupted is not None and interrupted():
                    return False
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"the program took no data for {timeout:g} s: feed '{chunk.feed_id}' "
                        f"holds {len(lane.chunks)} chunks (the queue capacity); is the program "
                        "reading ctx.get_data_feed()? Raise feed_timeout_seconds if a step can "
                        "take that long"
                    )
                self._cond.wait(min(POLL_SECONDS, remaining))

    def end_feed(self, feed_id: str) -> int:
        """Mark the end of ``feed_id`` after its queued chunks; idempotent. Returns its rows."""
        with self._cond:
            if feed_id not in self._ended:
                self._ended.add(feed_id)
                self._rows.setdefault(feed_id, 0)
                if not self._closed:
                    # A feed that sent this node nothing still ends: the program must not wait.
                    self._lanes.setdefault(feed_id, _Lane(None)).ended = True
                self._cond.notify_all()
            return self._rows[feed_id]

    def get(self, timeout: float) -> QueueItem | None:
        """The next chunk or end marker in feed order; None once closed.

        Raises TimeoutError when nothing came for ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if self._closed:
                    return None
                while self._lanes and next(iter(self._lanes.values())).stream_end:
                    # Read without next_feed(): the end of a stream is no feed's end.
                    del self._lanes[next(iter(self._lanes))]
                if self._lanes:
                    feed_id, lane = next(iter(self._lanes.items()))
                    if lane.chunks:
                        item: QueueItem = lane.chunks.popleft()
                        self._taken[feed_id] = self._taken.get(feed_id, 0) + item.num_rows
                        self._total_taken += item.num_rows
                        self._cond.notify_all()  # a producer may wait for room
                        return item
                    if lane.ended:
                        del self._lanes[feed_id]
                        return FeedEnd(feed_id)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"nothing arrived for {timeout:g} s")
                self._cond.wait(min(POLL_SECONDS, remaining))

    def schema_of(self, feed_id: str) -> feed_pb2.FeedSchema | None:
        """The schema the first stream of ``feed_id`` carried, if one came."""
        with self._cond:
            return self._schemas.get(feed_id)

    def wait_next_schema(self, timeout: float) -> feed_pb2.FeedSchema | None:
        """Schema of the oldest feed not yet drained that has one; None once closed.

        Raises TimeoutError when no stream started within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if self._closed:
                    return None
                for lane in self._lanes.values():
                    if lane.schema is not None:
                        return lane.schema
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no feed stream started for {timeout:g} s")
                self._cond.wait(min(POLL_SECONDS, remaining))

    def end_stream(self) -> None:
        """A streaming query ended: a marker goes in after the feeds queued so far (they are
        its micro-batches, or came before), so ``wait_next_feed`` says False once they are
        read, and a feed that comes later (a ``train()``) is read after it."""
        with self._cond:
            if self._closed:
                return
            self._stream_ends += 1
            marker = _Lane(None, ended=True, stream_end=True)
            self._lanes[f"stream-end-{self._stream_ends}"] = marker
            self._cond.notify_all()

    def wait_next_feed(self, timeout: float) -> bool:
        """True once a feed not yet read is here (its rows or its end; a feed that brought no
        stream at all is passed over), False when the next thing is the end of a stream (that
        end is then seen) or the queue is closed.

        Raises TimeoutError when neither came within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if self._closed:
                    return False
                while self._lanes:
                    feed_id, lane = next(iter(self._lanes.items()))
                    if lane.stream_end:
                        del self._lanes[feed_id]
                        return False
                    if lane.chunks or not lane.ended or lane.schema is not None:
                        return True
                    # A feed that brought no rows and no stream (the inference lane ended at
                    # shutdown) has nothing to read.
                    del self._lanes[feed_id]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no feed started for {timeout:g} s")
                self._cond.wait(min(POLL_SECONDS, remaining))

    def close(self) -> None:
        """Take no more rows, drop what is held and wake every waiter."""
        with self._cond:
            if not self._closed:
                self._closed_ns = time.monotonic_ns()
            self._closed = True
            self._lanes.clear()
            self._cond.notify_all()


def _names(schema: feed_pb2.FeedSchema) -> str:
    return (
        "["
        + ", ".join(
            f"{c.name}:{feed_pb2.DType.Name(c.dtype)}/{feed_pb2.Shape.Name(c.shape)}"
            for c in schema.columns
        )
        + "]"
    )
