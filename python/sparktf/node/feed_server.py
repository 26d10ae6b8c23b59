"""``DataFeedServicer``: takes the column-batch streams of Spark feed tasks into the queue."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import NoReturn

import grpc

from sparktf.node.feed_queue import FeedChunk, FeedEndedError, FeedQueue
from sparktf.node.partition_ledger import PartitionLedger, ReservationError, SupersededError
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
        "Reserve": grpc.unary_unary_rpc_method_handler(
            servicer.Reserve,
            request_deserializer=feed_pb2.ReserveRequest.FromString,
            response_serializer=feed_pb2.ReserveReply.SerializeToString,
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
    machine.

    Admission is by reservation: a task reserves each range of rows before it sends it, and
    the node grants rows only while its quota for the epoch lasts and its queue, counting the
    ranges granted and not sent yet, has room. Granted rows then never wait for the program,
    so a stream always drains and its task never waits on a node whose program waits for
    another node: what keeps synchronous training deadlock-free (see FeedRouter.scala). Any
    number of streams may come at once; none is refused.
    """

    def __init__(
        self,
        cluster_id: str,
        queue: FeedQueue,
        program: ProgramState,
        put_timeout: float,
        shared: SharedBatchDir | None = None,
    ) -> None:
        self._cluster_id = cluster_id
        self._shared = shared
        self._queue = queue
        self._program = program
        self._put_timeout = put_timeout
        self.ledger = PartitionLedger()
        # Serialized so two tasks never both take the last room of the queue.
        self._reserving = threading.Lock()

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
            taken = self.ledger.begin(key, request.attempt)
        except SupersededError as e:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(e))
        rows = sum(n for _, n in taken)
        log.info(
            "feed '%s' epoch %d partition %d: retry attempt %d begins with %d rows already "
            "taken here",
            request.feed_id,
            request.epoch,
            request.partition,
            request.attempt,
            rows,
        )
        return feed_pb2.PartitionProgress(
            rows_taken=rows, taken=[feed_pb2.RowRange(start=s, rows=n) for s, n in taken if n > 0]
        )

    def Reserve(
        self, request: feed_pb2.ReserveRequest, context: grpc.ServicerContext
    ) -> feed_pb2.ReserveReply:
        k = request.key
        if k.cluster_id != self._cluster_id:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"this node serves cluster '{self._cluster_id}', the task feeds "
                f"cluster '{k.cluster_id}'",
            )
        if self._program.failed:
            self._abort_failed(context)
        if self._queue.closed:
            return feed_pb2.ReserveReply(terminated=True, queue_capacity=self._queue.capacity)
        key = (k.feed_id, k.epoch, k.partition)
        try:
            with self._reserving:
                room = self._queue.room(k.feed_id) - self.ledger.open_batches(k.feed_id)
                per_batch = request.batch_rows
                rows = 0 if room <= 0 else request.rows
                if per_batch > 0:  # a lease of several batches: as many as the queue has room for
                    rows = min(rows, room * per_batch)
                grant = self.ledger.reserve(
                    key, k.attempt, request.start, rows, request.node_rows, per_batch
                )
                if grant.granted:
                    room -= 1 if per_batch <= 0 else -(-grant.granted // per_batch)
        except SupersededError as e:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(e))
        except ReservationError as e:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        return feed_pb2.ReserveReply(
            granted=grant.granted,
            quota_left=grant.quota_left,
            outstanding=grant.outstanding,
            queue_free=max(0, room),
            queue_capacity=self._queue.capacity,
        )

    def Feed(self, messages: Iterator[FeedItem], context: grpc.ServicerContext) -> feed_pb2.FeedAck:
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
        try:
            return self._take(messages, context, start, key, where)
        finally:
            # Finished or cancelled: what the stream reserved and did not send goes back to the
            # quota, for another task (or this one's retry) to reserve.
            self.ledger.release(key, start.attempt)

    def _take(
        self,
        messages: Iterator[FeedItem],
        context: grpc.ServicerContext,
        start: feed_pb2.FeedStart,
        key: tuple[str, int, int],
        where: str,
    ) -> feed_pb2.FeedAck:
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
                    reserved=True,
                )
            except SupersededError as e:
                context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"{where}: {e}")
            except ReservationError as e:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{where}: {e}")
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
        if not finished:
            # No FeedFinish: the stream was cancelled (its task failed), which can also end the
            # iteration; a retry skips the rows taken and reserves the rest again.
            log.info("%s: the stream ended without FeedFinish after %d rows", where, rows)
        return feed_pb2.FeedAck(rows_received=rows, terminated=self._queue.closed)

    def _abort_failed(self, context: grpc.ServicerContext) -> NoReturn:
        context.abort(grpc.StatusCode.FAILED_PRECONDITION, self._program.failure_message())
        raise AssertionError("unreachable: context.abort raises")
