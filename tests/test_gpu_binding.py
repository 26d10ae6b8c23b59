"""GPU binding through Spark's resource scheduling: each node's CUDA_VISIBLE_DEVICES is the GPUs
Spark gave its reservation task, mapped through the executor's own CUDA_VISIBLE_DEVICES; a ps
gets none unless ``ps_gpus=True``; without a "gpu" resource nothing is touched.

No GPU is needed: a fake discovery script (tests/programs/gpu_discovery.sh) reports two per
worker. That cluster needs its own SparkSession, so it runs in a driver subprocess
(tests/programs/gpu_binding_driver.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from sparktf import InputMode, TFCluster

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, "programs", "gpu_binding_driver.py")
DISCOVERY = os.path.join(HERE, "programs", "gpu_discovery.sh")


def expected_devices(gpus: list[str], executor_visible: str) -> str:
    devices = executor_visible.split(",")
    return ",".join(devices[int(a)] for a in gpus)


@pytest.fixture(scope="module")
def gpu_run(tmp_path_factory, spark_env):
    out = tmp_path_factory.mktemp("gpu")
    env = dict(
        spark_env,
        PYTHONPATH=os.pathsep.join(
            [os.path.join(os.path.dirname(HERE), "python"), spark_env.get("PYTHONPATH", "")]
        ),
    )
    env.pop("CUDA_VISIBLE_DEVICES", None)  # the driver gives the executors their own
    env["SPARKTF_TEST_GPU_STATE"] = str(tmp_path_factory.mktemp("gpu-discovery"))
    proc = subprocess.run(
        [sys.executable, DRIVER, DISCOVERY, str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    (out / "driver.log").write_text(proc.stdout + proc.stderr)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, (
        f"driver exited with {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    )
    return json.loads(lines[-1][len("RESULT ") :])


def check_node(node: dict, result: dict, gets_gpus: bool) -> None:
    owned = result["executor_gpus"][str(node["seen"]["executor_pid"])]
    print(
        f"{node['role']}: Spark gave {node['gpus']} (its executor's tasks get {owned}), "
        f"CUDA_VISIBLE_DEVICES={node['seen']['cuda_visible_devices']!r}"
    )
    assert [node["gpus"]] == owned, node
    expected = (
        expected_devices(node["gpus"], result["executor_visible_devices"]) if gets_gpus else ""
    )
    assert node["cuda_visible_devices"] == expected, node
    assert node["seen"]["cuda_visible_devices"] == expected, node


@pytest.mark.timeout(450)
def test_workers_see_the_gpus_spark_gave_their_task(gpu_run):
    # Workers with GPUs 0,1 and 2,3, one executor each with the first: the nodes must differ.
    assert sorted(a for owned in gpu_run["executor_gpus"].values() for [a] in owned) == ["0", "2"]
    nodes = gpu_run["workers"]
    assert sorted(n["role"] for n in nodes) == ["chief:0", "worker:0"]
    for node in nodes:
        check_node(node, gpu_run, gets_gpus=True)
    assert {n["cuda_visible_devices"] for n in nodes} == {"6", "8"}


def test_a_ps_sees_no_gpu_unless_asked(gpu_run):
    for key, ps_gets in (("ps", False), ("ps_gpus", True)):
        nodes = {n["role"]: n for n in gpu_run[key]}
        assert sorted(nodes) == ["chief:0", "ps:0"]
        check_node(nodes["chief:0"], gpu_run, gets_gpus=True)
        check_node(nodes["ps:0"], gpu_run, gets_gpus=ps_gets)


def record_gpus(args, ctx):
    import os

    with open(os.path.join(args["out"], ctx.job_name), "w") as fh:
        fh.write(repr(os.environ.get("CUDA_VISIBLE_DEVICES")))


def test_no_gpu_resource_leaves_cuda_visible_devices_alone(spark, tmp_path):
    cluster = TFCluster.run(
        spark,
        record_gpus,
        {"out": str(tmp_path)},
        num_executors=2,
        input_mode=InputMode.SPARK,
        reservation_timeout=60,
        shutdown_timeout=60,
    )
    nodes = cluster.nodes
    cluster.shutdown()
    assert all(n["gpus"] == [] and n["cuda_visible_devices"] is None for n in nodes), nodes
    # The executors inherit this process's environment (local-cluster workers live in the
    # driver JVM, started from here).
    inherited = repr(os.environ.get("CUDA_VISIBLE_DEVICES"))
    for role in ("chief", "worker"):
        assert (tmp_path / role).read_text() == inherited
