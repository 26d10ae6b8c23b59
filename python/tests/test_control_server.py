"""NodeControl when the program failed: the driver must learn it from every call it makes."""

import grpc
import pytest

from sparktf.node.control_server import NodeControlServicer
from sparktf.node.feed_queue import FeedQueue
from sparktf.node.program_state import ProgramState
from sparktf.v1 import node_control_pb2


class Aborted(Exception):
    pass


class FakeContext:
    def abort(self, code, details):
        self.code, self.details = code, details
        raise Aborted(details)


def failed_program():
    program = ProgramState("worker", 0)
    program.mark_failed("Traceback (most recent call last):\nValueError: boom\n")
    return program


def test_end_feed_on_a_failed_program_fails_with_its_traceback():
    queue = FeedQueue(4)
    queue.close()  # the runtime closes the queue when the program ends
    servicer = NodeControlServicer(failed_program(), queue)
    context = FakeContext()
    with pytest.raises(Aborted):
        servicer.EndFeed(node_control_pb2.EndFeedRequest(feed_id="f", expected_rows=0), context)
    assert context.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "node worker:0 failed" in context.details and "ValueError: boom" in context.details


def test_status_of_a_failed_program_carries_its_traceback():
    status = NodeControlServicer(failed_program(), None).GetStatus(
        node_control_pb2.StatusRequest(), FakeContext()
    )
    assert status.state == node_control_pb2.FAILED
    assert "ValueError: boom" in status.error


def _chunk(feed_id, rows):
    import numpy as np

    from sparktf.node.feed_queue import FeedChunk

    return FeedChunk(feed_id, rows, {"x": np.zeros(rows)})


def _fed_queue(feed_id="f", chunks=(3, 4)):
    queue = FeedQueue(8)
    queue.open_feed(feed_id, None)
    for rows in chunks:
        assert queue.put(_chunk(feed_id, rows), timeout=1)
    return queue


def test_end_feed_reports_rows_the_program_took_apart_from_rows_received():
    program = ProgramState("chief", 0)
    queue = _fed_queue()
    queue.get(1)  # the program takes the first chunk (3 rows); 4 wait in the queue
    reply = NodeControlServicer(program, queue).EndFeed(
        node_control_pb2.EndFeedRequest(feed_id="f", expected_rows=7), FakeContext()
    )
    assert (reply.rows_received, reply.rows_taken) == (7, 3)
    assert reply.program_state == node_control_pb2.RUNNING and not reply.terminated


def test_end_feed_after_the_program_returned_says_so_and_counts_what_it_took():
    program = ProgramState("chief", 0)
    queue = _fed_queue()
    queue.get(1)
    program.mark_finished()
    queue.close()  # as the runtime does after the program ends: not a terminate()
    status = NodeControlServicer(program, queue).GetStatus(
        node_control_pb2.StatusRequest(), FakeContext()
    )
    assert (status.rows_received, status.rows_taken) == (7, 3)
    reply = NodeControlServicer(program, queue).EndFeed(
        node_control_pb2.EndFeedRequest(feed_id="f", expected_rows=7), FakeContext()
    )
    assert reply.program_state == node_control_pb2.FINISHED
    assert not reply.terminated and reply.rows_taken == 3


def test_end_feed_after_terminate_is_a_legal_early_stop_with_the_rows_taken():
    program = ProgramState("chief", 0)
    queue = _fed_queue()
    queue.get(1)
    queue.close()  # the program's terminate()
    program.mark_finished()  # and then it returned
    reply = NodeControlServicer(program, queue).EndFeed(
        node_control_pb2.EndFeedRequest(feed_id="f", expected_rows=7), FakeContext()
    )
    assert reply.terminated and reply.rows_taken == 3 and reply.rows_received == 7


def test_rows_taken_are_counted_per_feed():
    queue = _fed_queue("a", (2,))
    queue.open_feed("b", None)
    assert queue.put(_chunk("b", 5), timeout=1)
    queue.end_feed("a")
    assert queue.get(1).num_rows == 2
    assert queue.get(1).feed_id == "a"  # a's end marker takes no row
    assert (queue.rows_taken("a"), queue.rows_taken("b"), queue.total_taken) == (2, 0, 2)
    queue.get(1)
    assert (queue.rows_taken("b"), queue.total_taken) == (5, 7)
