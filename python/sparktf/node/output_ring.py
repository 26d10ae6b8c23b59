"""The program's output lines, kept for the driver's console (``NodeControl.ReadOutput``).

``sys.stdout`` and ``sys.stderr`` are replaced by tees: every write still goes to the original
stream (the executor log), and each complete line is also put into a ring of fixed size that the
driver reads. Putting a line never blocks and never waits on the driver: when the ring is full
the oldest line leaves it, and the next reader is told how many it missed.

Example::

    ring = OutputRing(max_lines=1000)
    tee_process_output(ring)
    print("Epoch 1/3")
    lines, dropped = ring.after(0, max_lines=100)   # [(1, False, "Epoch 1/3")], 0
"""

from __future__ import annotations

import collections
import sys
import threading
from typing import Any, TextIO

# Enough for a few minutes of Keras epoch lines; a flood keeps only its last lines.
DEFAULT_MAX_LINES = 2000
# A line longer than this is cut (a progress bar without line ends, a printed array).
MAX_LINE_CHARS = 2000


class OutputRing:
    """The last ``max_lines`` lines, numbered from 1 in the order written; thread-safe."""

    def __init__(self, max_lines: int = DEFAULT_MAX_LINES) -> None:
        self._lines: collections.deque[tuple[int, bool, str]] = collections.deque(maxlen=max_lines)
        self._last = 0
        self._lock = threading.Lock()

    def put(self, text: str, stderr: bool) -> None:
        if len(text) > MAX_LINE_CHARS:
            text = text[:MAX_LINE_CHARS] + f" ... ({len(text) - MAX_LINE_CHARS} chars cut)"
        with self._lock:
            self._last += 1
            self._lines.append((self._last, stderr, text))

    def after(self, seq: int, max_lines: int) -> tuple[list[tuple[int, bool, str]], int]:
        """Up to ``max_lines`` lines numbered after ``seq``, and how many lines after ``seq``
        left the ring before this call."""
        with self._lock:
            if not self._lines:
                return [], max(0, self._last - seq)
            first = self._lines[0][0]
            dropped = max(0, first - seq - 1)
            start = max(0, seq + 1 - first)
            end = min(len(self._lines), start + max(0, max_lines))
            return [self._lines[i] for i in range(start, end)], dropped


class _TeeStream:
    """A text stream that writes through to ``original`` and puts complete lines in a ring."""

    def __init__(self, original: TextIO, ring: OutputRing, stderr: bool) -> None:
        self._original = original
        self._ring = ring
        self._stderr = stderr
        self._partial = ""
        self._lock = threading.Lock()

    def write(self, s: str) -> int:
        written = self._original.write(s)
        with self._lock:
            text = self._partial + s
            *complete, self._partial = text.split("\n")
            if len(self._partial) > MAX_LINE_CHARS:  # no line end in sight: keep the memory bound
                complete.append(self._partial)
                self._partial = ""
        for line in complete:
            # A carriage return redraws the line (a progress bar): the driver wants the last.
            self._ring.put(line.rsplit("\r", 1)[-1], self._stderr)
        return written

    def flush(self) -> None:
        self._original.flush()

    def __getattr__(self, name: str) -> Any:
        # isatty, fileno, encoding, reconfigure, ...: the original's, so Keras and friends see
        # the stream they would have seen.
        return getattr(self._original, name)


def tee_process_output(ring: OutputRing) -> None:
    """Replaces ``sys.stdout`` and ``sys.stderr`` by tees into ``ring``."""
    if not isinstance(sys.stdout, _TeeStream):
        sys.stdout = _TeeStream(sys.stdout, ring, stderr=False)  # type: ignore[assignment]
    if not isinstance(sys.stderr, _TeeStream):
        sys.stderr = _TeeStream(sys.stderr, ring, stderr=True)  # type: ignore[assignment]
