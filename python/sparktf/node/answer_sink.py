"""``AnswerSink``: where the answers to one Infer stream's rows wait to be sent back, in order."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from sparktf.v1 import feed_pb2

POLL_SECONDS = 0.5


class AnswerSink:
    """Counts the rows a stream brought and the rows the program answered; thread-safe.

    The stream's reader adds rows, the program (``DataFeed.batch_results``) adds answers, and the
    stream's writer takes answers until every row is answered and the input has ended.
    """

    def __init__(self, outputs: Sequence[feed_pb2.ColumnSpec], where: str) -> None:
        self.outputs = list(outputs)
        self.where = where
        self._cond = threading.Condition()
        self._answers: deque[feed_pb2.ColumnBatch] = deque()
        self._rows_in = 0
        self._rows_answered = 0
        self._input_done = False
        self._error: str | None = None

    def add_rows(self, rows: int) -> None:
        with self._cond:
            self._rows_in += rows

    def input_done(self) -> None:
        with self._cond:
            self._input_done = True
            self._cond.notify_all()

    def answer(self, batch: feed_pb2.ColumnBatch) -> None:
        with self._cond:
            self._rows_answered += batch.num_rows
            self._answers.append(batch)
            self._cond.notify_all()

    def fail(self, message: str) -> None:
        """The stream cannot be answered: the writer ends it with ``message``."""
        with self._cond:
            if self._error is None:
                self._error = message
            self._cond.notify_all()

    @property
    def pending_rows(self) -> int:
        return self._rows_in - self._rows_answered

    def next_answer(
        self, idle_timeout: float, interrupted: Callable[[], str | None]
    ) -> feed_pb2.ColumnBatch | None:
        """The next answers in row order; None once every row is answered and the input ended.

        Raises RuntimeError with the failure, when ``fail`` was called or ``interrupted()``
        returns a reason, and TimeoutError when no answer came for ``idle_timeout`` seconds
        while rows were waiting for one.
        """
        deadline = time.monotonic() + idle_timeout
        with self._cond:
            while True:
                if self._error is not None:
                    raise RuntimeError(self._error)
                if self._answers:
                    return self._answers.popleft()
                if self._input_done and self._rows_answered >= self._rows_in:
                    return None
                reason = interrupted()
                if reason:
                    raise RuntimeError(reason)
                if self._rows_in == self._rows_answered:
                    deadline = time.monotonic() + idle_timeout  # waiting for input, not answers
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"{self.where}: the program answered none of {self.pending_rows} waiting "
                        f"rows for {idle_timeout:g} s; does it call feed.batch_results() for "
                        "every next_batch()?"
                    )
                self._cond.wait(min(POLL_SECONDS, remaining))
