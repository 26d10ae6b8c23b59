"""``sparktf.run(fn, n)`` (Scala ``TFCluster.runFunction``): fn(ctx) on n barrier slots with
TF_CONFIG, the chief's return value back on the driver, failures as a cluster's."""

import json

import pytest

import sparktf
from sparktf.cluster import SparkTFError


def report(ctx):
    import os

    config = json.loads(os.environ["TF_CONFIG"])
    return {"task": config["task"], "cluster": sorted(config["cluster"]), "feed": ctx.takes_data}


@pytest.mark.timeout(300)
def test_run_returns_the_chiefs_value_and_every_node_had_tf_config(spark):
    value = sparktf.run(report, 2, spark)
    assert value == {
        "task": {"type": "chief", "index": 0},
        "cluster": ["chief", "worker"],
        "feed": False,
    }
    # Workers only: worker:0 acts as chief, and its value comes back.
    alone = sparktf.run(report, 2, spark, master_node=None)
    assert alone["task"] == {"type": "worker", "index": 0}


def fail_on_worker(ctx):
    if ctx.job_name == "worker":
        raise ValueError("worker says no")
    import time

    time.sleep(60)  # the chief would outlive the test if the failure did not stop it
    return "never"


@pytest.mark.timeout(300)
def test_a_failing_node_fails_the_run_naming_it_with_its_traceback(spark):
    with pytest.raises(SparkTFError) as e:
        sparktf.run(fail_on_worker, 2, spark)
    assert "worker:0" in str(e.value) and "ValueError: worker says no" in str(e.value)


def big(ctx):
    return b"x" * 4096


@pytest.mark.timeout(300)
def test_a_return_value_over_max_result_bytes_is_refused_with_its_size(spark):
    with pytest.raises(SparkTFError) as e:
        sparktf.run(big, 2, spark, max_result_bytes=1024)
    assert "over max_result_bytes (1024)" in str(e.value), str(e.value)
    with pytest.raises(TypeError, match="input_mode"):
        sparktf.run(big, 2, spark, input_mode=1)
