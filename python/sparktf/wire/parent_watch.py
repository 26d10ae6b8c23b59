"""The node dies with its executor JVM: no orphaned TensorFlow processes."""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time

PARENT_GONE_EXIT_CODE = 3


def watch_parent(
    poll_seconds: float = 1.0,
    exit_code: int = PARENT_GONE_EXIT_CODE,
    what: str = "the executor JVM",
    leftovers: tuple[str, ...] = (),
) -> threading.Thread:
    """Start a daemon thread that exits the process when the current parent is gone, first
    removing the ``leftovers`` directories the parent would have removed."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(poll_seconds)
            # A dead parent's children are re-parented (to init or a subreaper).
            if os.getppid() != parent:
                try:
                    for path in leftovers:
                        shutil.rmtree(path, ignore_errors=True)
                    # The parent read our stderr: writing to it now may raise BrokenPipeError.
                    sys.stderr.write(f"sparktf node: {what} (pid {parent}) is gone; exiting\n")
                    sys.stderr.flush()
                finally:
                    os._exit(exit_code)

    thread = threading.Thread(target=watch, name="sparktf-parent-watch", daemon=True)
    thread.start()
    return thread
