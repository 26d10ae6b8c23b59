"""What this node granted and took of every partition, and of its quota per epoch: what makes
the feed exactly-once (task retries included) and every node's share exact.

A feed task reserves each range of rows before it sends them (``reserve``): the node grants up
to what is left of its quota for the epoch. The task's stream then carries the rows of the
ranges it reserved here, in order, so the node counts, per range, the prefix it took
(``admit``, called under the queue's lock at the moment a chunk is queued: the counts are exact
even while an older attempt's stream is still sending). When a stream ends, finished or
cancelled, what it reserved and did not send returns to the quota (``release``).

A retried task (attempt > 0) calls ``begin`` on every fed node before it sends: its attempt
becomes current (older attempts' reservations and chunks are refused from then on, and what
they reserved and did not send returns to the quota), and it learns the ranges this node took,
which it skips.

    >>> ledger = PartitionLedger()
    >>> ledger.reserve(("feed", 0, 3), 0, start=0, rows=100, node_rows=150).granted
    100
    >>> ledger.admit(("feed", 0, 3), 0, 60)
    >>> ledger.begin(("feed", 0, 3), 1)  # the task failed; its retry skips rows 0..59
    [(0, 60)]
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

PartitionId = tuple[str, int, int]  # feed_id, epoch, partition
EpochId = tuple[str, int]  # feed_id, epoch


class SupersededError(RuntimeError):
    """A newer attempt of the same task took the partition over."""


class ReservationError(RuntimeError):
    """Rows came that no reservation covers, or a reservation that contradicts the plan."""


@dataclass
class _Range:
    attempt: int
    start: int
    granted: int
    taken: int = 0
    batch_rows: int = 0  # rows per batch the task sends it in; 0: one batch

    def open_batches(self) -> int:
        """Queue chunks the rows granted and not taken yet will fill."""
        left = self.granted - self.taken
        if left <= 0:
            return 0
        return 1 if self.batch_rows <= 0 else -(-left // self.batch_rows)


@dataclass
class _Entry:
    attempt: int
    ranges: list[_Range] = field(default_factory=list)


@dataclass
class _Quota:
    rows: int
    granted: int = 0  # rows of ranges, taken or not
    taken: int = 0


@dataclass(frozen=True)
class Grant:
    """A ``reserve`` answer: ``granted`` rows from the asked start; the quota's state after."""

    granted: int
    quota_left: int
    outstanding: int


class PartitionLedger:
    """Thread-safe record of the partitions and quotas of every feed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[PartitionId, _Entry] = {}
        self._quotas: dict[EpochId, _Quota] = {}

    def begin(self, key: PartitionId, attempt: int) -> list[tuple[int, int]]:
        """Makes ``attempt`` current; returns the (start, rows) ranges this node took."""
        with self._lock:
            entry = self._entries.setdefault(key, _Entry(attempt))
            if attempt < entry.attempt:
                raise SupersededError(self._refusal(key, attempt, entry))
            entry.attempt = attempt
            self._trim(key, entry, lambda r: r.attempt < attempt)
            return [(r.start, r.taken) for r in sorted(entry.ranges, key=lambda r: r.start)]

    def reserve(
        self,
        key: PartitionId,
        attempt: int,
        start: int,
        rows: int,
        node_rows: int,
        batch_rows: int = 0,
    ) -> Grant:
        """Grants rows [start, start + granted) to ``attempt``, up to the epoch's quota left;
        ``rows`` 0 only reads the quota. ``batch_rows``: rows per batch the task sends them in
        (``open_batches`` counts the queue room they hold)."""
        with self._lock:
            quota = self._quotas.setdefault(key[:2], _Quota(node_rows))
            if quota.rows != node_rows:
                raise ReservationError(
                    f"feed '{key[0]}' epoch {key[1]}: a task asks with a quota of {node_rows} "
                    f"rows, an earlier one with {quota.rows}; all tasks of a feed share one plan"
                )
            granted = min(rows, quota.rows - quota.granted) if rows > 0 else 0
            if granted > 0:
                entry = self._entries.setdefault(key, _Entry(attempt))
                if attempt < entry.attempt:
                    raise SupersededError(self._refusal(key, attempt, entry))
                if attempt > entry.attempt:  # a retry that did not call begin here first
                    entry.attempt = attempt
                    self._trim(key, entry, lambda r: r.attempt < attempt)
                self._add_range(key, entry, attempt, start, granted, batch_rows)
                quota.granted += granted
            return Grant(granted, quota.rows - quota.granted, quota.granted - quota.taken)

    def check_current(self, key: PartitionId, attempt: int) -> None:
        """Raises SupersededError unless ``attempt`` is the partition's current one."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                raise SupersededError(
                    f"feed '{key[0]}' epoch {key[1]} partition {key[2]}: "
                    "the stream came before any Reserve"
                )
            if entry.attempt != attempt:
                raise SupersededError(self._refusal(key, attempt, entry))

    def admit(self, key: PartitionId, attempt: int, rows: int) -> None:
        """Counts ``rows`` against ``attempt``'s reserved ranges, in order; call it where the
        rows are queued, atomically. Refuses rows no reservation covers."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.attempt != attempt:
                raise SupersededError(self._refusal(key, attempt, entry))
            open_ranges = [r for r in entry.ranges if r.attempt == attempt and r.taken < r.granted]
            room = sum(r.granted - r.taken for r in open_ranges)
            if rows > room:
                raise ReservationError(
                    f"feed '{key[0]}' epoch {key[1]} partition {key[2]} attempt {attempt}: "
                    f"{rows} rows came, the task reserved only {room} more here"
                )
            left = rows
            for r in sorted(open_ranges, key=lambda r: r.start):
                n = min(left, r.granted - r.taken)
                r.taken += n
                left -= n
            self._quotas[key[:2]].taken += rows

    def release(self, key: PartitionId, attempt: int) -> None:
        """A stream of ``attempt`` ended: what it reserved and did not send returns to the
        quota."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._trim(key, entry, lambda r: r.attempt == attempt)

    def open_batches(self, feed_id: str) -> int:
        """Queue chunks that the rows of ``feed_id`` granted and not sent yet will fill: the
        queue room they hold."""
        with self._lock:
            return sum(
                r.open_batches()
                for k, e in self._entries.items()
                if k[0] == feed_id
                for r in e.ranges
            )

    def rows_taken(self, feed_id: str, epoch: int) -> int:
        """Rows of the epoch this node took, over all partitions."""
        with self._lock:
            quota = self._quotas.get((feed_id, epoch))
            return 0 if quota is None else quota.taken

    def forget_feed(self, feed_id: str) -> None:
        """Drops a finished feed's entries (they are only needed while the feed runs)."""
        with self._lock:
            for key in [k for k in self._entries if k[0] == feed_id]:
                del self._entries[key]
            for epoch in [e for e in self._quotas if e[0] == feed_id]:
                del self._quotas[epoch]

    def _add_range(
        self, key: PartitionId, entry: _Entry, attempt: int, start: int, rows: int, batch_rows: int
    ) -> None:
        end = start + rows
        for r in entry.ranges:
            if start < r.start + max(r.granted, r.taken) and r.start < end:
                raise ReservationError(
                    f"feed '{key[0]}' epoch {key[1]} partition {key[2]}: rows "
                    f"[{start}, {end}) overlap rows [{r.start}, {r.start + r.granted}) reserved "
                    f"by attempt {r.attempt}; a task must skip the rows the node already took"
                )
        last = entry.ranges[-1] if entry.ranges else None
        if last is not None and last.attempt == attempt and last.start + last.granted == start:
            last.granted += rows  # contiguous: one range, so a batch may straddle reservations
            last.batch_rows = batch_rows
        else:
            entry.ranges.append(_Range(attempt, start, rows, batch_rows=batch_rows))

    def _trim(self, key: PartitionId, entry: _Entry, which) -> None:
        quota = self._quotas.get(key[:2])
        for r in entry.ranges:
            if which(r) and r.granted > r.taken:
                if quota is not None:
                    quota.granted -= r.granted - r.taken
                r.granted = r.taken
        entry.ranges = [r for r in entry.ranges if r.granted > 0]

    @staticmethod
    def _refusal(key: PartitionId, attempt: int, entry: _Entry | None) -> str:
        what = "has no reservation" if entry is None else f"belongs to attempt {entry.attempt} now"
        return (
            f"feed '{key[0]}' epoch {key[1]} partition {key[2]} {what}; the rows of "
            f"attempt {attempt} are refused so no row is taken twice"
        )
