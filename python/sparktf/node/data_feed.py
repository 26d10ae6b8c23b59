"""``DataFeed``: the rows Spark streams to this node, as the user's program sees them.

Feeds are served one after another in the order they arrived (each ``train()`` on the Spark
side is one feed). Within a feed, ``next_batch`` returns up to ``batch_size`` rows, fewer only
for the last batch. When a feed ends, ``should_stop()`` turns True and ``next_batch`` returns
``{}`` once (unless the program already saw ``should_stop()`` say True); the next call waits
for the next feed and moves to it, turning ``should_stop()`` False again. So:

* one feed (TensorFlowOnSpark style): ``while not feed.should_stop(): b = feed.next_batch(n)``;
* several feeds: loop on ``next_batch`` until it returns ``{}``, once per feed, or iterate
  ``feed.dataset(n)`` once per feed (every iteration of the dataset serves one feed).

A streaming query (``cluster.train_stream``) feeds each micro-batch as one feed; between them
``next_feed()`` waits for the next micro-batch and returns False once the query has ended::

    while feed.next_feed():
        model.fit(feed.dataset(64, features=["x"], label="y"), epochs=1)

After ``terminate()`` no more data is taken: ``next_batch`` returns ``{}`` for good and the
feeding Spark tasks are told to stop.

``DataFeed`` is a facade over the feed's four jobs, one module each: the training cursor
(``training_cursor``: next_batch, should_stop, terminate, the feed's schema), inference answers
(``inference_answers``: batch_results), step balancing (``balanced_batches``) and the tf.data view
(``feed_dataset``: dataset, element_spec).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sparktf.node.balanced_batches import balanced_batches, batches
from sparktf.node.feed_dataset import PREFETCH_BATCHES, element_spec, feed_dataset
from sparktf.node.feed_queue import FeedQueue
from sparktf.node.inference_answers import PendingAnswers
from sparktf.node.training_cursor import TrainingCursor, batch_rows
from sparktf.node.validation_set import ValidationSet
from sparktf.v1 import feed_pb2
from sparktf.wire.column_batch import Column

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = ["PREFETCH_BATCHES", "DataFeed", "batch_rows"]


class DataFeed:
    """What ``ctx.get_data_feed()`` returns; one consumer thread at a time."""

    def __init__(self, queue: FeedQueue, timeout: float) -> None:
        self._answers = PendingAnswers()
        self._cursor = TrainingCursor(queue, timeout, self._answers)
        self._validation: ValidationSet | None = None

    @property
    def timeout(self) -> float:
        """Default wait for data, seconds (bootstrap ``feed_timeout_seconds``); settable."""
        return self._cursor.timeout

    @timeout.setter
    def timeout(self, seconds: float) -> None:
        self._cursor.timeout = seconds

    @property
    def feed_id(self) -> str | None:
        """The feed being served (or last served), None before the first rows."""
        return self._cursor.feed_id

    @property
    def schema(self) -> feed_pb2.FeedSchema:
        """Schema of the current feed, else of the next one (see ``wait_schema``)."""
        return self.wait_schema()

    def wait_schema(self, timeout: float | None = None) -> feed_pb2.FeedSchema:
        """Schema of the feed the next rows come from: the current feed's, else (before the
        first feed, or past the current feed's end) the next one's, waited for up to
        ``timeout`` (default: the feed timeout)."""
        return self._cursor.wait_schema(timeout)

    def element_spec(self, timeout: float | None = None) -> dict[str, Any]:
        """``{name: tf.TensorSpec | tf.RaggedTensorSpec}`` of one batch (imports TensorFlow)."""
        return element_spec(self.wait_schema(timeout))

    def should_stop(self) -> bool:
        """True once the current feed ended or ``terminate()`` was called."""
        return self._cursor.should_stop()

    @property
    def exhausted(self) -> bool:
        """True once no row can come any more: after ``terminate()``, or once ``next_batch``
        returned the ``{}`` that ends the inference feed, which ends when ``cluster.shutdown()``
        begins. A loop that serves every ``train()`` of a cluster stops on it::

            while True:
                batch = feed.next_batch(64)
                if not batch and feed.exhausted:
                    break   # the cluster is shutting down
        """
        return self._cursor.exhausted

    def terminate(self) -> None:
        """Take no more data; feeding Spark tasks get ``FeedAck.terminated`` and stop.

        A ``next_batch`` blocked in another thread returns ``{}``; rows it gathered are dropped.
        """
        self._cursor.terminate()

    def next_batch(self, batch_size: int, timeout: float | None = None) -> dict[str, Column]:
        """Up to ``batch_size`` rows as ``{name: column}``; ``{}`` at a feed's end.

        Raises TimeoutError when no data came for ``timeout`` seconds (default: bootstrap
        ``feed_timeout_seconds``); rows gathered so far are kept for the next call.
        """
        return self._cursor.next_batch(batch_size, timeout)

    def next_feed(self, timeout: float | None = None) -> bool:
        """Between feeds: waits for the next one (of ``cluster.train_stream``, one per
        micro-batch; or of a ``train()``) and returns True once it is here, False when the
        streaming query that fed this node has ended and every feed it sent was read, or after
        ``terminate()``.

        A stream may be idle for long (no new files), so by default this waits until the
        stream ends or the node is stopped; ``timeout`` (seconds) raises TimeoutError instead.
        Call it after reading a feed to its end (a whole ``dataset()`` iteration, or
        ``next_batch`` until ``{}``): within a feed it returns True at once. Once it returned
        True, ``should_stop()`` is False until that feed ends, so a serving loop after a stream
        (``feed.next_feed()``, then ``while not feed.should_stop()``) answers
        ``cluster.inference``.
        """
        if timeout is not None:
            return self._cursor.wait_next_feed(timeout)
        while True:
            try:
                return self._cursor.wait_next_feed(60.0)
            except TimeoutError:
                continue

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
        self._answers.answer(results)

    def batches(self, batch_size: int) -> Iterator[dict[str, Column]]:
        """Batches of one feed, until its end (or ``terminate()``)."""
        return batches(self._cursor, batch_size)

    def balanced_batches(self, batch_size: int) -> Iterator[dict[str, Column]]:
        """Batches of one feed, as many on every fed node: what synchronous training needs.

        The JVM splits each feed evenly over the fed nodes (shares differ by at most a row per
        epoch) and tells each node its share and the smallest share. Every node then yields
        ``max(1, smallest // batch_size)`` batches: all of ``batch_size`` rows but the last,
        which takes the rest of the node's share (up to about twice ``batch_size``). No row is
        dropped and no worker waits at a step the others never reach.
        """
        return balanced_batches(self._cursor, batch_size)

    def dataset(
        self, batch_size: int, features: list[str] | None = None, label: str | None = None
    ) -> tf.data.Dataset:
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
        schema = self.wait_schema()  # after a validation feed read whole: the next feed's
        if schema.plan.validation:
            raise RuntimeError(
                "feed.dataset(): this train() brought a validation DataFrame, fed first: call "
                "feed.validation_dataset(batch_size, features, label) before feed.dataset()"
            )
        return feed_dataset(
            element_spec(schema), lambda: self.balanced_batches(batch_size), features, label
        )

    def validation_dataset(
        self, batch_size: int, features: list[str] | None = None, label: str | None = None
    ) -> tf.data.Dataset:
        """The validation DataFrame of ``cluster.train(df, n, validation_df=v)`` as a
        ``tf.data.Dataset`` for ``model.fit(validation_data=...)``: elements as in ``dataset``.

        The first call takes this node's share of ``v`` (fed once, before the training rows)
        and keeps it in memory, at most ``MAX_VALIDATION_BYTES`` of
        ``sparktf.node.validation_set`` (a clear error past it); every iteration of the dataset
        yields the same batches, as many on every fed node. Call it before ``dataset()``::

            validation = feed.validation_dataset(64, ["x"], "y")
            model.fit(feed.dataset(64, ["x"], "y"), validation_data=validation, ...)
        """
        if self._validation is None:
            spec = self.element_spec()
            self._validation = ValidationSet.read(self._cursor, batch_size)
            self._validation_spec = spec
        if self._validation.batch_size != batch_size:
            raise ValueError(
                f"feed.validation_dataset({batch_size}): the validation rows are held in batches "
                f"of {self._validation.batch_size} (the first call's batch_size)"
            )
        held = feed_dataset(self._validation_spec, self._validation.batches, features, label)
        # Its length, for Keras 3 under MWMS (sparktf.node.keras_mwms_fix), which then runs each
        # epoch's validation to its exact steps. Not as the dataset's cardinality: tf_keras
        # would take it as its step count, a half of the steps on two nodes.
        held._sparktf_batches = self._validation.num_batches
        return held
