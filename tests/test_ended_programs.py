"""A feed never passes for trained when no program took it: programs that returned or failed
make train() fail at once, naming the node; a DataFrame too small for the fed nodes is refused
before anything is fed and the cluster lives on; the caller's job description survives
train(); a reservation whose slots another job holds waits reservation_timeout, no longer.

The programs are tiny (no TensorFlow): what is tested is sparktf's driver side.
"""

from __future__ import annotations

import threading
import time

import pytest

from sparktf import InputMode, TFCluster
from sparktf.cluster import SparkTFError

FAIL_FAST_SECONDS = 30


def tfos_style(args, ctx):
    """TensorFlowOnSpark's loop: it reads one train() and returns."""
    import os

    feed = ctx.get_data_feed()
    while not feed.should_stop():
        feed.next_batch(100)
    with open(os.path.join(args["out"], f"{ctx.job_name}.returned"), "w"):
        pass


def returns_without_reading(args, ctx):
    feed = ctx.get_data_feed()
    feed.wait_schema(timeout=60)  # a train() has begun feeding this node
    time.sleep(0.5)


def raises_on_first_batch(args, ctx):
    feed = ctx.get_data_feed()
    feed.next_batch(10)
    raise ValueError("boom on the first batch")


def reads_feeds(args, ctx):
    feed = ctx.get_data_feed()
    for _ in range(args["feeds"]):
        while feed.next_batch(100):
            pass


def terminates_after_a_batch(args, ctx):
    feed = ctx.get_data_feed()
    feed.next_batch(100)
    feed.terminate()


def rows(spark, n=20000, partitions=4):
    return spark.range(0, n, 1, partitions).selectExpr("cast(id as double) as x")


def start(spark, main_fun, args=None, **kwargs):
    kwargs.setdefault("reservation_timeout", 60)
    return TFCluster.run(
        spark,
        main_fun,
        args or {},
        num_executors=2,
        input_mode=InputMode.SPARK,
        master_node="chief",
        feed_timeout=60,
        shutdown_timeout=60,
        **kwargs,
    )


def expect_failure(action):
    started = time.monotonic()
    with pytest.raises(SparkTFError) as info:
        action()
    elapsed = time.monotonic() - started
    print(f"time-to-error {elapsed:.1f} s: {info.value}")
    assert elapsed < FAIL_FAST_SECONDS, f"took {elapsed:.1f} s to fail"
    return str(info.value)


def stop_anyway(cluster):
    try:
        cluster.shutdown(timeout=10)
    except SparkTFError:
        pass


@pytest.mark.timeout(180)
def test_a_tfos_style_program_makes_the_second_train_fail_naming_the_nodes(spark, tmp_path):
    cluster = start(spark, tfos_style, {"out": str(tmp_path)})
    try:
        first = cluster.train(rows(spark))
        assert first["rows_total"] == 20000
        deadline = time.monotonic() + 30
        while len(list(tmp_path.glob("*.returned"))) < 2:
            assert time.monotonic() < deadline, "the programs did not return after their feed"
            time.sleep(0.1)
        message = expect_failure(lambda: cluster.train(rows(spark)))
        assert "2 of 2 fed nodes' programs have returned" in message, message
        assert "chief:0" in message and "worker:0" in message, message
        assert "nothing was fed" in message and "should_stop()" in message, message
        # Refused before anything was fed: the cluster is as it was, and shuts down cleanly.
        cluster.shutdown(timeout=30)
    finally:
        stop_anyway(cluster)


@pytest.mark.timeout(180)
def test_a_program_that_returns_mid_feed_fails_train_naming_the_node(spark, tmp_path):
    """The second train() races the programs' return: it is refused, or it fails as the
    programs return under it; it never reports rows that no program took."""
    cluster = start(spark, tfos_style, {"out": str(tmp_path)}, queue_capacity=2)
    try:
        cluster.train(rows(spark, 2000))
        message = expect_failure(lambda: cluster.train(rows(spark, 200000, 8)))
        assert "returned" in message and ("chief:0" in message or "worker:0" in message), message
    finally:
        stop_anyway(cluster)


@pytest.mark.timeout(180)
def test_a_program_that_returns_without_reading_fails_train(spark):
    # Two chunks a node at most: the feed cannot be delivered before the program returns.
    cluster = start(spark, returns_without_reading, queue_capacity=2)
    try:
        message = expect_failure(lambda: cluster.train(rows(spark, 200000, 8), num_epochs=2))
        assert "its program returned after taking 0 of the 200000 rows" in message, message
        assert "chief:0" in message and "worker:0" in message, message
        assert "feed.terminate()" in message
    finally:
        stop_anyway(cluster)


@pytest.mark.timeout(180)
def test_a_program_that_raises_on_its_first_batch_fails_the_very_next_train(spark):
    cluster = start(spark, raises_on_first_batch)
    try:
        try:  # the feed may end before the programs raise: then this one returns
            cluster.train(rows(spark, 2000))
            message = expect_failure(lambda: cluster.train(rows(spark, 2000)))
        except SparkTFError as e:
            message = str(e)
        assert "ValueError: boom on the first batch" in message, message
        assert "Traceback" in message and ("chief:0" in message or "worker:0" in message)
    finally:
        stop_anyway(cluster)


@pytest.mark.timeout(180)
def test_a_too_small_dataframe_is_refused_and_the_cluster_lives_on(spark):
    sc = spark.sparkContext
    sc.setJobDescription("the caller's own jobs")
    cluster = start(spark, reads_feeds, {"feeds": 1})
    try:
        for n in (0, 1):
            message = expect_failure(lambda n=n: cluster.train(rows(spark, n, 1)))
            assert f"the DataFrame has {n} rows for 2 fed nodes" in message, message
            assert sc.getLocalProperty("spark.job.description") == "the caller's own jobs"
        report = cluster.train(rows(spark, 1000))
        assert report["rows_total"] == 1000 and report["epochs"] == 1
        assert sc.getLocalProperty("spark.job.description") == "the caller's own jobs"
        cluster.shutdown(timeout=30)
    finally:
        stop_anyway(cluster)
        sc.setJobDescription(None)


@pytest.mark.timeout(180)
def test_after_terminate_the_report_counts_rows_the_programs_took(spark):
    cluster = start(spark, terminates_after_a_batch, queue_capacity=2)
    try:
        report = cluster.train(rows(spark, 200000, 8), num_epochs=3)
        cluster.shutdown(timeout=30)
    finally:
        stop_anyway(cluster)
    assert report["terminated"] is True
    assert report["epochs"] == 1
    # Each program took a chunk or two of its queue; far fewer rows than were sent.
    assert 0 < report["rows_total"] < 200000, report
    assert report["shared_memory_rows"] <= report["rows_total"], report


def noop(args, ctx):
    pass


@pytest.mark.timeout(240)
def test_a_reservation_waits_for_busy_slots_only_reservation_timeout(spark):
    sc = spark.sparkContext
    busy = threading.Event()
    done = threading.Event()

    def occupy():
        sc.setJobGroup("sparktf-test-occupy", "holds every task slot", interruptOnCancel=True)
        try:
            sc.parallelize(range(2), 2).map(lambda x: time.sleep(120) or x).collect()
        except Exception as e:  # noqa: BLE001 - cancelled below, as intended
            print(f"the occupying job ended: {type(e).__name__}")
        finally:
            done.set()

    thread = threading.Thread(target=occupy, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not busy.is_set():
        tracker = sc.statusTracker()
        stages = [tracker.getStageInfo(s) for s in tracker.getActiveStageIds()]
        if sum(s.numActiveTasks for s in stages if s) >= 2:
            busy.set()
        time.sleep(0.2)
    assert busy.is_set(), "the occupying job did not take both slots"
    try:
        started = time.monotonic()
        with pytest.raises(SparkTFError) as info:
            start(spark, noop, reservation_timeout=5)
        elapsed = time.monotonic() - started
        message = str(info.value)
        print(f"refused after {elapsed:.1f} s: {message}")
        assert elapsed < 5 + 25, f"the reservation waited {elapsed:.1f} s"
        assert "reservation_timeout" in message and "free task slots" in message, message
        assert "other jobs hold their slots" in message
    finally:
        sc.cancelJobGroup("sparktf-test-occupy")
        assert done.wait(60), "the occupying job did not end"
        thread.join(10)
    # Nothing was left behind: no job of the reservation, and a cluster starts as usual.
    deadline = time.monotonic() + 15  # the status store hears of cancelled jobs a bit later
    while list(sc.statusTracker().getActiveJobsIds()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert list(sc.statusTracker().getActiveJobsIds()) == []
    cluster = start(spark, noop)
    cluster.shutdown(timeout=30)
