"""A simulated multi-host Spark standalone cluster on one machine, for tests and benchmarks.

A standalone Master on 127.0.0.1 and H Workers, worker ``k`` on 127.0.0.<k+2> with its own
mount namespace holding a private ``/dev/shm`` and ``/tmp`` (tmpfs). The executors a worker
starts, and the sparktf nodes and Spark Python workers they start, inherit that namespace: a
node's shared memory is visible only to tasks on its own "host", as on a real cluster, while
every socket stays on loopback. Needs root (``unshare -m`` and ``mount -t tmpfs``).

A private /tmp hides what lives under /tmp from the workers, so everything they read (Spark,
the virtualenv, the jar, data, the shared output dir) must live elsewhere: the cluster's own
directory is under /var/tmp, and ``shared_dir`` gives a dir every host and the driver see.

Stopping ends the process groups it started (SIGTERM, then SIGKILL by pid), then checks that no
process it started is alive, that no process still holds one of its mount namespaces (their
tmpfs mounts die with the last such process) and removes its directory; what is left is an error.

    sim = SimCluster(hosts=3).start()          # raises NamespaceUnavailable where it cannot
    try:
        spark = SparkSession.builder.master(sim.master_url).config(...).getOrCreate()
        ...
    finally:
        sim.stop()

From a shell: ``scripts/sim_cluster start --hosts 3 --dir /var/tmp/sim`` (prints the master URL
and leaves the cluster running), ``scripts/sim_cluster stop --dir /var/tmp/sim``.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any, Self

DEFAULT_PARENT = "/var/tmp"  # not /tmp: the workers' /tmp is private


class NamespaceUnavailable(RuntimeError):
    """A private mount namespace (or a 127.0.0.x address) cannot be made on this machine."""


def namespace_problem() -> str | None:
    """Why this machine cannot run a simulated cluster, or None when it can: tries what a
    worker needs (a private mount namespace with tmpfs on /dev/shm and /tmp, 127.0.0.2)."""
    if shutil.which("unshare") is None:
        return "no 'unshare' command (util-linux) on this machine"
    probe = (
        "mount -t tmpfs -o size=1m sparktf-sim /dev/shm && "
        "mount -t tmpfs -o size=1m sparktf-sim /tmp && touch /dev/shm/probe /tmp/probe"
    )
    try:
        r = subprocess.run(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", probe],
            check=False,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"'unshare -m' could not run: {e}"
    if r.returncode != 0:
        return (
            f"cannot make a private mount namespace with tmpfs /dev/shm and /tmp (needs "
            f"root or CAP_SYS_ADMIN): {(r.stderr or r.stdout).strip()}"
        )
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.2", 0))
    except OSError as e:
        return f"cannot bind 127.0.0.2 (the simulated hosts are 127.0.0.2, ...): {e}"
    return None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def spark_home() -> str:
    home = os.environ.get("SPARK_HOME")
    if not home:
        from pyspark.find_spark_home import _find_spark_home

        home = _find_spark_home()
    if os.path.realpath(home).startswith("/tmp/"):
        raise NamespaceUnavailable(
            f"SPARK_HOME {home} is under /tmp, which the workers' "
            "private /tmp hides: install Spark elsewhere"
        )
    return home


class SimCluster:
    """A standalone master and ``hosts`` workers of ``cores`` cores and ``memory_mb`` MB each,
    every worker on its own loopback address and in its own mount namespace."""

    def __init__(
        self,
        hosts: int = 3,
        cores: int = 1,
        memory_mb: int = 1024,
        base_dir: str | None = None,
        start_timeout: float = 120,
    ) -> None:
        self.hosts, self.cores, self.memory_mb = hosts, cores, memory_mb
        self.start_timeout = start_timeout
        self.base_dir = base_dir
        self.addresses = [f"127.0.0.{k + 2}" for k in range(hosts)]
        self.master_url = ""
        self.webui_url = ""
        self.pids: dict[str, int] = {}  # "master" / "worker-k" -> pid (each its own group)
        self.namespaces: dict[str, str] = {}  # "worker-k" -> its mnt namespace (readlink)
        self._procs: list[subprocess.Popen] = []  # reaped by stop(): no zombies left

    # ---- start -------------------------------------------------------------------------
    def start(self) -> SimCluster:
        problem = namespace_problem()
        if problem:
            raise NamespaceUnavailable(problem)
        home = spark_home()
        if self.base_dir is None:
            self.base_dir = tempfile.mkdtemp(prefix="sparktf-sim-", dir=DEFAULT_PARENT)
        os.makedirs(os.path.join(self.base_dir, "shared"), exist_ok=True)
        os.chmod(os.path.join(self.base_dir, "shared"), 0o1777)
        try:
            port, webui = free_port(), free_port()
            self.master_url = f"spark://127.0.0.1:{port}"
            self.webui_url = f"http://127.0.0.1:{webui}/json/"
            self._spawn(
                "master",
                [
                    f"{home}/bin/spark-class",
                    "org.apache.spark.deploy.master.Master",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--webui-port",
                    str(webui),
                ],
                "127.0.0.1",
                namespace=False,
            )
            self._wait(lambda s: s is not None, "the master's web UI to answer")
            for k, address in enumerate(self.addresses):
                work = os.path.join(self.base_dir, f"worker-{k}")
                os.makedirs(work)
                self._spawn(
                    f"worker-{k}",
                    [
                        f"{home}/bin/spark-class",
                        "org.apache.spark.deploy.worker.Worker",
                        self.master_url,
                        "--host",
                        address,
                        "--cores",
                        str(self.cores),
                        "--memory",
                        f"{self.memory_mb}m",
                        "--work-dir",
                        work,
                        "--webui-port",
                        str(free_port(address)),
                    ],
                    address,
                    namespace=True,
                )
            self._wait(
                lambda s: s is not None and len(self.alive_workers(s)) == self.hosts,
                f"{self.hosts} workers to register with the master",
            )
            for name, pid in self.pids.items():
                if name.startswith("worker-"):
                    self.namespaces[name] = os.readlink(f"/proc/{pid}/ns/mnt")
            if (
                len(set(self.namespaces.values()) | {os.readlink("/proc/self/ns/mnt")})
                != self.hosts + 1
            ):
                raise NamespaceUnavailable(
                    f"the workers do not each have their own mount namespace: {self.namespaces}"
                )
            self.save_state()
        except BaseException:
            self.stop(check=False)
            raise
        return self

    def _spawn(self, name: str, cmd: list[str], address: str, namespace: bool) -> None:
        env = dict(
            os.environ,
            SPARK_LOCAL_IP=address,
            SPARK_DAEMON_MEMORY="256m",
            PYSPARK_PYTHON=os.environ.get("PYSPARK_PYTHON", sys.executable),
        )
        env.pop("SPARK_LOCAL_HOSTNAME", None)
        if namespace:
            # unshare execs in place (no fork), so the pid we hold is the worker JVM's.
            mounts = (
                "mount -t tmpfs -o mode=1777 sparktf-sim-shm /dev/shm && "
                'mount -t tmpfs -o mode=1777 sparktf-sim-tmp /tmp && exec "$@"'
            )
            cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", mounts, name, *cmd]
        with open(os.path.join(self.base_dir, f"{name}.log"), "ab") as log:
            proc = subprocess.Popen(
                cmd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pids[name] = proc.pid
        self._procs.append(proc)

    def master_state(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(self.webui_url, timeout=5) as r:
                return json.load(r)
        except (OSError, ValueError):
            return None

    @staticmethod
    def alive_workers(state: dict[str, Any]) -> list[dict[str, Any]]:
        return [w for w in state.get("workers", []) if w.get("state") == "ALIVE"]

    def _wait(self, ready: Any, what: str) -> None:
        deadline = time.time() + self.start_timeout
        while not ready(self.master_state()):
            for name, pid in self.pids.items():
                if not _alive(pid):
                    raise RuntimeError(
                        f"simulated cluster: {name} exited while waiting for "
                        f"{what}; see {self.base_dir}/{name}.log:\n"
                        f"{self.log_tail(name)}"
                    )
            if time.time() > deadline:
                raise TimeoutError(f"simulated cluster: no {what} within {self.start_timeout} s")
            time.sleep(0.3)

    def log_tail(self, name: str, lines: int = 20) -> str:
        try:
            with open(os.path.join(self.base_dir, f"{name}.log"), errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    # ---- what a host sees ----------------------------------------------------------------
    @property
    def shared_dir(self) -> str:
        """A directory every host and the driver see (outside /tmp), removed by stop()."""
        return os.path.join(self.base_dir, "shared")

    def host_glob(self, k: int, pattern: str) -> list[str]:
        """Paths matching an absolute ``pattern`` as host ``k`` sees them (through its worker's
        /proc/PID/root, which shows the worker's mounts), named as the host names them."""
        root = f"/proc/{self.pids[f'worker-{k}']}/root"
        return sorted(p[len(root) :] for p in glob.glob(root + pattern))

    # ---- stop ------------------------------------------------------------------------------
    def stop(self, timeout: float = 30, check: bool = True) -> list[str]:
        """Ends every process it started, workers (and their executors) first; removes its
        directory. Returns what was left behind, and raises on it when ``check``."""
        started = set(self.pids.values())
        for pid in list(started):
            started |= _descendants(pid)
        for name in sorted(self.pids, key=lambda n: n == "master"):  # the master last
            _signal_group(self.pids[name], signal.SIGTERM)
        deadline = time.time() + timeout
        while any(_alive(p) for p in started) and time.time() < deadline:
            time.sleep(0.2)
        for pid in started:
            if _alive(pid):
                _signal_group(pid, signal.SIGKILL)
                _signal(pid, signal.SIGKILL)
        deadline = time.time() + 10
        while any(_alive(p) for p in started) and time.time() < deadline:
            time.sleep(0.1)
        for proc in self._procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                pass
        self._procs.clear()
        left = [
            f"process {p} ({_cmdline(p)[:80]}) still alive" for p in sorted(started) if _alive(p)
        ]
        held = set(self.namespaces.values()) & _mount_namespaces_in_use()
        left += [f"mount namespace {ns} (its private /dev/shm and /tmp) still held" for ns in held]
        if self.base_dir and os.path.isdir(self.base_dir):
            shutil.rmtree(self.base_dir, ignore_errors=True)
            if os.path.exists(self.base_dir):
                left.append(f"directory {self.base_dir} not removed")
        self.pids.clear()
        if left and check:
            raise RuntimeError("simulated cluster left behind: " + "; ".join(left))
        return left

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop(check=exc[0] is None)

    # ---- state for the command line ------------------------------------------------------
    def save_state(self) -> None:
        state = {
            key: getattr(self, key)
            for key in (
                "hosts",
                "cores",
                "memory_mb",
                "base_dir",
                "addresses",
                "master_url",
                "webui_url",
                "pids",
                "namespaces",
            )
        }
        state["cmdlines"] = {name: _cmdline(pid) for name, pid in self.pids.items()}
        with open(os.path.join(self.base_dir, "state.json"), "w") as f:
            json.dump(state, f, indent=1)

    @classmethod
    def from_state(cls, base_dir: str) -> SimCluster:
        with open(os.path.join(base_dir, "state.json")) as f:
            state = json.load(f)
        sim = cls(state["hosts"], state["cores"], state["memory_mb"], base_dir)
        for key in ("master_url", "webui_url", "namespaces"):
            setattr(sim, key, state[key])
        # Only pids that still run what we started: a pid may have been reused since.
        sim.pids = {
            name: pid
            for name, pid in state["pids"].items()
            if _alive(pid) and _cmdline(pid) == state["cmdlines"][name]
        }
        return sim


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _descendants(pid: int) -> set[int]:
    import psutil

    try:
        return {p.pid for p in psutil.Process(pid).children(recursive=True)}
    except psutil.Error:
        return set()


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _signal_group(pid: int, sig: int) -> None:
    """Signals the process group ``pid`` leads (each daemon was started in its own session);
    a pid that leads no group (a node in a group of its own making) gets the signal alone."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _mount_namespaces_in_use() -> set[str]:
    spaces = set()
    for path in glob.glob("/proc/[0-9]*/ns/mnt"):
        try:
            spaces.add(os.readlink(path))
        except OSError:
            pass
    return spaces


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start a cluster and leave it running")
    start.add_argument("--hosts", type=int, default=3)
    start.add_argument("--cores", type=int, default=1, help="cores per worker")
    start.add_argument("--memory-mb", type=int, default=1024, help="memory per worker")
    start.add_argument("--dir", required=True, help="the cluster's directory (not under /tmp)")
    stop = sub.add_parser("stop", help="stop the cluster started with --dir and remove the dir")
    stop.add_argument("--dir", required=True)
    sub.add_parser("check", help="say whether this machine can run a simulated cluster")
    opts = parser.parse_args(argv)
    if opts.command == "check":
        problem = namespace_problem()
        print(problem or "ok: private mount namespaces and 127.0.0.x addresses work here")
        return 1 if problem else 0
    if opts.command == "start":
        if os.path.realpath(opts.dir).startswith("/tmp/"):
            parser.error("--dir must not be under /tmp (the workers' /tmp is private)")
        os.makedirs(opts.dir, exist_ok=False)
        sim = SimCluster(opts.hosts, opts.cores, opts.memory_mb, opts.dir).start()
        print(
            json.dumps(
                {
                    "master_url": sim.master_url,
                    "hosts": sim.addresses,
                    "shared_dir": sim.shared_dir,
                    "pids": sim.pids,
                }
            )
        )
        return 0
    left = SimCluster.from_state(opts.dir).stop(check=False)
    for item in left:
        print(f"left behind: {item}", file=sys.stderr)
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
