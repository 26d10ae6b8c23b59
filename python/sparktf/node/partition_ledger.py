"""Which rows of each partition this node took, per task attempt: what makes a retried feed
task exactly-once.

A feed task first calls BeginPartition: its attempt becomes the partition's current one and it
learns how many leading rows earlier attempts delivered, which it skips. Rows are admitted only
for the current attempt, and admission happens under the queue's lock at the moment a chunk is
queued, so the count an attempt is told is exact even while an older stream is still sending.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

PartitionId = tuple[str, int, int]  # feed_id, epoch, partition


class SupersededError(RuntimeError):
    """A newer attempt of the same task took the partition over."""


@dataclass
class _Entry:
    attempt: int
    rows: int = 0
    complete: bool = False


class PartitionLedger:
    """Thread-safe record of the partitions of every feed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[PartitionId, _Entry] = {}

    def begin(self, key: PartitionId, attempt: int) -> tuple[int, bool]:
        """Makes ``attempt`` current; returns (rows already taken, partition complete)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self._entries[key] = _Entry(attempt)
                return 0, False
            if attempt < entry.attempt:
                raise SupersededError(self._refusal(key, attempt, entry))
            entry.attempt = attempt
            return entry.rows, entry.complete

    def check_current(self, key: PartitionId, attempt: int) -> None:
        """Raises SupersededError unless ``attempt`` is the partition's current one."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                raise SupersededError(
                    f"feed '{key[0]}' epoch {key[1]} partition {key[2]}: "
                    "the stream came without BeginPartition"
                )
            if entry.attempt != attempt or entry.complete:
                raise SupersededError(self._refusal(key, attempt, entry))

    def admit(self, key: PartitionId, attempt: int, rows: int) -> None:
        """Counts ``rows`` for ``attempt``; call it where the rows are queued, atomically."""
        with self._lock:
            entry = self._entries[key]
            if entry.attempt != attempt or entry.complete:
                raise SupersededError(self._refusal(key, attempt, entry))
            entry.rows += rows

    def finish(self, key: PartitionId, attempt: int) -> None:
        """The attempt's stream ended normally: the partition is complete."""
        with self._lock:
            entry = self._entries[key]
            if entry.attempt == attempt:
                entry.complete = True

    def forget_feed(self, feed_id: str) -> None:
        """Drops a finished feed's entries (they are only needed while the feed runs)."""
        with self._lock:
            for key in [k for k in self._entries if k[0] == feed_id]:
                del self._entries[key]

    @staticmethod
    def _refusal(key: PartitionId, attempt: int, entry: _Entry) -> str:
        what = (
            f"was delivered whole by attempt {entry.attempt}"
            if entry.complete
            else f"belongs to attempt {entry.attempt} now"
        )
        return (
            f"feed '{key[0]}' epoch {key[1]} partition {key[2]} {what}; the rows of "
            f"attempt {attempt} are refused so no row is taken twice"
        )
