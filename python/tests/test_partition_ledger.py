"""The ledger that makes retried feed tasks exactly-once."""

import pytest

from sparktf.node.partition_ledger import PartitionLedger, SupersededError

KEY = ("feed", 0, 3)


def test_a_retry_learns_the_rows_taken_and_the_old_attempt_is_refused():
    ledger = PartitionLedger()
    assert ledger.begin(KEY, 0) == (0, False)
    ledger.check_current(KEY, 0)
    ledger.admit(KEY, 0, 100)
    ledger.admit(KEY, 0, 50)
    assert ledger.begin(KEY, 1) == (150, False)  # attempt 0 died mid-stream
    with pytest.raises(SupersededError, match="belongs to attempt 1"):
        ledger.admit(KEY, 0, 10)  # a late batch of the old stream
    ledger.admit(KEY, 1, 25)
    ledger.finish(KEY, 1)
    assert ledger.begin(KEY, 2) == (175, True)  # complete: a further retry sends nothing
    with pytest.raises(SupersededError, match="delivered whole"):
        ledger.check_current(KEY, 2)
    with pytest.raises(SupersededError):
        ledger.begin(KEY, 0)  # an older attempt cannot take it back


def test_a_stream_without_begin_and_other_partitions_are_separate():
    ledger = PartitionLedger()
    with pytest.raises(SupersededError, match="without BeginPartition"):
        ledger.check_current(KEY, 0)
    assert ledger.begin(("feed", 1, 3), 0) == (0, False)  # another epoch, same partition
    assert ledger.begin(("feed", 0, 4), 0) == (0, False)
    ledger.forget_feed("feed")
    assert ledger.begin(("feed", 0, 4), 5) == (0, False)
