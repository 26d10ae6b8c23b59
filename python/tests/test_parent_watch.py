"""The node exits when its parent goes away."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

PYTHON_DIR = Path(__file__).resolve().parents[1]

CHILD = """
import os, sys, time
from sparktf.wire.parent_watch import watch_parent
watch_parent(poll_seconds=0.2, leftovers=(sys.argv[2],))
open(sys.argv[1], "w").write(str(os.getpid()))
time.sleep(30)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); its state letter tells.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@pytest.mark.timeout(60)
def test_orphaned_child_exits_within_seconds_and_removes_its_leftovers(tmp_path):
    pid_file = tmp_path / "child.pid"
    leftover = tmp_path / "shared"
    (leftover / "batch-0").parent.mkdir()
    (leftover / "batch-0").write_bytes(b"x")
    # The middle process starts the child and exits at once, orphaning it. The child's stderr
    # is a pipe only the middle process read, as a node's is the executor JVM's: writing to it
    # after the parent is gone fails, which must not keep the child from cleaning up.
    middle = subprocess.run(
        [
            sys.executable,
            "-c",
            "import subprocess, sys; subprocess.Popen([sys.executable, '-c', sys.argv[1], "
            "sys.argv[2], sys.argv[3]], stderr=subprocess.PIPE); import time; time.sleep(1.5)",
            CHILD,
            str(pid_file),
            str(leftover),
        ],
        env=dict(os.environ, PYTHONPATH=str(PYTHON_DIR)),
        timeout=30,
    )
    assert middle.returncode == 0
    deadline = time.monotonic() + 10
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.05)
    pid = int(pid_file.read_text())
    try:
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(pid), "the orphaned child is still running"
        assert not leftover.exists(), "the orphaned child left its shared directory behind"
    finally:
        if _alive(pid):
            os.kill(pid, 9)
