"""``DataFeedServicer``: takes the column-batch streams of Spark feed tasks into the queue."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import NoReturn

import grpc

from sparktf.node.feed_queue import FeedChunk, FeedEndedError, FeedQueue
from sparktf.node.partition_ledger import PartitionLedger, SupersededError
from sparktf.node.program_state import ProgramState
from sparktf.v1 import feed_pb2, feed_pb2_grpc
from sparktf.wire.column_batch import decode_batch, validate_schema
from sparktf.wire.feed_wire import FeedItem, kind_of, parse_feed_message
from sparktf.wire.shared_batches import SharedBatchDir, carried_batch, carries_batch

log = logging.getLogger(__name__)


def add_data_feed_to_server(servicer: DataFeedServicer, server: grpc.Server) -> None:
    """Serve ``servicer`` as ``sparktf.v1.DataFeed``, Feed messages read by
    ``parse_feed_message`` (batch buffers stay views of the received bytes)."""
    handlers = {
        "BeginPartition": grpc.unary_unary_rpc_method_handler(
            servicer.BeginPartition,
            request_deserializer=feed_pb2.PartitionKey.FromString,
            response_serializer=feed_pb2.PartitionProgress.SerializeToString,
        ),
        "Feed": grpc.stream_unary_rpc_method_handler(
            servicer.Feed,
            request_deserializer=parse_feed_message,
            response_serializer=feed_pb2.FeedAck.SerializeToString,
        ),
    }
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("sparktf.v1.DataFeed", handlers),)
    )


class DataFeedServicer(feed_pb2_grpc.DataFeedServicer):
    """One Feed call per partition: FeedStart first, then ColumnBatch messages, or SharedBatch
    messages naming files in ``shared`` (the node's shared-memory directory) for tasks on this
    machine."""

    def __init__(
        self,
        cluster_id: str,
        queue: FeedQueue,
        program: ProgramState,
        put_timeout: float,
        max_streams: int,
        shared: SharedBatchDir | None = None,
    ) -> None:
        self._cluster_id = cluster_id
        self._shared = shared
        self._queue = queue
        self._program = program
        self._put_timeout = put_timeout
        self._max_streams = max_streams
        # A blocked stream holds a server thread; capping streams keeps threads for control.
        self._streams = threading.BoundedSemaphore(max_streams)
        self.ledger = PartitionLedger()

    def BeginPartition(
        self, request: feed_pb2.PartitionKey, context: grpc.ServicerContext
    ) -> feed_pb2.PartitionProgress:
        if request.cluster_id != self._cluster_id:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"this node serves cluster '{self._cluster_id}', the task feeds "
                f"cluster '{request.cluster_id}'",
            )
        if self._program.failed:
            self._abort_failed(context)
        key = (request.feed_id, request.epoch, request.partition)
        try:
            rows, complete = self.ledger.begin(key, request.attempt)
        except SupersededError as e:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(e))
        if request.attempt > 0:
            log.info(
                "feed '%s' epoch %d partition %d: retry attempt %d begins with %d rows "
                "already taken%s",
                request.feed_id,
                request.epoch,
                request.partition,
                request.attempt,
                rows,
                " (complete)" if complete else "",
            )
        return feed_pb2.PartitionProgress(rows_taken=rows, complete=complete)

    def Feed(
        self, request_iterator: Iterator[FeedItem], context: grpc.ServicerContext
    ) -> feed_pb2.FeedAck:
        if not self._streams.acquire(blocking=False):
            context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"node {self._program.role} already serves {self._max_streams} feed "
                "streams; retry when one ends, or feed fewer partitions at once",
            )
        try:
            return self._feed(request_iterator, context)
        finally:
            self._streams.release()

    def _feed(
        self, messages: Iterator[FeedItem], context: grpc.ServicerContext
    ) -> feed_pb2.FeedAck:
        if self._program.failed:
            self._abort_failed(context)
        first = next(messages, None)
        if first is None or kind_of(first) != "start":
            found = "an empty stream" if first is None else f"a {kind_of(first)}"
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"a Feed stream must begin with FeedStart, found {found}",
            )
        assert isinstance(first, feed_pb2.FeedMessage)
        start = first.start
        if start.cluster_id != self._cluster_id:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"this node serves cluster '{self._cluster_id}', the stream is for "
                f"cluster '{start.cluster_id}'; a feed task of another or an earlier "
                "cluster reached this node",
            )
        where = (
            f"feed '{start.feed_id}' partition {start.partition} attempt {start.attempt} "
            f"on node {self._program.role}"
        )
        if not start.feed_id:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{where}: FeedStart has no feed_id")
        try:
            validate_schema(start.schema)
        except ValueError as e:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{where}: {e}")
        if self._queue.closed:
            if self._program.failed:
                self._abort_failed(context)
            return feed_pb2.FeedAck(rows_received=0, terminated=True)
        try:
            self._queue.open_feed(start.feed_id, start.schema)
        except FeedEndedError as e:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"{where}: {e}")
        except ValueError as e:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{where}: {e}")
        key = (start.feed_id, start.epoch, start.partition)
        try:
            self.ledger.check_current(key, start.attempt)
        except SupersededError as e:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"{where}: {e}")

        rows = 0
        finished = False
        for message in messages:
            kind = kind_of(message)
            if kind == "finish":
                assert isinstance(message, feed_pb2.FeedMessage)
                if message.finish.rows != rows:
                    context.abort(
                        grpc.StatusCode.DATA_LOSS,
                        f"{where}: the task sent {message.finish.rows} rows, the node took {rows}",
                    )
                finished = True
                break
            if not carries_batch(message):
                context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"{where}: after FeedStart only ColumnBatch or SharedBatch messages "
                    f"may follow, found a {kind or 'message with no kind'}",
                )
            try:
                batch = carried_batch(message, self._shared)
                columns = decode_batch(start.schema, batch)
            except ValueError as e:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{where}, rows {rows}+: {e}")
            chunk = FeedChunk(start.feed_id, batch.num_rows, columns)
            try:
                taken = self._queue.put(
                    chunk,
                    self._put_timeout,
                    interrupted=lambda: not context.is_active(),
                    admit=lambda n=batch.num_rows: self.ledger.admit(key, start.attempt, n),
                )
            except SupersededError as e:
                context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"{where}: {e}")
            except TimeoutError as e:
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, f"{where}: {e}")
            except FeedEndedError as e:
                context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"{where}: {e}")
            if not taken:
                if self._program.failed:
                    self._abort_failed(context)
                if not self._queue.closed:  # the client went away: nobody reads this answer
                    log.info("%s: the feeding task went away after %d rows", where, rows)
                return feed_pb2.FeedAck(rows_received=rows, terminated=self._queue.closed)
            rows += batch.num_rows
        if self._program.failed:  # a closed queue means failure here, not terminate()
            self._abort_failed(context)
        if finished:
            self.ledger.finish(key, start.attempt)
        else:
            # No FeedFinish: the stream was cancelled (its task failed), which can also end the
            # iteration; the partition stays open and a retry continues after the rows taken.
            log.info("%s: the stream ended without FeedFinish after %d rows", where, rows)
        return feed_pb2.FeedAck(rows_received=rows, terminated=self._queue.closed)

    def _abort_failed(self, context: grpc.ServicerContext) -> NoReturn:
        context.abort(grpc.StatusCode.FAILED_PRECONDITION, self._program.failure_message())
        raise AssertionError("unreachable: context.abort raises")
