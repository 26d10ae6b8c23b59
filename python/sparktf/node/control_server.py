"""``NodeControlServicer``: status, end of feeds and shutdown of this node, for the driver."""

from __future__ import annotations

import logging

import grpc

from sparktf.node.feed_queue import FeedQueue
from sparktf.node.output_ring import OutputRing
from sparktf.node.partition_ledger import PartitionLedger
from sparktf.node.program_state import ProgramState
from sparktf.v1 import node_control_pb2, node_control_pb2_grpc

log = logging.getLogger(__name__)

# A traceback of a runaway recursion can be megabytes; the cause is at the end.
MAX_STATUS_ERROR_CHARS = 64 * 1024
# Output lines in one ReadOutput reply at most, whatever the caller asks (bounds the message).
MAX_OUTPUT_LINES_PER_READ = 1000


class NodeControlServicer(node_control_pb2_grpc.NodeControlServicer):
    """Served by every node; ``queue`` is None on nodes that take no data (ps, evaluator)."""

    def __init__(
        self,
        program: ProgramState,
        queue: FeedQueue | None,
        ledger: PartitionLedger | None = None,
        output: OutputRing | None = None,
    ) -> None:
        self._program = program
        self._queue = queue
        self._ledger = ledger  # the feed server's: a feed that ended needs no retry records
        self._output = output or OutputRing(max_lines=1)

    def GetStatus(
        self, request: node_control_pb2.StatusRequest, context: grpc.ServicerContext
    ) -> node_control_pb2.NodeStatus:
        return node_control_pb2.NodeStatus(
            state=self._program.state,
            error=self._program.error[-MAX_STATUS_ERROR_CHARS:],
            rows_received=self._queue.total_rows if self._queue else 0,
            rows_taken=self._queue.total_taken if self._queue else 0,
            job_name=self._program.job_name,
            task_index=self._program.task_index,
        )

    def EndFeed(
        self, request: node_control_pb2.EndFeedRequest, context: grpc.ServicerContext
    ) -> node_control_pb2.EndFeedReply:
        if self._queue is None:
            context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"node {self._program.role} takes no data; send EndFeed to chief and "
                "worker nodes only",
            )
        if not request.feed_id:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "EndFeed needs a feed_id")
        if self._program.failed:
            # A feed that raced the failure may have looked like a terminate() to the tasks;
            # ending it here must not pass for success: the rows went to a dead program.
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, self._program.failure_message())
        # The marker goes in even when counts differ, so the program never waits for rows
        # that will not come; the driver fails the job on the DATA_LOSS below.
        rows = self._queue.end_feed(request.feed_id)
        if self._ledger is not None:
            self._ledger.forget_feed(request.feed_id)
        if request.expected_rows >= 0 and rows != request.expected_rows:
            context.abort(
                grpc.StatusCode.DATA_LOSS,
                f"feed '{request.feed_id}': node {self._program.role} received {rows} "
                f"rows, the feed tasks saw {request.expected_rows} acknowledged; rows "
                "were lost or duplicated between Spark and the node",
            )
        # The state before the count: a program seen ended takes no more, so its count is
        # final; one seen running may take more meanwhile, and the driver asks nothing of it.
        state = self._program.state
        terminated = self._program.terminated(self._queue.closed_ns)
        taken = self._queue.rows_taken(request.feed_id)
        if state == node_control_pb2.FAILED:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, self._program.failure_message())
        log.info(
            "feed '%s' ended on node %s after %d rows (%d taken by the program%s)",
            request.feed_id,
            self._program.role,
            rows,
            taken,
            ", which called terminate()"
            if terminated
            else ""
            if state == node_control_pb2.RUNNING
            else ", which has ended",
        )
        return node_control_pb2.EndFeedReply(
            rows_received=rows, rows_taken=taken, program_state=state, terminated=terminated
        )

    def ReadOutput(
        self, request: node_control_pb2.NodeOutputRequest, context: grpc.ServicerContext
    ) -> node_control_pb2.NodeOutput:
        lines, dropped = self._output.after(
            request.after, min(max(request.max_lines, 0), MAX_OUTPUT_LINES_PER_READ)
        )
        return node_control_pb2.NodeOutput(
            lines=[
                node_control_pb2.NodeOutputLine(seq=seq, stderr=err, text=text)
                for seq, err, text in lines
            ],
            dropped=dropped,
        )

    def EndStream(
        self, request: node_control_pb2.EndStreamRequest, context: grpc.ServicerContext
    ) -> node_control_pb2.EndStreamReply:
        if self._queue is None:
            context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"node {self._program.role} takes no data; send EndStream to chief and "
                "worker nodes only",
            )
        log.info("stream %s ended on node %s", request.query_id, self._program.role)
        self._queue.end_stream()
        return node_control_pb2.EndStreamReply()

    def Stop(
        self, request: node_control_pb2.StopRequest, context: grpc.ServicerContext
    ) -> node_control_pb2.StopReply:
        log.info(
            "stop requested for node %s (grace %.1f s)", self._program.role, request.grace_seconds
        )
        self._program.request_stop(request.grace_seconds)
        return node_control_pb2.StopReply()
