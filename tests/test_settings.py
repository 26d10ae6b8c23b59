"""Settings a cluster cannot run with are refused before anything starts (no Spark job, no node
process), each with an error that says what to change. The Spark-side checks (dynamic allocation,
task slots per executor) are unit-tested in ClusterSettingsSuite without a SparkContext; here they
are reached from Python through the same JVM entry point with a SparkConf of their own."""

from __future__ import annotations

import json
import time

import pytest

from sparktf import TFCluster
from sparktf.cluster import SparkTFError, _call, _jvm_class


def noop(args, ctx):
    pass


@pytest.fixture
def nothing_starts(spark):
    """Asserts that the test ran no Spark job and took no time waiting."""
    tracker = spark.sparkContext.statusTracker()
    jobs = set(tracker.getJobIdsForGroup(None))
    started = time.monotonic()
    yield
    assert time.monotonic() - started < 5, "a refused setting took seconds: something waited"
    assert set(tracker.getJobIdsForGroup(None)) == jobs, "a Spark job ran for refused settings"


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        (
            dict(num_executors=2, num_ps=2),
            "num_executors=2 leaves no worker after num_ps=2, master_node='chief': "
            "ask for at least 3 executors or fewer ps",
        ),
        (
            dict(num_executors=2, master_node="boss"),
            "master_node 'boss' is not a role sparktf knows: use 'chief', or none",
        ),
        (
            dict(num_executors=2, master_node="master"),
            "master_node 'master' is TensorFlow 1's name for the chief, "
            "which TensorFlow 2 no longer accepts in TF_CONFIG: use master_node='chief'",
        ),
        (dict(num_executors=0), "num_executors is 0: a cluster needs at least 1"),
        (
            dict(num_executors=2, reservation_timeout=-1),
            "reservation_timeout is -1.0: it must be a positive number of seconds",
        ),
    ],
)
def test_bad_cluster_settings_are_refused_before_anything_starts(
    spark, nothing_starts, kwargs, expected
):
    with pytest.raises(SparkTFError) as info:
        TFCluster.run(spark, noop, {}, **kwargs)
    assert expected in str(info.value)


@pytest.mark.parametrize(
    "settings, master, expected",
    [
        (
            {"spark.dynamicAllocation.enabled": "true"},
            "spark://127.0.0.1:7077",
            "set spark.dynamicAllocation.enabled=false",
        ),
        (
            {},
            "local-cluster[1,2,1024]",
            "executors have 2 cores and spark.task.cpus is 1, so each runs 2 tasks at once; "
            "sparktf needs exactly one task slot per executor (one TensorFlow node each): "
            "set spark.task.cpus=2 or spark.executor.cores=1",
        ),
    ],
)
def test_spark_settings_are_refused_with_what_to_change(
    spark, nothing_starts, settings, master, expected
):
    jvm = spark.sparkContext._jvm
    conf = jvm.org.apache.spark.SparkConf(False)
    for key, value in settings.items():
        conf.set(key, value)
    config = _jvm_class(spark, "io.sparktf.ClusterConfig").fromJson(
        json.dumps({"num_executors": 2})
    )
    checker = _jvm_class(spark, "io.sparktf.cluster.ClusterSettings")
    with pytest.raises(SparkTFError) as info:
        _call(checker.check, conf, master, config)
    assert expected in str(info.value)
