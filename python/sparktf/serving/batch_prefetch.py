"""``DecodedBatches``: an Infer stream's batches received and decoded on a reader thread.

The model server's handler runs the model on one batch while the reader takes the next one
off the wire and decodes it (TensorFlow releases the GIL while it computes), instead of doing
receive, decode, compute and encode one after another. At most ``depth`` decoded batches wait.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable, Iterator, Union

from sparktf.node.column_batch import Column, decode_batch
from sparktf.v1 import feed_pb2, inference_pb2

_END = object()
Item = Union[tuple[dict[str, Column], int], BaseException, object]


class DecodedBatches:
    """Iterates ``(columns, num_rows)`` of the stream's batches, in order; a message that is no
    batch or does not decode raises ``ValueError`` at its place in the stream.

    Example::

        for columns, rows in DecodedBatches(request_iterator, start.inputs, context.is_active):
            outputs = runner(start.inputs, columns)
    """

    def __init__(self, requests: Iterator[inference_pb2.InferRequest],
                 schema: feed_pb2.FeedSchema, active: Callable[[], bool], depth: int = 2,
                 poll_seconds: float = 0.5) -> None:
        self._requests = requests
        self._schema = schema
        self._active = active
        self._poll = poll_seconds
        self._queue: queue.Queue[Item] = queue.Queue(maxsize=max(1, depth))
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._read, name="sparktf-model-reader",
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stops the reader (the handler is done, e.g. it aborted the call)."""
        self._stopped.set()

    def __iter__(self) -> Iterator[tuple[dict[str, Column], int]]:
        try:
            while True:
                item = self._get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item  # type: ignore[misc]
        finally:
            self.close()

    def _get(self) -> Item:
        # Bounded polls: a call that went away ends the wait even if the reader is stuck.
        while True:
            try:
                return self._queue.get(timeout=self._poll)
            except queue.Empty:
                if not self._active() or (not self._thread.is_alive() and self._queue.empty()):
                    return _END

    def _put(self, item: Item) -> bool:
        while not self._stopped.is_set():
            try:
                self._queue.put(item, timeout=self._poll)
                return True
            except queue.Full:
                continue
        return False

    def _read(self) -> None:
        try:
            for message in self._requests:
                if message.WhichOneof("kind") != "batch":
                    self._put(ValueError("after InferStart only batches may follow"))
                    return
                try:
                    item: Item = (decode_batch(self._schema, message.batch),
                                  message.batch.num_rows)
                except ValueError as e:
                    self._put(e)
                    return
                if not self._put(item):
                    return
            self._put(_END)
        except Exception:  # noqa: BLE001  (the call was cancelled or broke: nobody waits)
            self._put(_END)
