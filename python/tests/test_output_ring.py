"""The node's output ring: every write reaches the original stream, complete lines the ring, and
a reader learns how many lines it missed when the ring overflowed."""

from __future__ import annotations

import io

from sparktf.node.control_server import NodeControlServicer
from sparktf.node.output_ring import MAX_LINE_CHARS, OutputRing, _TeeStream
from sparktf.node.program_state import ProgramState
from sparktf.v1 import node_control_pb2


def test_lines_pass_through_and_are_numbered():
    ring, original = OutputRing(10), io.StringIO()
    tee = _TeeStream(original, ring, stderr=False)
    tee.write("Epoch 1/2\nloss: 0.")
    tee.write("5\r\rloss: 0.4\n")
    assert original.getvalue() == "Epoch 1/2\nloss: 0.5\r\rloss: 0.4\n"
    assert ring.after(0, 100) == ([(1, False, "Epoch 1/2"), (2, False, "loss: 0.4")], 0)
    assert ring.after(1, 100) == ([(2, False, "loss: 0.4")], 0)
    assert ring.after(2, 100) == ([], 0)


def test_a_flood_keeps_the_last_lines_and_counts_the_rest():
    ring = OutputRing(100)
    for i in range(1000):
        ring.put(f"line {i}", stderr=True)
    lines, dropped = ring.after(0, 10)
    assert dropped == 900 and [t for _, _, t in lines] == [f"line {i}" for i in range(900, 910)]
    # A reader at line 950 missed nothing.
    lines, dropped = ring.after(950, 1000)
    assert dropped == 0 and lines[0][0] == 951 and len(lines) == 50


def test_long_lines_are_cut_and_a_line_without_end_is_bounded():
    ring = OutputRing(10)
    tee = _TeeStream(io.StringIO(), ring, stderr=False)
    tee.write("x" * (3 * MAX_LINE_CHARS))  # no line end
    (_, _, text), *_ = ring.after(0, 10)[0]
    assert text.startswith("x" * MAX_LINE_CHARS) and text.endswith("chars cut)")
    assert len(text) < MAX_LINE_CHARS + 40


def test_read_output_serves_the_ring():
    ring = OutputRing(3)
    for i in range(5):
        ring.put(f"l{i}", stderr=False)
    servicer = NodeControlServicer(ProgramState("chief", 0), None, output=ring)
    reply = servicer.ReadOutput(
        node_control_pb2.NodeOutputRequest(after=0, max_lines=2),
        None,  # the servicer asks nothing of the call's context
    )
    assert reply.dropped == 2 and [ln.text for ln in reply.lines] == ["l2", "l3"]
    assert [ln.seq for ln in reply.lines] == [3, 4]
