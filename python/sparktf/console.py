"""What the driver's console shows while a cluster runs: the nodes' output lines
(``[chief:0] Epoch 1/3 ...``), the TensorBoard URL once known and ``train()``'s progress, all
read from the JVM (``TFClusterBridge.console``: ``io.sparktf.cluster.NodeConsole``,
``TFCluster.tensorboardUrl`` and ``io.sparktf.feed.FeedProgress``), which decides what there is
to show; this module only prints.

In a terminal or a notebook the progress is a ``tqdm`` bar; when the output is not interactive
(a log file, CI) it is a line every ``LOG_SECONDS`` and at each epoch's end. Example::

    console = ClusterConsole(lambda: bridge.console(jcluster), show_progress=True).start()
    ...                       # cluster.train(df) runs; lines and progress appear
    console.poll()            # what is there now, e.g. right after train() returned
    console.stop()
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

POLL_SECONDS = 0.5
# Polls in a row that fail (the session stopped) before the thread gives up.
MAX_POLL_FAILURES = 10
# Plain progress lines, when the output is not interactive, at most this often.
LOG_SECONDS = 10.0


def interactive() -> bool:
    """A terminal, or a notebook kernel (whose output is not a tty but shows a bar)."""
    if "ipykernel" in sys.modules:
        return True
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


class ProgressView:
    """One ``train()``'s progress at a time: a bar when interactive, else plain lines."""

    def __init__(self, interactive_output: bool) -> None:
        self._interactive = interactive_output
        self._bar: Any = None
        self._train = 0
        self._last_line = 0.0
        self._epoch = 0
        self._done = False

    def show(self, p: dict[str, Any]) -> None:
        if p["train"] != self._train:
            self.close()
            self._train, self._epoch, self._done, self._last_line = p["train"], 0, False, 0.0
        if self._done:
            return
        if self._interactive:
            self._show_bar(p)
        else:
            now = time.monotonic()
            if p["done"] or p["epoch"] != self._epoch or now - self._last_line >= LOG_SECONDS:
                print(f"sparktf: train {p['train']}: {p['text']}", file=sys.stderr, flush=True)
                self._last_line = now
        self._epoch = p["epoch"]
        if p["done"]:
            self._done = True
            self.close()

    def _show_bar(self, p: dict[str, Any]) -> None:
        if self._bar is None:
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=p["rows_total"], unit="rows", unit_scale=True, dynamic_ncols=True, leave=True
            )
        self._bar.set_description(f"sparktf epoch {p['epoch']}/{p['epochs']}", refresh=False)
        self._bar.update(p["rows_fed"] - self._bar.n)

    def write(self, line: str) -> None:
        """A line above the bar (tqdm keeps the bar below it)."""
        if self._bar is not None:
            self._bar.write(line, file=sys.stdout)
        else:
            print(line, file=sys.stdout, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class ClusterConsole:
    """Polls ``read()`` (the JVM's console JSON) every ``POLL_SECONDS`` in a daemon thread."""

    def __init__(self, read: Callable[[], str], show_progress: bool) -> None:
        self._read = read
        self._show_progress = show_progress
        self._view = ProgressView(interactive())
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._tensorboard_url: str | None = None
        self._thread = threading.Thread(target=self._run, name="sparktf-console", daemon=True)

    def start(self) -> ClusterConsole:
        self._thread.start()
        return self

    def _run(self) -> None:
        failures = 0
        while not self._stopped.wait(POLL_SECONDS):
            try:
                self.poll()
                failures = 0
            except Exception:  # noqa: BLE001 - the session went away: nothing more to show
                failures += 1
                if failures >= MAX_POLL_FAILURES:
                    return

    def poll(self) -> None:
        """Prints the lines and progress the JVM has now."""
        with self._lock:
            state = json.loads(self._read())
            for line in state["lines"]:
                self._view.write(line)
            url = state.get("tensorboard_url")
            if url and url != self._tensorboard_url:
                self._tensorboard_url = url
                self._view.write(f"sparktf: TensorBoard serves every node's runs at {url}")
            if self._show_progress and state["progress"] is not None:
                self._view.show(state["progress"])

    def refresh(self) -> None:
        """``poll()``, quiet when the session has gone."""
        try:
            self.poll()
        except Exception:  # noqa: BLE001 - the session went away: nothing more to show
            pass

    def stop(self) -> None:
        """Stops polling after one last read."""
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(POLL_SECONDS * 4 + 10)
        self.refresh()
        self._view.close()
