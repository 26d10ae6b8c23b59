"""TensorBoard: ``tensorboard=True`` starts it in the chief's node process (worker:0 without a
chief); its URL reaches the driver, answers while the cluster runs and stops with it."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request

from sparktf import InputMode, TFCluster

STOP_SECONDS = 10


def record_log_dir(args, ctx):
    import json
    import os

    with open(os.path.join(args["out"], f"{ctx.job_name}-{ctx.task_index}"), "w") as fh:
        fh.write(ctx.log_dir)
    with open(os.path.join(args["out"], f"{ctx.job_name}-{ctx.task_index}.json"), "w") as fh:
        json.dump({"executor_id": ctx.executor_id, "is_chief": ctx.is_chief}, fh)


def recorded(out, role: str) -> dict:
    return json.loads((out / f"{role.replace(':', '-')}.json").read_text())


def answers(url: str) -> bool:
    """True unless the connection is refused (nothing listens); raises on a status other than
    200. A connection cut while the server stops also counts as answering: ask again."""
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            assert r.status == 200, f"TensorBoard at {url} answered {r.status}"
            return True
    except urllib.error.URLError as e:
        if isinstance(e.reason, ConnectionRefusedError):
            return False
        raise
    except (ConnectionError, TimeoutError):
        return True


def run_and_check(spark, out, **kwargs):
    """Starts a two-node cluster with TensorBoard, checks its URL while it runs and after
    shutdown; returns (url, the nodes, seconds run() took)."""
    started = time.monotonic()
    cluster = TFCluster.run(
        spark,
        record_log_dir,
        {"out": str(out)},
        num_executors=2,
        input_mode=InputMode.SPARK,
        tensorboard=True,
        reservation_timeout=60,
        shutdown_timeout=60,
        **kwargs,
    )
    run_seconds = time.monotonic() - started
    try:
        url = cluster.tensorboard_url
        nodes = cluster.nodes
        assert url and url.startswith("http://127.0.0.1:"), url
        assert answers(url), f"TensorBoard at {url} did not answer 200"
    finally:
        cluster.shutdown()
    deadline = time.monotonic() + STOP_SECONDS
    while answers(url):
        assert time.monotonic() < deadline, (
            f"TensorBoard at {url} still answers {STOP_SECONDS} s after shutdown"
        )
        time.sleep(0.2)
    return url, nodes, run_seconds


def test_chief_serves_model_dir_tensorboard(spark, tmp_path):
    model_dir = tmp_path / "model"
    url, nodes, seconds = run_and_check(spark, tmp_path, model_dir=str(model_dir))
    print(f"TFCluster.run with tensorboard took {seconds:.1f} s; TensorBoard at {url}")
    by_role = {n["role"]: n for n in nodes}
    assert by_role["chief:0"]["tensorboard_url"] == url
    assert by_role["worker:0"]["tensorboard_url"] is None
    expected = str(model_dir / "tensorboard")
    # Each node writes its own run under the log dir TensorBoard serves.
    assert (tmp_path / "chief-0").read_text() == os.path.join(expected, "chief-0")
    assert (tmp_path / "worker-0").read_text() == os.path.join(expected, "worker-0")
    # ctx.executor_id is the id of the executor that runs the node.
    for role, node in by_role.items():
        assert recorded(tmp_path, role)["executor_id"] == node["executor_id"], role
    assert recorded(tmp_path, "chief:0")["is_chief"]
    assert not recorded(tmp_path, "worker:0")["is_chief"]
    assert os.path.isdir(expected)  # made by the chief, ready for summaries


def test_without_a_chief_worker_0_serves_log_dir(spark, tmp_path):
    log_dir = tmp_path / "logs"
    url, nodes, _ = run_and_check(spark, tmp_path, master_node=None, log_dir=str(log_dir))
    by_role = {n["role"]: n for n in nodes}
    assert by_role["worker:0"]["tensorboard_url"] == url
    assert by_role["worker:1"]["tensorboard_url"] is None
    assert (tmp_path / "worker-0").read_text() == str(log_dir / "worker-0")
    # worker:0 acts as chief: TensorBoard, exports and checkpoints are its job.
    assert recorded(tmp_path, "worker:0")["is_chief"]
    assert not recorded(tmp_path, "worker:1")["is_chief"]


def test_no_tensorboard_unless_asked(spark, tmp_path):
    cluster = TFCluster.run(
        spark,
        record_log_dir,
        {"out": str(tmp_path)},
        num_executors=2,
        input_mode=InputMode.SPARK,
        reservation_timeout=60,
    )
    try:
        assert cluster.tensorboard_url is None
        assert all(n["tensorboard_url"] is None for n in cluster.nodes)
    finally:
        cluster.shutdown()
    # ctx.log_dir is there anyway: a folder in the node's working directory.
    assert (tmp_path / "chief-0").read_text().endswith(os.path.join("", "tensorboard", "chief-0"))


def write_scalars(args, ctx):
    import tensorflow as tf

    writer = tf.summary.create_file_writer(ctx.log_dir)
    with writer.as_default():
        for step in range(3):
            tf.summary.scalar("loss", 1.0 / (step + 1), step=step)
    writer.flush()


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def test_every_workers_summaries_appear_in_tensorboard(spark, tmp_path):
    log_dir = tmp_path / "logs"
    cluster = TFCluster.run(
        spark,
        write_scalars,
        {},
        num_executors=2,
        master_node=None,
        tensorboard=True,
        log_dir=str(log_dir),
        reservation_timeout=60,
        shutdown_timeout=120,
    )
    try:
        url = cluster.tensorboard_url
        # TensorBoard reloads its log dir every 5 s: ask until both runs are there.
        deadline = time.monotonic() + 90
        tags: dict = {}
        while time.monotonic() < deadline:
            tags = get_json(url + "data/plugin/scalars/tags")
            if all("loss" in tags.get(run, {}) for run in ("worker-0", "worker-1")):
                break
            time.sleep(1)
        assert set(tags) >= {"worker-0", "worker-1"}, f"TensorBoard lists runs {sorted(tags)}"
        assert set(get_json(url + "data/runs")) >= {"worker-0", "worker-1"}
        for run in ("worker-0", "worker-1"):
            points = get_json(url + f"data/plugin/scalars/scalars?run={run}&tag=loss")
            assert [p[1] for p in points] == [0, 1, 2], (run, points)
    finally:
        cluster.shutdown()


def wait_for_release(args, ctx):
    import os
    import time

    deadline = time.monotonic() + 120
    while not os.path.exists(args["release"]) and time.monotonic() < deadline:
        time.sleep(0.2)


def test_input_mode_tensorflow_reports_the_url_while_the_programs_run(spark, tmp_path, capsys):
    release = tmp_path / "release"
    cluster = TFCluster.run(
        spark,
        wait_for_release,
        {"release": str(release)},
        num_executors=2,
        input_mode=InputMode.TENSORFLOW,
        tensorboard=True,
        log_dir=str(tmp_path / "logs"),
        reservation_timeout=60,
        shutdown_timeout=120,
    )
    try:
        # The URL rides on the executor's heartbeat (every 10 s by default).
        deadline = time.monotonic() + 60
        while cluster.tensorboard_url is None and time.monotonic() < deadline:
            time.sleep(0.5)
        url = cluster.tensorboard_url
        assert url and url.startswith("http://127.0.0.1:"), url
        assert answers(url)
    finally:
        release.write_text("done")
        cluster.shutdown()
    out, _ = capsys.readouterr()
    assert f"sparktf: TensorBoard serves every node's runs at {url}" in out.splitlines()
