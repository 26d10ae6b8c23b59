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
from sparktf.node.parent_watch import watch_parent
watch_parent(poll_seconds=0.2)
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
def test_orphaned_child_exits_within_seconds(tmp_path):
    pid_file = tmp_path / "child.pid"
    # The middle process starts the child and exits at once, orphaning it.
    middle = subprocess.run(
        [sys.executable, "-c",
         "import subprocess, sys; subprocess.Popen([sys.executable, '-c', sys.argv[1], "
         "sys.argv[2]]); import time; time.sleep(1.5)", CHILD, str(pid_file)],
        env=dict(os.environ, PYTHONPATH=str(PYTHON_DIR)), timeout=30)
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
    finally:
        if _alive(pid):
            os.kill(pid, 9)
