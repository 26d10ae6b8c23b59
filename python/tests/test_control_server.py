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
        node_control_pb2.StatusRequest(), FakeContext())
    assert status.state == node_control_pb2.FAILED
    assert "ValueError: boom" in status.error
