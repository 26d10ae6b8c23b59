"""The processes of a benchmark run: CPU time and peak RSS by kind (driver, executor JVMs,
sparktf nodes, Spark's Python workers), and ending what a run left behind, by pid. Every figure
covers this process and its descendants only, never anyone else's processes.

    baseline = child_pids()
    sampler = RssSampler().start(); sampler.phase("feed")
    cpu0 = cpu_by_kind(); ...; cpu_total(cpu_delta(cpu0))
    sampler.peaks("feed"); sampler.stop(); end_leftovers(baseline)
"""

from __future__ import annotations

import threading
import time
from typing import Any

from benchlib.rounds import log

# The standalone master and workers of a simulated cluster (``--hosts``): their own kind, so
# they count neither as the driver nor as executors.
SPARK_DAEMONS = ("org.apache.spark.deploy.master.Master", "org.apache.spark.deploy.worker.Worker")


def child_pids() -> set[int]:
    import psutil

    return {p.pid for p in psutil.Process().children(recursive=True)}


class RssSampler:
    """Samples the RSS of this process, the driver JVM, the executor JVMs, the sparktf nodes and
    Spark's Python workers (all descendants of this process) and keeps per-phase peaks."""

    def __init__(self, interval: float = 0.2) -> None:
        import psutil

        self._psutil = psutil
        self._me = psutil.Process()
        self._interval = interval
        self._phase = "setup"
        self._peaks: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._kinds: dict[int, str] = {}
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def phase(self, name: str) -> None:
        self._sample()
        with self._lock:
            self._phase = name

    def peaks(self, name: str) -> dict[str, float]:
        self._sample()
        with self._lock:
            return dict(self._peaks.get(name, {}))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _kind(self, p: Any) -> str | None:
        kind = self._kinds.get(p.pid)
        if kind is None:
            try:
                cmd = " ".join(p.cmdline())
            except (self._psutil.NoSuchProcess, self._psutil.AccessDenied):
                return None
            if "sparktf.node" in cmd:
                kind = "node"
            elif "CoarseGrainedExecutorBackend" in cmd:
                kind = "executor_jvm"
            elif any(d in cmd for d in SPARK_DAEMONS):
                kind = "spark_daemon"
            elif "SparkSubmit" in cmd or ("java" in cmd and p.ppid() == self._me.pid):
                kind = "driver_jvm"
            elif "pyspark" in cmd and ("daemon" in cmd or "worker" in cmd):
                kind = "spark_python_worker"
            else:
                kind = "other"
            self._kinds[p.pid] = kind
        return kind

    def _sample(self) -> None:
        ps = self._psutil
        try:
            samples = [("driver_python", self._me.pid, self._me.memory_info().rss)]
            for p in self._me.children(recursive=True):
                try:
                    kind = self._kind(p)
                    if kind and kind not in ("other", "spark_daemon"):
                        samples.append((kind, p.pid, p.memory_info().rss))
                except (ps.NoSuchProcess, ps.AccessDenied):
                    pass
        except ps.Error:
            return
        with self._lock:
            peaks = self._peaks.setdefault(self._phase, {})
            for kind, pid, rss in samples:
                key = kind if kind in ("driver_python", "driver_jvm") else f"{kind}:{pid}"
                peaks[key] = max(peaks.get(key, 0.0), rss / 2**20)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()


def cpu_by_kind() -> dict[str, float]:
    """CPU time (user + system) used so far by this process and every live descendant, by kind:
    driver (this Python and the driver JVM), executor JVMs, sparktf nodes, Spark's Python
    workers (and a simulated cluster's master and workers, ``spark_daemon``). On a shared
    machine wall time says how much CPU a run was given; CPU time says how much work it needed,
    and where."""
    import psutil

    me = psutil.Process()
    totals: dict[str, float] = {}
    for p in [me, *me.children(recursive=True)]:
        try:
            t = p.cpu_times()
            cmd = " ".join(p.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        kind = (
            "node"
            if "sparktf.node" in cmd
            else "executor_jvm"
            if "CoarseGrainedExecutorBackend" in cmd
            else "spark_daemon"
            if any(d in cmd for d in SPARK_DAEMONS)
            else "python_worker"
            if "pyspark" in cmd and ("daemon" in cmd or "worker" in cmd)
            else "driver"
        )
        totals[kind] = totals.get(kind, 0.0) + t.user + t.system
        # Kernel time apart: loopback networking is charged to the processes that do it.
        totals[f"{kind}_system"] = totals.get(f"{kind}_system", 0.0) + t.system
    return totals


def cpu_total(kinds: dict[str, float]) -> float:
    """The CPU seconds of a ``cpu_by_kind`` result or delta (the ``*_system`` entries are parts)."""
    return sum(v for k, v in kinds.items() if not k.endswith("_system"))


def cpu_delta(before: dict[str, float]) -> dict[str, float]:
    """CPU seconds by kind since ``before`` (a ``cpu_by_kind()``)."""
    now = cpu_by_kind()
    return {k: round(now[k] - before.get(k, 0.0), 3) for k in sorted(now)}


def leftover_descendants(baseline: set[int]) -> list[int]:
    return sorted(child_pids() - baseline)


def end_leftovers(baseline: set[int], grace_seconds: float = 15) -> None:
    """Waits up to ``grace_seconds`` for the processes this run started (descendants not in
    ``baseline``) to exit, then kills what is left, by pid."""
    import psutil

    deadline = time.time() + grace_seconds
    left = leftover_descendants(baseline)
    while left and time.time() < deadline:
        time.sleep(0.5)
        left = leftover_descendants(baseline)
    for pid in left:
        try:
            psutil.Process(pid).kill()
            log(f"killed leftover process {pid}")
        except psutil.NoSuchProcess:
            pass
