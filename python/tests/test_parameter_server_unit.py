"""serve(): refuses nodes it cannot serve with errors that say why, starts TensorFlow's server
on the TF_CONFIG port, fails clearly when that port is taken, and returns when the chief ends."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
from fake_chief import FakeChief

from sparktf.node.context import NodeContext
from sparktf.program.parameter_server import ServerStartError, serve


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def ctx_for(job: str, spec: dict[str, list[str]], fed: bool = False) -> NodeContext:
    return NodeContext(
        job_name=job,
        task_index=0,
        worker_num=0,
        num_workers=2,
        cluster_spec=spec,
        cluster_id="c",
        executor_id="1",
        model_dir=None,
        export_dir=None,
        checkpoint_dir=None,
        working_dir="/tmp",
        data_feed=object() if fed else None,
    )  # type: ignore[arg-type]


def use_tf_config(monkeypatch, spec: dict[str, list[str]], job: str) -> None:
    monkeypatch.setenv(
        "TF_CONFIG", json.dumps({"cluster": spec, "task": {"type": job, "index": 0}})
    )


SPEC = {"chief": ["127.0.0.1:1"], "ps": ["127.0.0.1:2"], "worker": ["127.0.0.1:3"]}


def test_the_chief_is_refused_it_runs_the_coordinator():
    with pytest.raises(ValueError, match="this node is chief:0: the chief runs the coordinator"):
        serve(ctx_for("chief", SPEC))


def test_a_worker_fed_by_spark_is_refused_naming_input_mode_tensorflow():
    with pytest.raises(RuntimeError, match="InputMode.SPARK.*input_mode=InputMode.TENSORFLOW"):
        serve(ctx_for("worker", SPEC, fed=True))


def test_a_cluster_without_chief_is_refused():
    with pytest.raises(ValueError, match="has no chief.*master_node='chief'"):
        serve(ctx_for("ps", {"ps": ["127.0.0.1:2"], "worker": ["127.0.0.1:3"]}))


@pytest.mark.timeout(120)
def test_a_taken_port_is_a_clear_error(monkeypatch):
    taken = socket.socket()
    taken.bind(("0.0.0.0", 0))
    taken.listen(1)
    try:
        spec = {
            "chief": [f"127.0.0.1:{free_port()}"],
            "ps": [f"127.0.0.1:{taken.getsockname()[1]}"],
        }
        use_tf_config(monkeypatch, spec, "ps")
        with pytest.raises(
            ServerStartError,
            match=r"node ps:0 could not start TensorFlow's "
            rf"server on {spec['ps'][0]} \(its TF_CONFIG address\)",
        ):
            serve(ctx_for("ps", spec), chief_start_timeout=30)
    finally:
        taken.close()


@pytest.mark.timeout(120)
def test_serves_on_the_tf_config_port_until_the_chief_ends(monkeypatch):
    chief = FakeChief()
    spec = {"chief": [chief.address], "ps": [f"127.0.0.1:{free_port()}"]}
    use_tf_config(monkeypatch, spec, "ps")
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            serve(ctx_for("ps", spec), poll_seconds=0.1)
            outcome.append(None)
        except BaseException as e:  # noqa: B036 - the test reports it
            outcome.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ps_port = int(spec["ps"][0].rsplit(":", 1)[1])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # TensorFlow's import takes a while
        try:
            socket.create_connection(("127.0.0.1", ps_port), 1).close()
            break
        except OSError:
            assert not outcome, f"serve() ended before listening: {outcome}"
            time.sleep(0.2)
    else:
        pytest.fail("the ps server never listened on its TF_CONFIG port")
    time.sleep(1.0)  # several polls of a live chief
    assert not outcome, f"serve() ended while the chief was up: {outcome}"
    chief.close()
    thread.join(30)
    assert outcome == [None], f"serve() did not return cleanly after the chief ended: {outcome}"


@pytest.mark.timeout(60)
def test_stop_requested_ends_serve(monkeypatch):
    chief = FakeChief()
    try:
        spec = {"chief": [chief.address], "worker": [f"127.0.0.1:{free_port()}"]}
        use_tf_config(monkeypatch, spec, "worker")
        ctx = ctx_for("worker", spec)
        threading.Timer(1.0, ctx.stop_requested.set).start()
        started = time.monotonic()
        serve(ctx, poll_seconds=0.1)
        assert time.monotonic() - started < 30
    finally:
        chief.close()
