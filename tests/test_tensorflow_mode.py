"""InputMode.TENSORFLOW: the nodes read their own data; sparktf only runs the cluster, and
shutdown() waits for the programs (the barrier tasks live as long as their nodes)."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest

from sparktf import InputMode, TFCluster
from sparktf.cluster import SparkTFError


def read_own_files(args: dict[str, Any], ctx: Any) -> None:
    """Each node 'reads its files' (here: computes its shard) and writes what it did."""
    import time as t

    if args.get("fail_on") == ctx.job_name:
        raise ValueError(f"cannot open the files of shard {ctx.worker_num}")
    t.sleep(args.get("work_seconds", 0))
    with open(os.path.join(args["out"], f"{ctx.job_name}-{ctx.task_index}.json"), "w") as f:
        json.dump(
            {
                "worker_num": ctx.worker_num,
                "num_workers": ctx.num_workers,
                "cluster": sorted(ctx.cluster_spec),
            },
            f,
        )


@pytest.mark.timeout(300)
def test_shutdown_waits_for_the_programs_to_finish(spark, tmp_path):
    started = time.monotonic()
    cluster = TFCluster.run(
        spark,
        read_own_files,
        {"out": str(tmp_path), "work_seconds": 3},
        num_executors=2,
        input_mode=InputMode.TENSORFLOW,
    )
    with pytest.raises(SparkTFError, match="InputMode.TENSORFLOW"):
        cluster.train(spark.range(4))
    cluster.shutdown(timeout=120)
    done = {name: json.loads((tmp_path / name).read_text()) for name in os.listdir(tmp_path)}
    assert sorted(done) == ["chief-0.json", "worker-0.json"]
    assert {d["worker_num"] for d in done.values()} == {0, 1}
    assert all(d["num_workers"] == 2 and d["cluster"] == ["chief", "worker"] for d in done.values())
    print(f"InputMode.TENSORFLOW cluster ran and shut down in {time.monotonic() - started:.1f} s")


@pytest.mark.timeout(300)
def test_a_failing_program_fails_shutdown_with_its_traceback(spark, tmp_path):
    cluster = TFCluster.run(
        spark,
        read_own_files,
        {"out": str(tmp_path), "fail_on": "worker"},
        num_executors=2,
        input_mode=InputMode.TENSORFLOW,
    )
    with pytest.raises(SparkTFError) as err:
        cluster.shutdown(timeout=120)
    message = str(err.value)
    assert "worker:0" in message and "cannot open the files of shard 1" in message
