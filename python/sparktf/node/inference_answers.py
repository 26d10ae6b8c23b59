"""``PendingAnswers``: the inference rows ``next_batch`` handed the program that wait for their
``batch_results``, oldest first, each remembering the stream (``AnswerSink``) it answers.

Example (what ``DataFeed`` does)::

    pending = PendingAnswers()
    pending.handed_out(chunk.answers, rows)      # next_batch returned ``rows`` inference rows
    pending.answer({"prediction": values})       # batch_results: encoded, sent to their stream
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from sparktf.node.answer_sink import AnswerSink
from sparktf.wire.result_batch import check_rows, encode_answers


class PendingAnswers:
    """Thread-safe: the program may answer from another thread than the one reading."""

    def __init__(self) -> None:
        # Inference rows handed out and not answered yet: (their stream's sink, row count).
        self._pending: deque[tuple[AnswerSink, int]] = deque()
        self._lock = threading.Lock()

    def handed_out(self, sink: AnswerSink, rows: int) -> None:
        """``next_batch`` returned ``rows`` rows of ``sink``'s stream."""
        with self._lock:
            self._pending.append((sink, rows))

    def answer(self, results: Any) -> None:
        """Answer the oldest unanswered batch (see ``DataFeed.batch_results``)."""
        with self._lock:
            if not self._pending:
                raise RuntimeError(
                    "batch_results() answers the rows of a next_batch() call of "
                    "an inference, but no such rows wait for answers"
                )
            sink, rows = self._pending.popleft()
        try:
            columns = check_rows(sink.outputs, results, rows)
        except ValueError as e:
            message = f"{sink.where}: batch_results() for a batch of {rows} rows: {e}"
            sink.fail(message)
            raise ValueError(message) from None
        sink.answer(encode_answers(sink.outputs, columns, 0, rows))
