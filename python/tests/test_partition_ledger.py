"""The ledger that makes the feed exactly-once and every node's share exact."""

import pytest

from sparktf.node.partition_ledger import PartitionLedger, ReservationError, SupersededError

KEY = ("feed", 0, 3)


def test_reservations_are_granted_up_to_the_quota_and_unsent_rows_return():
    ledger = PartitionLedger()
    assert ledger.reserve(KEY, 0, start=0, rows=100, node_rows=150).granted == 100
    grant = ledger.reserve(("feed", 0, 4), 0, start=0, rows=100, node_rows=150)
    assert (grant.granted, grant.quota_left, grant.outstanding) == (50, 0, 150)
    ledger.admit(KEY, 0, 60)
    ledger.release(KEY, 0)  # the stream ended after 60 of its 100 rows
    assert ledger.reserve(("feed", 0, 5), 0, 0, 0, 150).quota_left == 40
    assert ledger.rows_taken("feed", 0) == 60
    # Another epoch has a quota of its own.
    assert ledger.reserve(("feed", 1, 3), 0, 0, 150, 150).granted == 150
    with pytest.raises(ReservationError, match="one plan"):
        ledger.reserve(KEY, 0, start=60, rows=1, node_rows=151)


def test_a_retry_learns_the_ranges_taken_and_the_old_attempt_is_refused():
    ledger = PartitionLedger()
    ledger.reserve(KEY, 0, start=0, rows=100, node_rows=1000)
    ledger.check_current(KEY, 0)
    ledger.admit(KEY, 0, 40)
    ledger.admit(KEY, 0, 10)
    ledger.reserve(KEY, 0, start=100, rows=100, node_rows=1000)  # contiguous: one range
    ledger.admit(KEY, 0, 70)  # straddles the two reservations
    ledger.reserve(KEY, 0, start=500, rows=10, node_rows=1000)
    assert ledger.begin(KEY, 1) == [(0, 120)]  # attempt 0 died mid-stream; 500+ unsent
    with pytest.raises(SupersededError, match="belongs to attempt 1"):
        ledger.admit(KEY, 0, 10)  # a late batch of the old stream
    with pytest.raises(SupersededError):
        ledger.reserve(KEY, 0, start=120, rows=5, node_rows=1000)
    assert ledger.reserve(KEY, 1, 0, 0, 1000).outstanding == 0  # attempt 0's unsent rows freed
    with pytest.raises(ReservationError, match="overlap"):
        ledger.reserve(KEY, 1, start=100, rows=50, node_rows=1000)
    ledger.reserve(KEY, 1, start=120, rows=30, node_rows=1000)
    with pytest.raises(ReservationError, match="reserved only 30 more"):
        ledger.admit(KEY, 1, 31)
    ledger.admit(KEY, 1, 30)
    assert ledger.begin(KEY, 2) == [(0, 120), (120, 30)]
    with pytest.raises(SupersededError):
        ledger.begin(KEY, 0)  # an older attempt cannot take it back


def test_a_retry_that_skips_begin_here_takes_the_partition_over_on_reserve():
    ledger = PartitionLedger()
    ledger.reserve(KEY, 0, start=0, rows=10, node_rows=100)
    ledger.reserve(KEY, 1, start=50, rows=10, node_rows=100)
    with pytest.raises(SupersededError):
        ledger.admit(KEY, 0, 1)
    assert ledger.reserve(KEY, 1, 0, 0, 100).outstanding == 10


def test_a_stream_without_reserve_and_other_partitions_are_separate():
    ledger = PartitionLedger()
    with pytest.raises(SupersededError, match="before any Reserve"):
        ledger.check_current(KEY, 0)
    assert ledger.begin(("feed", 1, 3), 0) == []  # another epoch, same partition
    ledger.reserve(("feed", 0, 4), 0, 0, 5, 10)
    ledger.forget_feed("feed")
    assert ledger.begin(("feed", 0, 4), 5) == []
    assert ledger.reserve(("feed", 0, 4), 5, 0, 10, 10).granted == 10
