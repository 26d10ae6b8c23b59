"""``DataFeed``: the rows Spark streams to this node, as the user's program sees them.

Feeds are served one after another in the order they arrived (each ``train()`` on the Spark
side is one feed). Within a feed, ``next_batch`` returns up to ``batch_size`` rows, fewer only
for the last batch. When a feed ends, ``should_stop()`` turns True and ``next_batch`` returns
``{}`` once (unless the program already saw ``should_stop()`` say True); the next call waits
for the next feed and moves to it, turning ``should_stop()`` False again. So:

* one feed (TensorFlowOnSpark style): ``while not feed.should_stop(): b = feed.next_batch(n)``;
* several feeds: loop on ``next_batch`` until it returns ``{}``, once per feed, or iterate
  ``feed.dataset(n)`` once per feed (every iteration of the dataset serves one feed).

After ``terminate()`` no more data is taken: ``next_batch`` returns ``{}`` for good and the
feeding Spark tasks are told to stop.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Iterator

from sparktf.node.answer_sink import AnswerSink

from sparktf.wire.column_batch import Column, RaggedColumn, concat_rows, slice_rows
from sparktf.node.feed_queue import FeedChunk, FeedEnd, FeedQueue
from sparktf.wire.result_batch import check_rows, encode_answers
from sparktf.v1 import feed_pb2

if TYPE_CHECKING:
    import tensorflow as tf

_TF_DTYPES = {
    feed_pb2.BOOL: "bool", feed_pb2.INT8: "int8", feed_pb2.INT16: "int16",
    feed_pb2.INT32: "int32", feed_pb2.INT64: "int64", feed_pb2.FLOAT32: "float32",
    feed_pb2.FLOAT64: "float64", feed_pb2.BINARY: "string", feed_pb2.STRING: "string",
}


# Batches ``dataset()`` prepares ahead of the training step.
PREFETCH_BATCHES = 2


class DataFeed:
    """What ``ctx.get_data_feed()`` returns; one consumer thread at a time."""

    def __init__(self, queue: FeedQueue, timeout: float) -> None:
        self._queue = queue
        self.timeout = timeout  # default wait for data, seconds (bootstrap feed_timeout_seconds)
        self._lock = threading.Lock()  # serializes next_batch calls of several threads
        self._carry: FeedChunk | None = None  # rows of the current feed not yet returned
        self._carry_offset = 0
        self._feed_id: str | None = None
        self._feed_ended = False
        self._owe_empty = False  # the end came with rows: the next call returns {}
        self._terminated = False
        # Inference rows handed out and not answered yet: (their stream's sink, row count).
        self._pending: deque[tuple[AnswerSink, int]] = deque()
        self._pending_lock = threading.Lock()

    @property
    def feed_id(self) -> str | None:
        """The feed being served (or last served), None before the first rows."""
        return self._feed_id

    @property
    def schema(self) -> feed_pb2.FeedSchema:
        """Schema of the current feed, else of the next one (see ``wait_schema``)."""
        return self.wait_schema()

    def wait_schema(self, timeout: float | None = None) -> feed_pb2.FeedSchema:
        """Schema of the current feed, else of the next one; waits (up to ``timeout``) only
        when no feed stream has started yet."""
        wait = self.timeout if timeout is None else timeout
        known = None if self._feed_id is None else self._queue.schema_of(self._feed_id)
        if known is not None and not self._feed_ended:
            return known
        try:
            # Between feeds, the next feed's schema if it is already here, else the last one.
            schema = self._queue.wait_next_schema(0.0 if known is not None else wait)
        except TimeoutError:
            if known is not None:
                return known
            raise TimeoutError(
                f"no data from Spark for {wait:g} s: no feed stream has started, so the "
                "columns are unknown; is a train() or inference() running on this "
                "cluster?") from None
        if schema is None:  # closed
            if known is not None:
                return known
            raise RuntimeError("the data feed was terminated before any feed started")
        return schema

    def element_spec(self, timeout: float | None = None) -> dict[str, Any]:
        """``{name: tf.TensorSpec | tf.RaggedTensorSpec}`` of one batch (imports TensorFlow)."""
        return _element_spec(self.wait_schema(timeout))

    def should_stop(self) -> bool:
        """True once the current feed ended or ``terminate()`` was called."""
        # No lock: another thread may be blocked in next_batch holding it.
        if self._terminated or self._queue.closed:
            return True
        if self._feed_ended:
            self._owe_empty = False  # the program has seen the end
            return True
        return False

    def terminate(self) -> None:
        """Take no more data; feeding Spark tasks get ``FeedAck.terminated`` and stop.

        A ``next_batch`` blocked in another thread returns ``{}``; rows it gathered are dropped.
        """
        self._terminated = True
        self._queue.close()

    def next_batch(self, batch_size: int, timeout: float | None = None) -> dict[str, Column]:
        """Up to ``batch_size`` rows as ``{name: column}``; ``{}`` at a feed's end.

        Raises TimeoutError when no data came for ``timeout`` seconds (default: bootstrap
        ``feed_timeout_seconds``); rows gathered so far are kept for the next call.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, found {batch_size}")
        wait = self.timeout if timeout is None else timeout
        with self._lock:
            if self._terminated or self._queue.closed:
                self._carry = None
                return {}
            if self._owe_empty:
                self._owe_empty = False
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
                        self._carry = None
                        return {}
                    if isinstance(item, FeedEnd):
                        self._feed_ended = True
                        if item.feed_id != self._feed_id:
                            self._feed_id = item.feed_id  # a feed that sent this node no rows
                        if parts:
                            self._owe_empty = True
                            break
                        return {}
                    self._take(item)
                assert self._carry is not None
                if self._carry.answers is not None:
                    # Inference rows never wait for more: their task waits for the answers.
                    assert not parts, "an inference chunk follows training rows in one lane"
                    return self._take_answerable(need)
                start = self._carry_offset
                stop = min(self._carry.num_rows, start + need)
                parts.append(slice_rows(self._carry.columns, start, stop))
                need -= stop - start
                if stop == self._carry.num_rows:
                    self._carry, self._carry_offset = None, 0
                else:
                    self._carry_offset = stop
            return concat_rows(parts)

    def _take_answerable(self, need: int) -> dict[str, Column]:
        """Up to ``need`` rows of the current inference chunk; remembers whom they answer."""
        chunk = self._carry
        assert chunk is not None and chunk.answers is not None
        start = self._carry_offset
        stop = min(chunk.num_rows, start + need)
        with self._pending_lock:
            self._pending.append((chunk.answers, stop - start))
        if stop == chunk.num_rows:
            self._carry, self._carry_offset = None, 0
        else:
            self._carry_offset = stop
        return slice_rows(chunk.columns, start, stop)

    def batch_results(self, results: Any) -> None:
        """Answer the rows of the oldest unanswered ``next_batch`` of a ``cluster.inference``.

        ``results`` is a dict ``{result column: values}`` (one value, or one array, a row), or
        just the values when ``inference`` asked for one result column. Every call must answer
        exactly the rows of its batch, in order::

            feed = ctx.get_data_feed(train_mode=False)
            while not feed.should_stop():
                batch = feed.next_batch(256)
                if batch:
                    feed.batch_results({"prediction": model(batch["x"]).numpy().argmax(-1)})

        A wrong row count or type raises ValueError here, and fails the inference task with the
        same message.
        """
        with self._pending_lock:
            if not self._pending:
                raise RuntimeError("batch_results() answers the rows of a next_batch() call of "
                                   "an inference, but no such rows wait for answers")
            sink, rows = self._pending.popleft()
        try:
            columns = check_rows(sink.outputs, results, rows)
        except ValueError as e:
            message = f"{sink.where}: batch_results() for a batch of {rows} rows: {e}"
            sink.fail(message)
            raise ValueError(message) from None
        sink.answer(encode_answers(sink.outputs, columns, 0, rows))

    def _take(self, chunk: FeedChunk) -> None:
        if chunk.feed_id != self._feed_id or self._feed_ended:
            self._feed_id, self._feed_ended, self._owe_empty = chunk.feed_id, False, False
        self._carry, self._carry_offset = chunk, 0

    def _keep(self, parts: list[dict[str, Column]]) -> None:
        """Keep rows gathered by a call that then timed out for the next call."""
        if parts:  # the carry is empty here: the wait happens only once it ran out
            rows = concat_rows(parts)
            assert self._feed_id is not None
            self._carry, self._carry_offset = FeedChunk(self._feed_id, batch_rows(rows), rows), 0

    def _timeout_message(self, wait: float) -> str:
        where = (f"feed '{self._feed_id}' has not ended" if self._feed_id and not self._feed_ended
                 else "waiting for the next feed")
        return (f"no data from Spark for {wait:g} s: {where}; {self._queue.total_rows} rows "
                "received so far. Is a train() running on this cluster, and are its tasks "
                "running? Pass timeout= or raise feed_timeout_seconds for slower feeds")

    def batches(self, batch_size: int) -> Iterator[dict[str, Column]]:
        """Batches of one feed, until its end (or ``terminate()``)."""
        while True:
            batch = self.next_batch(batch_size)
            if not batch:
                return
            yield batch

    def balanced_batches(self, batch_size: int) -> Iterator[dict[str, Column]]:
        """Batches of one feed, as many on every fed node: what synchronous training needs.

        The JVM splits each feed evenly over the fed nodes (shares differ by at most a row per
        epoch) and tells each node its share and the smallest share. Every node then yields
        ``max(1, smallest // batch_size)`` batches: all of ``batch_size`` rows but the last,
        which takes the rest of the node's share (up to about twice ``batch_size``). No row is
        dropped and no worker waits at a step the others never reach.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, found {batch_size}")
        plan = self.wait_schema().plan
        if plan.min_node_rows <= 0:  # no plan: a feed from an older JVM side
            yield from self.batches(batch_size)
            return
        steps = max(1, plan.min_node_rows // batch_size)
        for _ in range(steps - 1):
            batch = self.next_batch(batch_size)
            if not batch:  # terminated, or the feed ended early
                return
            yield batch
        rest = plan.node_rows - (steps - 1) * batch_size
        last = self.next_batch(rest)
        if not last:
            return
        yield last
        extra = self.next_batch(1)  # takes the end marker, so the next feed starts clean
        if extra:
            raise RuntimeError(
                f"feed '{self._feed_id}' brought this node more rows than its plan of "
                f"{plan.node_rows}; the balanced batches would differ between nodes")

    def dataset(self, batch_size: int, features: list[str] | None = None,
                label: str | None = None) -> tf.data.Dataset:
        """A ``tf.data.Dataset`` of this feed's batches with a known element spec.

        Elements are dicts of all columns, or ``(x, y)`` when ``features``/``label`` are given
        (``x`` is the tensor itself for one feature name, else a dict). Batches are already
        rebatched: do not ``.batch()`` again. Auto-sharding is off: each node reads only the
        rows Spark sent it. Every iteration of the dataset serves one feed, in
        ``balanced_batches``: every fed node yields the same number of batches, so
        MultiWorkerMirroredStrategy never waits at a step one worker does not reach. The
        dataset reads ``PREFETCH_BATCHES`` batches ahead: an iteration stopped early (say by
        ``steps_per_epoch``) has taken up to that many batches more from the feed than it used.
        """
        import tensorflow as tf

        spec = self.element_spec()
        names = list(spec)
        for name in (features or []) + ([label] if label else []):
            if name not in spec:
                raise ValueError(f"column '{name}' is not in the feed; it has {', '.join(names)}")
        ragged = {n for n, s in spec.items() if isinstance(s, tf.RaggedTensorSpec)}

        def to_tf(batch: dict[str, Column], name: str) -> Any:
            col = batch[name]
            if name in ragged:
                assert isinstance(col, RaggedColumn)
                return tf.RaggedTensor.from_row_splits(col.values, col.row_splits,
                                                       validate=False)
            return col

        if features is None and label is None:
            signature: Any = spec

            def element(batch: dict[str, Column]) -> Any:
                return {n: to_tf(batch, n) for n in names}
        else:
            xs = features if features is not None else [n for n in names if n != label]
            x_spec: Any = spec[xs[0]] if len(xs) == 1 else {n: spec[n] for n in xs}
            signature = x_spec if label is None else (x_spec, spec[label])

            def element(batch: dict[str, Column]) -> Any:
                x = to_tf(batch, xs[0]) if len(xs) == 1 else {n: to_tf(batch, n) for n in xs}
                return x if label is None else (x, to_tf(batch, label))

        def generate() -> Iterator[Any]:
            for batch in self.balanced_batches(batch_size):
                yield element(batch)

        # Prefetch: the generator (waiting for rows, slicing them into batches) runs in
        # tf.data's background thread while the model trains on the previous batch. Two batches
        # keep the feed ahead of training without holding much more memory than one.
        ds = tf.data.Dataset.from_generator(generate, output_signature=signature).prefetch(
            PREFETCH_BATCHES)
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.OFF)
        return ds.with_options(options)


def _element_spec(schema: feed_pb2.FeedSchema) -> dict[str, Any]:
    import tensorflow as tf

    spec: dict[str, Any] = {}
    for col in schema.columns:
        dtype = tf.as_dtype(_TF_DTYPES[col.dtype])
        if col.shape == feed_pb2.VAR_ARRAY:
            spec[col.name] = tf.RaggedTensorSpec([None, None], dtype, ragged_rank=1,
                                                 row_splits_dtype=tf.int64)
        elif col.shape == feed_pb2.FIXED_ARRAY:
            spec[col.name] = tf.TensorSpec([None, col.width], dtype)
        else:
            spec[col.name] = tf.TensorSpec([None], dtype)
    return spec


def batch_rows(batch: dict[str, Column]) -> int:
    """Rows in a batch returned by ``next_batch`` (0 for ``{}``)."""
    if not batch:
        return 0
    return len(next(iter(batch.values())))

