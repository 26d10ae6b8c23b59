"""``Prefetch``: an iterator run ahead on its own thread, for the model server's pipeline.

The model server chains two: one receives and decodes the next batch, one runs the model and
encodes the answer, while the handler's thread sends the previous answer (gRPC blocks a
streaming handler until each response is written). TensorFlow and the socket release the GIL,
so receiving, computing and sending overlap instead of taking turns. At most ``depth`` items
wait between two stages.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")
_END = object()


class _Raised:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class Prefetch(Generic[T]):
    """Iterates the items of ``source`` in order, taken on a background thread; an exception
    ``source`` raises is raised here at its place in the sequence. Iteration ends early when
    ``active()`` turns false (the call went away).

    Example::

        for columns, rows in Prefetch(decoded(request_iterator), context.is_active):
            outputs = runner(start.inputs, columns)
    """

    def __init__(
        self,
        source: Iterator[T],
        active: Callable[[], bool],
        depth: int = 2,
        poll_seconds: float = 0.5,
    ) -> None:
        self._source = source
        self._active = active
        self._poll = poll_seconds
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sparktf-prefetch", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stops the thread at its next item (the consumer is done, e.g. it aborted the call)."""
        self._stopped.set()

    def join(self, timeout: float) -> bool:
        """True when the thread ended within ``timeout`` seconds."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def __iter__(self) -> Iterator[T]:
        try:
            while True:
                item = self._get()
                if item is _END:
                    return
                if isinstance(item, _Raised):
                    raise item.error
                yield item  # type: ignore[misc]
        finally:
            self.close()

    def _get(self) -> object:
        # Bounded polls: a call that went away ends the wait even if the source is stuck.
        while True:
            try:
                return self._queue.get(timeout=self._poll)
            except queue.Empty:
                if self._stopped.is_set() or not self._active():
                    return _END
                if not self._thread.is_alive() and self._queue.empty():
                    return _END

    def _put(self, item: object) -> bool:
        while not self._stopped.is_set():
            try:
                self._queue.put(item, timeout=self._poll)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for item in self._source:
                if not self._put(item):
                    return
        except BaseException as e:  # noqa: BLE001  (handed to the consumer, in order)
            self._put(_Raised(e))
            return
        self._put(_END)
