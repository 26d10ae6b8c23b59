"""``ProgramState``: what the user's program is doing, shared by the gRPC services and runtime."""

from __future__ import annotations

import threading
import time

from sparktf.v1 import node_control_pb2

# Enough traceback to see the cause while staying well under gRPC's 8 KiB metadata limit
# (the status message travels in a trailer).
TRACEBACK_TAIL_CHARS = 4000


class ProgramState:
    """RUNNING until the program returns (FINISHED) or raises (FAILED); thread-safe."""

    def __init__(self, job_name: str, task_index: int) -> None:
        self.job_name = job_name
        self.task_index = task_index
        self._lock = threading.Lock()
        self._state = node_control_pb2.RUNNING
        self._error = ""
        self._ended_ns: int | None = None
        self.done = threading.Event()  # set when the program returned or raised
        self.stop_requested = threading.Event()
        self._stop_grace = 0.0

    @property
    def role(self) -> str:
        """``job_name:task_index``, how logs and errors name this node."""
        return f"{self.job_name}:{self.task_index}"

    @property
    def state(self) -> int:
        """A ``node_control_pb2.NodeState`` value."""
        return self._state

    @property
    def error(self) -> str:
        """The program's traceback when FAILED, else ""."""
        return self._error

    @property
    def failed(self) -> bool:
        return self._state == node_control_pb2.FAILED

    @property
    def running(self) -> bool:
        return self._state == node_control_pb2.RUNNING

    @property
    def ended_ns(self) -> int | None:
        """``time.monotonic_ns()`` when the program returned or raised; None while it runs."""
        return self._ended_ns

    def mark_finished(self) -> None:
        with self._lock:
            self._state, self._ended_ns = node_control_pb2.FINISHED, time.monotonic_ns()
        self.done.set()

    def mark_failed(self, traceback_text: str) -> None:
        with self._lock:
            self._state, self._error = node_control_pb2.FAILED, traceback_text
            self._ended_ns = time.monotonic_ns()
        self.done.set()

    def terminated(self, queue_closed_ns: int | None) -> bool:
        """Whether the program called ``terminate()``: its feed queue (closed at
        ``queue_closed_ns``, None when open) closed while the program still ran. The runtime
        closes the queue only after the program ended, so a later close is not the program's.
        """
        if queue_closed_ns is None:
            return False
        ended = self._ended_ns
        return ended is None or queue_closed_ns < ended

    def failure_message(self) -> str:
        """What a caller is told when this node failed: role and the traceback's tail."""
        tail = self._error[-TRACEBACK_TAIL_CHARS:]
        cut = "...\n" if len(self._error) > len(tail) else ""
        return f"node {self.role} failed: its program raised:\n{cut}{tail}"

    def request_stop(self, grace_seconds: float) -> None:
        """Ask the process to exit once the program returns, or after ``grace_seconds``."""
        with self._lock:
            if not self.stop_requested.is_set():
                self._stop_grace = max(0.0, grace_seconds)
                self.stop_requested.set()

    @property
    def stop_grace(self) -> float:
        return self._stop_grace
