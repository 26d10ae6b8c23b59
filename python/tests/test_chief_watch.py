"""ChiefWatch against a real listening socket standing in for the chief's TensorFlow server."""

from __future__ import annotations

import socket

import pytest

from sparktf.program.chief_watch import ChiefWatch, chief_address


def listening_socket() -> tuple[socket.socket, int]:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    return s, s.getsockname()[1]


def free_port() -> int:
    s, port = listening_socket()
    s.close()
    return port


def test_chief_address_prefers_the_chief_then_worker_0():
    assert chief_address({"chief": ["h1:1"], "worker": ["h2:2"]}) == ("h1", 1)
    assert chief_address({"worker": ["h2:2", "h3:3"], "ps": ["h4:4"]}) == ("h2", 2)
    assert chief_address({"chief": ["[::1]:2222"]}) == ("::1", 2222)


def test_chief_address_refuses_a_cluster_without_chief_or_worker():
    with pytest.raises(ValueError, match="has no chief and no worker"):
        chief_address({"ps": ["h:1"]})
    with pytest.raises(ValueError, match=r"cluster_spec\['chief'\]\[0\] is 'h1'"):
        chief_address({"chief": ["h1"]})


def test_ended_once_the_chief_was_up_and_then_refuses():
    chief, port = listening_socket()  # one probe: the backlog holds it unaccepted
    watch = ChiefWatch({"chief": [f"127.0.0.1:{port}"]}, gone_after=3)
    assert not watch.ended() and watch.seen
    chief.close()
    # One refusal is not an exit: it takes gone_after in a row.
    assert [watch.ended() for _ in range(3)] == [False, False, True]


def test_a_chief_not_up_yet_is_not_ended_until_the_start_timeout():
    address = f"127.0.0.1:{free_port()}"
    watch = ChiefWatch({"chief": [address]}, start_timeout=30)
    assert not any(watch.ended() for _ in range(5)) and not watch.seen
    late = ChiefWatch({"chief": [address]}, start_timeout=0.01)
    late._started -= 1  # as if a second had passed
    with pytest.raises(TimeoutError, match=f"chief's TensorFlow server at {address} did not come"):
        late.ended()


def test_mark_seen_turns_refusals_into_an_end():
    watch = ChiefWatch({"chief": [f"127.0.0.1:{free_port()}"]}, gone_after=2)
    watch.mark_seen()
    assert [watch.ended() for _ in range(2)] == [False, True]
