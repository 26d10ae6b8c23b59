"""Diagnostic: CPU seconds by process kind and thread name during each Keras fit of a
``bench_feed`` JSON, from ``thread_cpu_sampler.py``'s samples (the fits' began/ended times).

    python3 thread_cpu_by_fit.py k3_thr_1.json threads.jsonl
"""

import collections
import json
import re
import sys


def main(bench_path: str, samples_path: str) -> None:
    bench = json.load(open(bench_path))
    snaps = [json.loads(line) for line in open(samples_path)]

    def at(t: float) -> dict:
        return max((s for s in snaps if s["t"] <= t), key=lambda s: s["t"], default=snaps[0])

    def delta(a: dict, b: dict) -> collections.Counter:
        acc: collections.Counter = collections.Counter()
        for pid, p in b["procs"].items():
            before = a["procs"].get(pid, {"threads": {}})["threads"]
            for tid, (comm, u, s) in p["threads"].items():
                u0, s0 = before[tid][1:] if tid in before else (0, 0)
                acc[(p["kind"], re.sub(r"[-#]?\d+", "N", comm))] += (u - u0 + s - s0) / 100
        return acc

    for i, rnd in enumerate(bench["keras_train"]["rounds"]):
        for label, key in (("feed", "sparktf_feed_per_node"), ("mem", "in_memory_per_node")):
            fits = list(rnd[key].values())
            t0, t1 = min(f["began"] for f in fits), max(f["ended"] for f in fits)
            acc = delta(at(t0), at(t1))
            by_kind: collections.Counter = collections.Counter()
            for (k, _), x in acc.items():
                by_kind[k] += x
            print(f"round {i} {label} {t1 - t0:.2f}s", {k: round(x, 2) for k, x in by_kind.items()})
            for (k, thread), x in sorted(acc.items(), key=lambda z: -z[1]):
                if k != "node" and x >= 0.03:
                    print(f"    {k:13s} {thread:28s} {x:.2f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
