"""Diagnostic, outside the product: per-thread CPU of the bench's processes.

Every 0.5 s until the file ``stop`` exists, writes one JSON line
``{"t": unix_time, "procs": {pid: {"kind": k, "threads": {tid: [comm, utime, stime]}}}}``
(times in clock ticks, 1/100 s) for the driver, executor JVMs and sparktf nodes.

    python3 thread_cpu_sampler.py threads.jsonl stop &
"""

import json
import os
import sys
import time


def kind(cmd: str) -> str | None:
    """The driver's Python and its JVM both carry "bench_feed" in their command line."""
    for needle, name in (
        ("sparktf.node", "node"),
        ("CoarseGrainedExecutorBackend", "executor_jvm"),
        ("bench_feed", "driver"),
    ):
        if needle in cmd:
            return name
    return None


def threads(pid: str) -> dict[str, list]:
    found = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        stat = open(f"/proc/{pid}/task/{tid}/stat").read()
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        found[tid] = [comm, int(fields[11]), int(fields[12])]
    return found


def main(out_path: str, stop: str) -> None:
    with open(out_path, "w") as out:
        while not os.path.exists(stop):
            snap: dict = {"t": time.time(), "procs": {}}
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode()
                    k = kind(cmd)
                    if k:
                        snap["procs"][pid] = {"kind": k, "threads": threads(pid)}
                except (FileNotFoundError, ProcessLookupError, ValueError):
                    continue
            out.write(json.dumps(snap) + "\n")
            out.flush()
            time.sleep(0.5)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
