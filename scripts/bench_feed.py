"""Feed benchmark: sparktf's JVM -> node feed against Spark's mapInArrow and a one-process
pyarrow -> tf.data reader, then Keras training from the feed against the same model trained from
an in-memory numpy array. A benchmark, not a test: prints ONE JSON object on stdout (progress
on stderr) and exits 0 whether or not the targets are met (exit 1 only when a run fails).

Data: N rows of ``x`` array<float> (784 random float32) and ``label`` int (0..9), written once
as Parquet with pyarrow (in chunks, ``benchlib.data``), read by Spark, repartitioned
round-robin into 2 x executors partitions and cached, so every measurement reads the same in-memory
rows. N is made a multiple of ``nodes``: the feed balances the rows over the nodes (the Keras
phase checks its ``train()`` reports for N / nodes rows per node), as MultiWorkerMirroredStrategy
needs every worker to run the same number of steps.

Phases, in this order (sparktf first, so the driver's RSS figures for it are not inflated by
TensorFlow, which only the later pyarrow baseline imports into the driver):

1. sparktf feed: one cluster; its program counts rows with ``next_batch(4096)`` (no per-row
   Python), one ``train()`` a run.
2. mapInArrow: ``df.mapInArrow(count, "n long")`` summing ``num_rows`` on the same cached df
   (after a warm-up on a tiny DataFrame that starts the Python workers).

   Phases 1 and 2 run in rounds of one feed then one mapInArrow run, so that a shared machine
   slowing down or speeding up over minutes weighs on both alike: ``--warmup-runs`` untimed
   rounds (default 3: the JVMs compile both methods' hot paths there; on 2 cores the JIT
   compilers keep runs getting faster for 3-4 runs), then ``--repeats`` timed rounds (default
   3). For each: the best run, the median, all runs, and the first (cold) run as
   ``cold_rows_per_s``; the ratio of bests, of medians, and of the cold runs. ``--sequential``
   runs all feeds, then all mapInArrow runs (measured here: mapInArrow runs faster that way,
   alone in its JVMs, and the feed slower).
3. pyarrow + tf.data in this process: read the Parquet files, x to an (n, 784) float32 numpy
   array, ``from_tensor_slices((x, y)).batch(256)``, iterate counting rows; read+iterate timed.
4. Keras (unless --skip-keras), tf_keras (or Keras 3 ``model.fit`` with ``--keras keras3``;
   ``--keras both``: Keras 3's rounds, then tf_keras's on a fresh cluster, so in fresh node
   processes, and ``targets.keras3_vs_tf_keras``, best rows/s against best rows/s;
   ``--tf-keras-first``: tf_keras's rounds first, so the executors' JVMs are as warm for
   Keras 3 as they are for tf_keras the other way round)
   784-128-10 MLP, Adam, sparse CE, under
   MultiWorkerMirroredStrategy on the same cluster's nodes: first a warm-up fit (a throw-away
   model, a few steps: one-time TF/collective costs land in neither measured run), then
   ``--keras-rounds`` rounds (default 3) of: a fresh model fit on an in-memory numpy array of
   the same rows per node (random, generated in the node, AutoShardPolicy OFF, the feed's
   prefetch and its tf.data autotune off: see ``feed_dataset.dataset_options``), then a fresh
   model fit on ``feed.dataset(...)`` fed by another ``train()`` of the cached df. Reported:
   the best of each, the ratio of round by round and its median. The in-memory run needs no
   feed: the node runs it while no
   feed is active, and the driver starts the training feed only after every node reported it
   done (a file in a shared temp dir: this benchmark runs on one machine), so the JVM feeding
   does not compete with it for CPU and no rows are pre-queued before the feed's fit starts.
   The nodes also wait for the driver's go-ahead (another file) before starting Keras, so the
   baselines of phases 2-3 do not share the CPU with training.

``--uncached``: after phases 1-2 on the cached DataFrame, the same rounds on the Parquet files
read uncached (``uncached_parquet`` in the JSON): the path most users take.
``--uncached-first``: the uncached rounds first, so that their first feed is the cluster's
first; ``--uncached-only``: those rounds alone, no cached DataFrame. ``--executors E``
(default ``--nodes``): an application with more executors than nodes
(``local-cluster[E,1,2048]`` unless ``--master``); every executor runs feed tasks.
``--hosts H``: the same on H simulated hosts (``scripts/sim_cluster.py``: one worker per
127.0.0.x, each with a private /dev/shm and /tmp), one executor and one node per host, so only
the rows a task sends to its own host's node can go through shared memory
(``shared_memory_share``).

``--partitions N``: the cached DataFrame in N partitions (and the Parquet in about N splits),
for the feed's figures at 8, 100, 1,000 partitions of the same rows.

Run: ``scripts/bench_feed [--rows 200000] [--data DIR] [--skip-keras] [--nodes 2] [--warmup-runs 3]
[--hosts 3] [--uncached [--uncached-first]] [--executors 10] [--partitions N]``.

Profiling: ``BENCH_EXECUTOR_JAVA_OPTS`` becomes the executors' ``spark.executor.extraJavaOptions``
(a flight recording, say: ``-XX:StartFlightRecording=filename=/tmp/rec/,settings=profile``);
each Keras fit records its wall-clock ``began``/``ended`` to line it up with such samples.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any

from benchlib.data import BYTES_PER_ROW, WIDTH, ensure_parquet, parquet_files
from benchlib.processes import (
    RssSampler,
    child_pids,
    cpu_by_kind,
    cpu_delta,
    cpu_total,
    end_leftovers,
)
from benchlib.rounds import log, median_rows_per_s, run_name, set_bench, wait_files
from benchlib.session import SimHosts, end_spark, start_spark

set_bench("bench_feed")


# ---------------------------------------------------------------------------------------------
# The node program (runs in every sparktf node; self-contained, pickled by value)
# ---------------------------------------------------------------------------------------------


def node_main(args: dict[str, Any], ctx: Any) -> None:
    import gc
    import json
    import os
    import resource
    import time

    out = args["out_dir"]
    me = f"{ctx.job_name}-{ctx.task_index}"

    def write(name: str, obj: Any) -> None:
        tmp = os.path.join(out, f".{name}.tmp")
        with open(tmp, "w") as f:
            json.dump(obj, f)
        os.replace(tmp, os.path.join(out, name))  # atomic: the driver never reads half a file

    def maxrss_mb() -> float:
        """Peak RSS of this process: VmHWM. Not ru_maxrss: Linux folds the exec'ing process's
        peak into it, and the node is spawned by the executor JVM (vfork + exec), so
        ru_maxrss reports the JVM's ~0.5 GB, not the node's."""
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux

    def wait_for(name: str) -> None:
        deadline = time.time() + args["wait_timeout"]
        while not os.path.exists(os.path.join(out, name)):
            if os.path.exists(os.path.join(out, "abort")):
                raise RuntimeError("the driver aborted the benchmark")
            if time.time() > deadline:
                raise TimeoutError(f"no '{name}' from the driver within {args['wait_timeout']} s")
            time.sleep(0.1)

    feed = ctx.get_data_feed()

    # Phase 1: count-only consumer, one feed per repeat. No TensorFlow imported yet.
    for run in range(args["repeats"]):
        rows = batches = 0
        first = None
        while True:
            batch = feed.next_batch(4096)
            if not batch:
                break
            if first is None:
                first = time.perf_counter()
            rows += len(batch["label"])
            batches += 1
        seconds = time.perf_counter() - first if first is not None else 0.0
        write(
            f"count-{run}-{me}.json",
            {
                "node": me,
                "rows": rows,
                "batches": batches,
                "seconds_first_batch_to_end": seconds,
                "end_time": time.time(),
                "peak_rss_mb": maxrss_mb(),
                "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            },
        )
    if not args["keras"]:
        return

    # Phase 4: Keras. The strategy is created before any other TF op runs in this process.
    wait_for("go-keras")
    import numpy as np
    import tensorflow as tf

    if args.get("keras_flavour") == "keras3":
        import keras  # Keras 3 model.fit: the node's fix makes it work under MWMS
    else:
        import tf_keras as keras

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    width = args["width"]
    ds_batch = args["batch_per_node"] * ctx.num_workers  # see the driver's comment on batching
    off = tf.data.Options()
    off.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    # As on the feed's dataset (feed_dataset.dataset_options): with autotune, the garbage
    # collector deleting an old round's iterator waits up to a minute for its autotune thread,
    # inside whichever fit it runs in, on one node while the other waits at a collective.
    off.autotune.enabled = False

    def build() -> Any:
        keras.utils.set_random_seed(7)
        with strategy.scope():
            model = keras.Sequential(
                [
                    keras.layers.Input(shape=(width,)),
                    keras.layers.Dense(128, activation="relu"),
                    keras.layers.Dense(10),
                ]
            )
            model.compile(
                optimizer=keras.optimizers.Adam(1e-3),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            )
        return model

    class Clock(keras.callbacks.Callback):
        """Time of the end of the first step and of training: steady rate without step 1
        (tracing, first collective); when fit began training and step 1 (where a slow first
        step spends its time)."""

        def on_train_begin(self, logs: Any = None) -> None:
            self.train_begin = time.perf_counter()

        def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
            if batch == 0:
                self.first_step_begin = time.perf_counter()

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            if batch == 0:
                self.first_step_end = time.perf_counter()
            self.steps = batch + 1

        def on_train_end(self, logs: Any = None) -> None:
            self.end = time.perf_counter()

    # Garbage collections of 0.5 s or more during a fit: a stalled fit says whether it was one.
    slow_gcs: list[dict[str, Any]] = []
    gc_began: list[float] = []

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            gc_began[:] = [time.perf_counter()]
        elif gc_began and time.perf_counter() - gc_began[0] >= 0.5:
            took = round(time.perf_counter() - gc_began[0], 3)
            slow_gcs.append({"generation": info["generation"], "seconds": took})

    gc.callbacks.append(on_gc)

    def timed_fit(ds: Any, rows: int | None) -> dict[str, Any]:
        model = build()
        clock = Clock()
        slow_gcs.clear()
        began = time.time()
        t0 = time.perf_counter()
        model.fit(ds, epochs=1, verbose=0, callbacks=[clock])
        seconds = time.perf_counter() - t0
        # Wall-clock bounds, to line a fit up with samples taken outside the node.
        result = {"fit_seconds": seconds, "steps": getattr(clock, "steps", 0)}
        result.update(began=began, ended=time.time())
        result["slow_gcs"] = list(slow_gcs)
        for key, attr in (
            ("seconds_to_train_begin", "train_begin"),
            ("seconds_to_first_step_begin", "first_step_begin"),
            ("seconds_to_first_step_end", "first_step_end"),
        ):
            if hasattr(clock, attr):
                result[key] = getattr(clock, attr) - t0
        if rows is not None:
            result.update(_rates(rows, seconds, clock))
        return result

    def _rates(rows: int, seconds: float, clock: Any) -> dict[str, Any]:
        per_step = args["batch_per_node"]
        steady_s = clock.end - clock.first_step_end if hasattr(clock, "first_step_end") else 0.0
        return {
            "rows": rows,
            "rows_per_s": rows / seconds if seconds > 0 else 0.0,
            "steady_rows_per_s": (rows - per_step) / steady_s if steady_s > 0 else 0.0,
        }

    n = args["rows_per_node"]
    rng = np.random.default_rng(1000 + ctx.worker_num)
    x = rng.random((n, width), dtype=np.float32)
    y = rng.integers(0, 10, size=n, dtype=np.int32)

    def in_memory(x: Any, y: Any) -> Any:
        # The no-op filter hides the cardinality and the static batch size, as the feed's
        # generator dataset has neither: with a known cardinality tf_keras runs that many
        # steps, but with auto-sharding OFF each worker's own dataset holds k times as many
        # per-replica batches (MWMS splits every batch over all k replicas), so fit would stop
        # after 1/k of the rows. Both runs now go on until their data is exhausted, with the
        # same rebatching (the legacy one, for an unknown batch size).
        return (
            tf.data.Dataset.from_tensor_slices((x, y))
            .batch(ds_batch)
            .filter(lambda xb, yb: True)
            .prefetch(2)  # the feed dataset's fixed prefetch (PREFETCH_BATCHES)
            .with_options(off)
        )

    # Warm-up: throw-away model, a few steps, same pipeline shape.
    warm = min(n, 10 * ds_batch)
    timed_fit(in_memory(x[:warm], y[:warm]), None)

    # Rounds of an in-memory numpy fit then a fit from the feed (fresh models): one fit of
    # each says little on a shared machine, whose speed drifts over the minutes of a run.
    for r in range(args["keras_rounds"]):
        inmem = timed_fit(in_memory(x, y), n)
        inmem["peak_rss_mb"] = maxrss_mb()
        write(f"inmem-{r}-{me}.json", {"node": me, **inmem})
        # sparktf feed: the driver starts the training train() once every inmem file is there.
        # (the driver checks the train() report: this node was fed exactly rows_per_node rows)
        feed_ds = feed.dataset(ds_batch, features=["x"], label="label")
        stall_dir = args.get("stall_dump_dir")
        if stall_dir:  # every thread's stack, should this fit take longer than that
            import faulthandler

            dump = open(os.path.join(stall_dir, f"stall-{r}-{me}.txt"), "w")  # noqa: SIM115
            faulthandler.dump_traceback_later(args["stall_dump_seconds"], file=dump)
        res = timed_fit(feed_ds, n)
        if stall_dir:
            faulthandler.cancel_dump_traceback_later()
            dump.close()
        res["peak_rss_mb"] = maxrss_mb()
        write(f"feedtrain-{r}-{me}.json", {"node": me, **res})


# ---------------------------------------------------------------------------------------------
# Driver side: the baselines, then the run
# ---------------------------------------------------------------------------------------------


def mapinarrow_count(df: Any) -> int:
    from pyspark.sql import functions as F

    def count_batches(batches: Any) -> Any:
        import pyarrow as pa

        n = 0
        for b in batches:
            n += b.num_rows
        yield pa.RecordBatch.from_pydict({"n": [n]}, schema=pa.schema([("n", pa.int64())]))

    return int(df.mapInArrow(count_batches, "n long").agg(F.sum("n")).collect()[0][0] or 0)


def pyarrow_tfdata(files: list[str], batch: int) -> dict[str, Any]:
    """One process: Parquet -> numpy (x as (n, 784) float32 from the list's flat values) ->
    tf.data from_tensor_slices -> batch -> iterate, counting rows. TF import is not timed."""
    import numpy as np
    import pyarrow.parquet as pq
    import tensorflow as tf

    t0 = time.perf_counter()
    table = pq.read_table(files, columns=["x", "label"])
    t_read = time.perf_counter()
    xs = [c.flatten().to_numpy(zero_copy_only=True) for c in table.column("x").chunks]
    ys = [c.to_numpy(zero_copy_only=True) for c in table.column("label").chunks]
    # One copy when the table has several chunks (one per row group); none for a single chunk.
    x = (xs[0] if len(xs) == 1 else np.concatenate(xs)).reshape(-1, WIDTH)
    y = ys[0] if len(ys) == 1 else np.concatenate(ys)
    del xs, ys, table
    t_numpy = time.perf_counter()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch)
    rows = 0
    for xb, _ in ds:
        rows += int(xb.shape[0])
    t_end = time.perf_counter()
    seconds = t_end - t0
    return {
        "rows": rows,
        "seconds": seconds,
        "rows_per_s": rows / seconds,
        "mb_per_s": rows * BYTES_PER_ROW / seconds / 1e6,
        "read_seconds": t_read - t0,
        "to_numpy_seconds": t_numpy - t_read,
        "tfdata_seconds": t_end - t_numpy,
    }


class FeedRounds:
    """Rounds of one sparktf feed (a ``train()`` the nodes' programs count) then one mapInArrow
    count, on one DataFrame and one cluster, checked and timed; ``summary`` gives the figures.
    The node program counts ``count_feeds`` feeds in all: the runs are numbered across every
    ``run`` call (the cached DataFrame, then the uncached Parquet)."""

    def __init__(
        self,
        spark: Any,
        cluster: Any,
        rows: int,
        k: int,
        opts: Any,
        sampler: RssSampler,
        out_dir: str,
    ) -> None:
        self.spark, self.cluster, self.rows, self.k, self.opts = spark, cluster, rows, k, opts
        self.sampler, self.out_dir = sampler, out_dir
        self.next_feed = 0  # the number of the next count file the nodes write
        self.nodes_seen: list[dict[str, Any]] = []  # the last feed's node reports

    def feed_run(self, df: Any, run: int) -> dict[str, Any]:
        rows, opts, index = self.rows, self.opts, self.next_feed
        self.next_feed += 1
        self.sampler.phase("sparktf_feed")
        cpu0 = cpu_by_kind()
        start_time = time.time()
        t0 = time.perf_counter()
        report = self.cluster.train(df, num_epochs=1)
        wall = time.perf_counter() - t0
        if report["rows_total"] != rows:
            raise RuntimeError(f"feed {run}: {report['rows_total']} rows fed, not {rows}")
        nodes_seen = self.nodes_seen = wait_files(
            self.out_dir, f"count-{index}-*.json", self.k, opts.timeout, f"count feed {run}"
        )
        # train() returns once the nodes hold every row, some still queued: this is until
        # the last node's program has counted its last row (one machine, one clock).
        consumed = max(n["end_time"] for n in nodes_seen) - start_time
        cpu_kinds = cpu_delta(cpu0)  # the nodes' counting is done: their files are written
        cpu = cpu_total(cpu_kinds)
        counted = sum(n["rows"] for n in nodes_seen)
        if counted != rows:
            raise RuntimeError(f"feed {run}: nodes counted {counted} rows, not {rows}")
        log(
            f"sparktf feed {run_name(run, opts.warmup_runs)}: "
            f"{report['rows_per_second']:.0f} rows/s "
            f"({report['seconds']:.2f} s; wall {wall:.2f} s; cpu {cpu:.2f} s; "
            f"{report['shared_memory_rows'] / rows:.0%} via shared memory)"
        )
        return {
            "seconds": report["seconds"],
            "rows_per_s": report["rows_per_second"],
            "wall_seconds": wall,
            "wall_rows_per_s": rows / wall,
            "until_consumed_seconds": consumed,
            "until_consumed_rows_per_s": rows / consumed,
            "cpu_seconds": cpu,
            "cpu_us_per_row": cpu / rows * 1e6,
            "cpu_seconds_by_process": cpu_kinds,
            "rows_per_node": report["rows_per_node"],
            "shared_memory_rows": report["shared_memory_rows"],
            "node_seconds_first_batch_to_end": {
                n["node"]: round(n["seconds_first_batch_to_end"], 3) for n in nodes_seen
            },
            "node_peak_rss_mb": {n["node"]: round(n["peak_rss_mb"], 1) for n in nodes_seen},
        }

    def mapinarrow_run(self, df: Any, run: int) -> dict[str, Any]:
        rows = self.rows
        self.sampler.phase("mapinarrow")
        cpu0 = cpu_by_kind()
        t0 = time.perf_counter()
        n = mapinarrow_count(df)
        seconds = time.perf_counter() - t0
        cpu_kinds = cpu_delta(cpu0)
        cpu = cpu_total(cpu_kinds)
        if n != rows:
            raise RuntimeError(f"mapInArrow counted {n} rows, not {rows}")
        log(
            f"mapInArrow {run_name(run, self.opts.warmup_runs)}: {rows / seconds:.0f} rows/s "
            f"({seconds:.2f} s; cpu {cpu:.2f} s)"
        )
        return {
            "seconds": round(seconds, 3),
            "rows_per_s": round(rows / seconds, 1),
            "cpu_seconds": round(cpu, 3),
            "cpu_us_per_row": round(cpu / rows * 1e6, 2),
            "cpu_seconds_by_process": cpu_kinds,
        }

    def run(self, df: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """``--warmup-runs`` + ``--repeats`` runs of each method on ``df``, in rounds of one
        feed then one mapInArrow run: a shared machine that slows down or speeds up over the
        minutes of a benchmark weighs on both alike. --sequential: all feeds, then all
        mapInArrow runs (each method's runs back to back)."""
        feeds = self.opts.warmup_runs + self.opts.repeats
        if self.opts.sequential:
            runs = [self.feed_run(df, run) for run in range(feeds)]
            return runs, [self.mapinarrow_run(df, run) for run in range(feeds)]
        runs, m_runs = [], []
        for run in range(feeds):
            if self.opts.mapinarrow_first:
                m_runs.append(self.mapinarrow_run(df, run))
            runs.append(self.feed_run(df, run))
            if not self.opts.mapinarrow_first:
                m_runs.append(self.mapinarrow_run(df, run))
        return runs, m_runs

    def feed_summary(self, runs: list[dict[str, Any]]) -> dict[str, Any]:
        warmups = self.opts.warmup_runs
        warm_runs, runs = runs[:warmups], runs[warmups:]
        best = max(runs, key=lambda r: r["rows_per_s"])
        best_wall = max(runs, key=lambda r: r["wall_rows_per_s"])
        best_consumed = max(runs, key=lambda r: r["until_consumed_rows_per_s"])
        least_cpu = min(runs, key=lambda r: r["cpu_seconds"])
        peaks = self.sampler.peaks("sparktf_feed")
        return {
            "rows_per_s": round(best["rows_per_s"], 1),
            "median_rows_per_s": median_rows_per_s(runs),
            # the first feed after the cluster started: JIT compilation, class loading, channels
            "cold_rows_per_s": round((warm_runs or runs)[0]["rows_per_s"], 1),
            "mb_per_s": round(best["rows_per_s"] * BYTES_PER_ROW / 1e6, 1),
            "seconds": round(best["seconds"], 3),
            "wall_seconds_around_train": round(best["wall_seconds"], 3),
            "wall_rows_per_s": round(best["wall_rows_per_s"], 1),
            # the fastest run by wall time around train() (counting, feeding, EndFeed)
            "best_wall_rows_per_s": round(best_wall["wall_rows_per_s"], 1),
            # the fastest run from the train() call until the nodes' programs took every row
            "best_until_consumed_rows_per_s": round(best_consumed["until_consumed_rows_per_s"], 1),
            "least_cpu_us_per_row": round(least_cpu["cpu_us_per_row"], 2),
            "rows_per_node": best["rows_per_node"],
            # the share of the rows that reached their node as shared-memory files
            "shared_memory_share": round(best["shared_memory_rows"] / self.rows, 3),
            "queue_capacity": self.opts.queue_capacity or "the cluster default",
            "peak_rss_mb": {
                "driver_python": round(peaks.get("driver_python", 0.0), 1),
                "driver_jvm": round(peaks.get("driver_jvm", 0.0), 1),
                "executor_jvms": sorted(
                    round(v, 1) for key, v in peaks.items() if key.startswith("executor_jvm")
                ),
                # VmHWM of each node process after the count feeds (TensorFlow not imported)
                "nodes": [best["node_peak_rss_mb"][n] for n in sorted(best["node_peak_rss_mb"])],
                # ru_maxrss as the node sees it: includes the spawning executor JVM's peak
                "nodes_ru_maxrss": [
                    round(n["ru_maxrss_mb"], 1)
                    for n in sorted(self.nodes_seen, key=lambda n: n["node"])
                ],
                "nodes_sampled": sorted(
                    round(v, 1) for key, v in peaks.items() if key.startswith("node:")
                ),
            },
            "runs": [
                {key: (round(v, 3) if isinstance(v, float) else v) for key, v in r.items()}
                for r in runs
            ],
            "warmup_runs": [round(r["rows_per_s"], 1) for r in warm_runs],
        }

    def mapinarrow_summary(self, m_runs: list[dict[str, Any]], warm: float) -> dict[str, Any]:
        warmups = self.opts.warmup_runs
        m_warm, m_runs = m_runs[:warmups], m_runs[warmups:]
        m_best = min(m_runs, key=lambda r: r["seconds"])
        m_peaks = self.sampler.peaks("mapinarrow")
        return {
            "rows_per_s": m_best["rows_per_s"],
            "median_rows_per_s": median_rows_per_s(m_runs),
            "cold_rows_per_s": (m_warm or m_runs)[0]["rows_per_s"],
            "mb_per_s": round(m_best["rows_per_s"] * BYTES_PER_ROW / 1e6, 1),
            "seconds": m_best["seconds"],
            "least_cpu_us_per_row": min(r["cpu_us_per_row"] for r in m_runs),
            "warmup_seconds": round(warm, 3),
            "arrow_max_records_per_batch": self.spark.conf.get(
                "spark.sql.execution.arrow.maxRecordsPerBatch"
            ),
            "peak_rss_mb": {
                "spark_python_workers": sorted(
                    round(v, 1)
                    for key, v in m_peaks.items()
                    if key.startswith("spark_python_worker")
                )
            },
            "runs": m_runs,
            "warmup_runs": [r["rows_per_s"] for r in m_warm],
        }


def feed_ratios(feed: dict[str, Any], mia: dict[str, Any]) -> dict[str, Any]:
    """The feed against mapInArrow: best, median, cold, and stricter and load-independent."""
    ratio = feed["rows_per_s"] / mia["rows_per_s"]
    return {
        "feed_vs_mapinarrow": round(ratio, 3),
        "feed_ge_1_5x": ratio >= 1.5,
        "feed_vs_mapinarrow_median": round(feed["median_rows_per_s"] / mia["median_rows_per_s"], 3),
        "feed_vs_mapinarrow_cold": round(feed["cold_rows_per_s"] / mia["cold_rows_per_s"], 3),
        # Stricter: wall time around the whole train() call (counting, EndFeed included).
        "feed_vs_mapinarrow_wall": round(feed["best_wall_rows_per_s"] / mia["rows_per_s"], 3),
        # Strictest: until the nodes' programs counted every row, as mapInArrow's time is
        # until its Python function counted every row.
        "feed_vs_mapinarrow_until_consumed": round(
            feed["best_until_consumed_rows_per_s"] / mia["rows_per_s"], 3
        ),
        # Work per row (least CPU time of the runs): load-independent on a shared machine.
        "feed_vs_mapinarrow_cpu": round(
            mia["least_cpu_us_per_row"] / feed["least_cpu_us_per_row"], 3
        ),
    }


def pyarrow_phase(data_dir: str, rows: int, opts: Any, sampler: RssSampler) -> dict[str, Any]:
    """Phase 3: Parquet -> numpy -> tf.data in this process, ``--repeats`` runs."""
    sampler.phase("pyarrow_tfdata")
    log("pyarrow + tf.data in the driver process")
    import tensorflow as tf  # noqa: F401  (imported before the timed read)

    p_runs = []
    for run in range(opts.repeats):
        r = pyarrow_tfdata(parquet_files(data_dir), opts.tfdata_batch)
        gc.collect()
        if r["rows"] != rows:
            raise RuntimeError(f"pyarrow/tf.data read {r['rows']} rows, not {rows}")
        p_runs.append({key: (round(v, 3) if isinstance(v, float) else v) for key, v in r.items()})
        log(f"pyarrow+tf.data {run}: {r['rows_per_s']:.0f} rows/s ({r['seconds']:.2f} s)")
    p_best = min(p_runs, key=lambda r: r["seconds"])
    return {
        **{
            key: p_best[key]
            for key in (
                "rows_per_s",
                "mb_per_s",
                "seconds",
                "read_seconds",
                "to_numpy_seconds",
                "tfdata_seconds",
            )
        },
        "batch": opts.tfdata_batch,
        "peak_rss_mb_driver_python": round(
            sampler.peaks("pyarrow_tfdata").get("driver_python", 0.0), 1
        ),
        "runs": p_runs,
    }


def keras_phase(
    cluster: Any,
    df: Any,
    k: int,
    per_node: int,
    opts: Any,
    sampler: RssSampler,
    out_dir: str,
    flavour: str,
) -> dict[str, Any]:
    """Phase 4: ``--keras-rounds`` rounds of an in-memory fit then a fit from the feed, on the
    nodes (the driver starts the feed once every node's in-memory fit is done)."""
    sampler.phase("keras")
    log("Keras: warm-up + in-memory numpy fit on the nodes")
    open(os.path.join(out_dir, "go-keras"), "w").close()
    rounds = []
    # CPU by process between the file marks: the in-memory fit of round r runs between the
    # feed fit files of round r - 1 and its own inmem files (round 0's also holds the warm-up),
    # the feed fit between those and its feedtrain files: what the feed costs beside training.
    cpu_mark = cpu_by_kind()
    for r in range(opts.keras_rounds):
        inmem = wait_files(out_dir, f"inmem-{r}-*.json", k, opts.timeout, "in-memory Keras run")
        cpu_inmem = cpu_delta(cpu_mark)
        cpu_mark = cpu_by_kind()
        log(f"Keras round {r}: fit from the sparktf feed")
        t0 = time.perf_counter()
        report = cluster.train(df, num_epochs=1)
        train_wall = time.perf_counter() - t0
        if sorted(report["rows_per_node"].values()) != [per_node] * k:
            raise RuntimeError(
                f"training feed: rows per node {report['rows_per_node']}, "
                f"the in-memory runs used {per_node} each"
            )
        fed = wait_files(out_dir, f"feedtrain-{r}-*.json", k, opts.timeout, "feed Keras run")
        cpu_feed = cpu_delta(cpu_mark)
        cpu_mark = cpu_by_kind()
        # Summed over nodes: each node's rows / its own model.fit wall time.
        s_feed = sum(n["rows_per_s"] for n in fed)
        s_mem = sum(n["rows_per_s"] for n in inmem)
        log(f"Keras round {r}: feed {s_feed:.0f} rows/s vs in-memory {s_mem:.0f} rows/s")
        rounds.append(
            {
                "fed": fed,
                "inmem": inmem,
                "report": report,
                "train_wall": train_wall,
                "s_feed": s_feed,
                "s_mem": s_mem,
                "st_feed": sum(n["steady_rows_per_s"] for n in fed),
                "st_mem": sum(n["steady_rows_per_s"] for n in inmem),
                "cpu_feed": cpu_feed,
                "cpu_inmem": cpu_inmem,
            }
        )

    def node_view(ns: list[dict]) -> dict[str, Any]:
        return {
            n["node"]: {
                key: (round(v, 3) if isinstance(v, float) else v)
                for key, v in n.items()
                if key != "node"
            }
            for n in ns
        }

    fed = [n for rd in rounds for n in rd["fed"]]
    inmem = [n for rd in rounds for n in rd["inmem"]]
    steps = {
        "sparktf_feed": sorted({n["steps"] for n in fed}),
        "in_memory": sorted({n["steps"] for n in inmem}),
    }
    if steps["sparktf_feed"] != steps["in_memory"] or len(steps["in_memory"]) != 1:
        log(f"WARNING: the runs took different step counts: {steps}")
    s_feed = max(rd["s_feed"] for rd in rounds)
    s_mem = max(rd["s_mem"] for rd in rounds)
    st_feed = max(rd["st_feed"] for rd in rounds)
    st_mem = max(rd["st_mem"] for rd in rounds)
    round_ratios = [rd["s_feed"] / rd["s_mem"] for rd in rounds if rd["s_mem"]]
    log(f"Keras: best feed {s_feed:.0f} rows/s vs best in-memory {s_mem:.0f} rows/s")
    return {
        # Best round of each: rows summed over nodes, each its rows / its fit time.
        "sparktf_feed_rows_per_s": round(s_feed, 1),
        "in_memory_numpy_rows_per_s": round(s_mem, 1),
        "ratio": round(s_feed / s_mem, 3) if s_mem else None,
        # Round by round: the two fits of a round ran one after the other.
        "round_ratios": [round(v, 3) for v in round_ratios],
        "median_round_ratio": round(statistics.median(round_ratios), 3) if round_ratios else None,
        "steady_sparktf_feed_rows_per_s": round(st_feed, 1),
        "steady_in_memory_numpy_rows_per_s": round(st_mem, 1),
        "steady_ratio": round(st_feed / st_mem, 3) if st_mem else None,
        "model": f"784-128-10 relu MLP, {flavour}, Adam(1e-3), sparse CE, MWMS",
        "batch_per_node_per_step": opts.batch_per_node,
        "steps_per_node": steps,
        # MWMS splits each dataset batch over all replicas (legacy rebatch for the
        # feed's unknown batch size, rebatch([b/k]*k) for numpy); with auto-sharding
        # OFF each node still consumes its whole dataset, so a dataset batch of
        # k * batch_per_node gives batch_per_node rows per node per step.
        "dataset_batch": opts.batch_per_node * k,
        "rounds": [
            {
                "train_feed_report": {
                    "rows_total": rd["report"]["rows_total"],
                    "seconds": round(rd["report"]["seconds"], 3),
                    "rows_per_node": rd["report"]["rows_per_node"],
                    "wall_seconds_around_train": round(rd["train_wall"], 3),
                },
                "sparktf_feed_per_node": node_view(rd["fed"]),
                "in_memory_per_node": node_view(rd["inmem"]),
                "cpu_seconds_by_process": {
                    "sparktf_feed_fit": rd["cpu_feed"],
                    "in_memory_fit": rd["cpu_inmem"],
                },
            }
            for rd in rounds
        ],
    }


def keras_versus(keras3: dict[str, Any], tf_keras: dict[str, Any]) -> dict[str, Any]:
    """Keras 3 fit against tf_keras fit on the same data and cluster: best rows/s of each."""

    def ratio(key: str) -> float | None:
        return round(keras3[key] / tf_keras[key], 3) if tf_keras[key] else None

    return {
        "in_memory": ratio("in_memory_numpy_rows_per_s"),
        "sparktf_feed": ratio("sparktf_feed_rows_per_s"),
        "steady_in_memory": ratio("steady_in_memory_numpy_rows_per_s"),
        "steady_sparktf_feed": ratio("steady_sparktf_feed_rows_per_s"),
    }


def uncached_parquet_rounds(
    spark: Any, rounds: FeedRounds, data_dir: str, partitions: int, warm: float
) -> dict[str, Any]:
    """The rounds of phases 1-2 on the same rows straight from the Parquet files, not cached,
    split into about ``partitions`` partitions (Spark's 128 MB split would make one or two of
    these few large files). The setting holds for the whole phase: every action plans anew."""
    size = sum(os.path.getsize(p) for p in parquet_files(data_dir))
    spark.conf.set("spark.sql.files.maxPartitionBytes", str(max(1 << 20, size // partitions + 1)))
    try:
        parquet = spark.read.parquet(data_dir)
        split = parquet.rdd.getNumPartitions()
        log(f"uncached Parquet in {split} partitions")
        runs, m_runs = rounds.run(parquet)
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    feed, mia = rounds.feed_summary(runs), rounds.mapinarrow_summary(m_runs, warm)
    return {
        "partitions": split,
        "sparktf_feed": feed,
        "mapinarrow_count": mia,
        "ratios": feed_ratios(feed, mia),
    }


def console_settings(opts: Any) -> dict[str, Any]:
    """The driver console's settings the run asked for (the cluster's defaults otherwise)."""
    settings: dict[str, Any] = {}
    if opts.no_progress:
        settings["progress"] = False
    if opts.node_output:
        settings["node_output"] = opts.node_output
    return settings


def parse_args(argv: list[str] | None) -> Any:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument(
        "--data",
        default=None,
        help="Parquet dir to reuse (generated there when it holds no Parquet)",
    )
    parser.add_argument("--skip-keras", action="store_true")
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--master", default=None, help="default local-cluster[E,1,2048]")
    parser.add_argument(
        "--executors",
        type=int,
        default=None,
        help="executors of the application (default: --nodes); the nodes run on --nodes of "
        "them, and every executor runs feed tasks",
    )
    parser.add_argument(
        "--hosts",
        type=int,
        default=0,
        help="run on H simulated hosts (scripts/sim_cluster.py: private "
        "/dev/shm each), one executor and one node per host; --master "
        "and --nodes are then ignored",
    )
    parser.add_argument(
        "--executor-memory-mb", type=int, default=2048, help="executor memory with --hosts"
    )
    parser.add_argument(
        "--uncached",
        action="store_true",
        help="also feed and count the Parquet files uncached (2 x executors "
        "partitions), in rounds as for the cached DataFrame",
    )
    parser.add_argument(
        "--uncached-first",
        action="store_true",
        help="with --uncached: the uncached rounds run before the cached ones, so their "
        "first (cold) feed is the cluster's first",
    )
    parser.add_argument(
        "--uncached-only",
        action="store_true",
        help="only the uncached rounds (no cached DataFrame: executor memory is then the "
        "feed's and the Parquet reader's alone); implies --uncached --uncached-first",
    )
    parser.add_argument(
        "--partitions",
        type=int,
        default=0,
        help="partitions of the cached DataFrame (round-robin), and about that many file "
        "splits of the Parquet with --uncached (default 2 x executors)",
    )
    parser.add_argument(
        "--warmup-runs",
        type=int,
        default=3,
        help="untimed whole-DataFrame runs of the sparktf feed and of mapInArrow "
        "before their timed ones (JIT compilation happens there)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="runs of the sparktf feed and mapInArrow count (best reported)",
    )
    parser.add_argument(
        "--sequential",
        action="store_true",
        help="all feed runs, then all mapInArrow runs, instead of rounds",
    )
    parser.add_argument(
        "--mapinarrow-first",
        action="store_true",
        help="each round runs mapInArrow before the feed (whichever runs first on a "
        "DataFrame pays the executors' first Parquet read: class loading, JIT)",
    )
    parser.add_argument(
        "--keras-rounds",
        type=int,
        default=3,
        help="rounds of an in-memory fit then a fit from the feed",
    )
    parser.add_argument(
        "--keras",
        choices=("tf_keras", "keras3", "both"),
        default="tf_keras",
        help="the Keras the rounds fit with: tf_keras, Keras 3 model.fit, or both (Keras 3's "
        "rounds, then tf_keras's on a fresh cluster; keras3_vs_tf_keras in targets)",
    )
    parser.add_argument(
        "--tf-keras-first",
        action="store_true",
        help="with --keras both: tf_keras's rounds first, then Keras 3's",
    )
    parser.add_argument(
        "--queue-capacity", type=int, default=None, help="default: the cluster's default"
    )
    parser.add_argument(
        "--stall-dump-dir",
        default=None,
        help="a dir the nodes write every thread's stack to when a fit from the feed takes "
        "longer than --stall-dump-seconds (Python's faulthandler)",
    )
    parser.add_argument("--stall-dump-seconds", type=float, default=20.0)
    parser.add_argument(
        "--no-progress", action="store_true", help="start the cluster with progress=False"
    )
    parser.add_argument(
        "--node-output",
        choices=("chief", "all", "none"),
        default="none",
        help="the cluster's node_output setting (default none: the chief's output lines, "
        "Keras warnings, would reach this stdout ahead of the JSON)",
    )
    parser.add_argument(
        "--batch-per-node", type=int, default=256, help="Keras rows per node per step"
    )
    parser.add_argument("--tfdata-batch", type=int, default=256)
    parser.add_argument(
        "--timeout",
        type=float,
        default=1800,
        help="bound on every wait (cluster start, each feed, node reports)",
    )
    opts = parser.parse_args(argv)
    if opts.hosts:
        opts.nodes, opts.master = opts.hosts, None
        opts.executors = opts.hosts
    if opts.uncached_only:
        opts.uncached = opts.uncached_first = True
        if not opts.skip_keras:
            parser.error("--uncached-only needs --skip-keras (Keras trains from the cached rows)")
    if opts.executors is None:
        opts.executors = opts.nodes
    if opts.executors < opts.nodes:
        parser.error(f"--executors ({opts.executors}) must be at least --nodes ({opts.nodes})")
    if opts.master is None and not opts.hosts:
        opts.master = f"local-cluster[{opts.executors},1,2048]"
        if opts.data and os.path.realpath(opts.data).startswith("/tmp/"):
            parser.error("--data must not be under /tmp with --hosts (each host's /tmp is its own)")
    if opts.tf_keras_first and opts.keras != "both":
        parser.error("--tf-keras-first needs --keras both")
    if opts.rows - opts.rows % opts.nodes <= 0:
        parser.error(f"--rows must be at least --nodes ({opts.nodes})")
    return opts


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    flavours = ["keras3", "tf_keras"] if opts.keras == "both" else [opts.keras]
    if opts.tf_keras_first:
        flavours.reverse()
    # Where each flavour's rounds go in the JSON: Keras 3's are keras_train whenever it runs.
    keys = {
        f: "keras_train" if f == "keras3" or len(flavours) == 1 else f"keras_train_{f}"
        for f in flavours
    }
    if opts.skip_keras:
        flavours = flavours[:1]
    k = opts.nodes
    rows = opts.rows - opts.rows % k  # every node gets the same number of rows
    baseline_children = child_pids()
    sim = SimHosts(opts.hosts, opts.executor_memory_mb).start() if opts.hosts else None
    # With --hosts, the nodes' files and the data live where every host sees them.
    work = tempfile.mkdtemp(prefix="sparktf-bench-", dir=sim.work_parent if sim else None)
    out_dir = os.path.join(work, "nodes")
    os.makedirs(out_dir)
    data_dir = opts.data or os.path.join(work, "data")
    result: dict[str, Any] = {
        "rows": rows,
        "nodes": k,
        "executors": opts.executors,
        "master": opts.master or f"{opts.hosts} simulated hosts",
        "bytes_per_row": BYTES_PER_ROW,
        "mb_total": round(rows * BYTES_PER_ROW / 1e6, 1),
        "load_avg_start": [round(v, 2) for v in os.getloadavg()],
        "console_settings": console_settings(opts),
        "cpus": os.cpu_count(),
    }
    if sim:
        result["hosts"] = sim.sim.addresses
    have = ensure_parquet(data_dir, rows, chunk_rows=max(k, (4096 // k) * k))
    if have != rows:
        log(f"--rows {opts.rows} ignored: the data has {have} rows")
        rows = result["rows"] = have
        result["mb_total"] = round(rows * BYTES_PER_ROW / 1e6, 1)
    result["data_dir"] = data_dir

    sampler = RssSampler().start()
    spark = cluster = None
    exit_code = 0
    try:
        from pyspark.sql import functions as F

        from sparktf import InputMode, TFCluster

        spark = start_spark(
            "sparktf bench_feed",
            sim.master_url if sim else opts.master,
            executors=opts.executors,
            task_max_failures=2,
            hosts=sim,
        )
        partitions = opts.partitions or 2 * opts.executors
        t0 = time.time()
        df = None
        if not opts.uncached_only:
            df = spark.read.parquet(data_dir).repartition(partitions).cache()
            counts = {r[0]: r[1] for r in df.groupBy(F.spark_partition_id()).count().collect()}
            per_partition = [int(counts.get(p, 0)) for p in range(partitions)]
            log(
                f"cached {sum(per_partition)} rows in {partitions} partitions {per_partition} "
                f"({time.time() - t0:.1f} s)"
            )
            if sum(per_partition) != rows:
                raise RuntimeError(f"Spark read {sum(per_partition)} rows, expected {rows}")
            result["rows_per_partition"] = per_partition
        per_node = rows // k  # the feed balances the rows (the Keras phase checks it)
        result["partitions"] = partitions
        result["order"] = (
            "sequential"
            if opts.sequential
            else ("rounds, mapInArrow first" if opts.mapinarrow_first else "rounds")
        )

        # ---- phases 1 and 2: sparktf feed (count-only consumer) and mapInArrow, in rounds ----
        sampler.phase("sparktf_feed")
        phases = 1 if opts.uncached_only else (2 if opts.uncached else 1)
        feeds = (opts.warmup_runs + opts.repeats) * phases
        node_args = {
            "out_dir": out_dir,
            "repeats": feeds,
            "keras": not opts.skip_keras,
            "wait_timeout": opts.timeout,
            "rows_per_node": per_node,
            "batch_per_node": opts.batch_per_node,
            "width": WIDTH,
            "keras_rounds": opts.keras_rounds,
            "keras_flavour": flavours[0],
            "stall_dump_dir": opts.stall_dump_dir,
            "stall_dump_seconds": opts.stall_dump_seconds,
        }

        def start_cluster(args: dict[str, Any]) -> Any:
            return TFCluster.run(
                spark,
                node_main,
                args,
                num_executors=k,
                num_ps=0,
                input_mode=InputMode.SPARK,
                master_node="chief",
                reservation_timeout=min(opts.timeout, 600),
                feed_timeout=opts.timeout,
                shutdown_timeout=opts.timeout,
                **({} if opts.queue_capacity is None else {"queue_capacity": opts.queue_capacity}),
                **console_settings(opts),
            )

        t0 = time.time()
        cluster = start_cluster(node_args)
        result["cluster_start_seconds"] = round(time.time() - t0, 2)
        log(f"cluster up in {result['cluster_start_seconds']} s")
        # mapInArrow's Python workers start on a tiny DataFrame, outside every timed run.
        sampler.phase("mapinarrow")
        t0 = time.perf_counter()
        mapinarrow_count(spark.range(0, 4 * opts.executors, 1, 2 * opts.executors))
        warm = time.perf_counter() - t0
        rounds = FeedRounds(spark, cluster, rows, k, opts, sampler, out_dir)
        if opts.uncached and opts.uncached_first:
            # The path most users take, first: its cold feed is the cluster's first.
            result["uncached_parquet"] = uncached_parquet_rounds(
                spark, rounds, data_dir, partitions, warm
            )
        if df is not None:
            runs, m_runs = rounds.run(df)
            result["sparktf_feed"] = rounds.feed_summary(runs)
            result["mapinarrow_count"] = rounds.mapinarrow_summary(m_runs, warm)
        if opts.uncached and not opts.uncached_first:
            # The path most users take: files, not a cached DataFrame. After the cached
            # rounds, so its first feed is not the cluster's first.
            result["uncached_parquet"] = uncached_parquet_rounds(
                spark, rounds, data_dir, partitions, warm
            )

        result["pyarrow_tfdata_one_process"] = pyarrow_phase(data_dir, rows, opts, sampler)
        if not opts.skip_keras:
            result[keys[flavours[0]]] = keras_phase(
                cluster, df, k, per_node, opts, sampler, out_dir, flavours[0]
            )
        for flavour in flavours[1:]:
            # A fresh cluster, so fresh node processes: tf_keras fitted 2-2.6x slower in a
            # process that had fitted Keras 3 (session 8). No count phase this time.
            cluster.shutdown(timeout=min(opts.timeout, 300))
            cluster = None
            flavour_dir = os.path.join(work, f"nodes-{flavour}")
            os.makedirs(flavour_dir)
            args = {**node_args, "out_dir": flavour_dir, "repeats": 0, "keras_flavour": flavour}
            cluster = start_cluster(args)
            result[keys[flavour]] = keras_phase(
                cluster, df, k, per_node, opts, sampler, flavour_dir, flavour
            )

        sampler.phase("shutdown")
        cluster.shutdown(timeout=min(opts.timeout, 300))
        cluster = None

        targets = (
            dict(result["uncached_parquet"]["ratios"])
            if df is None
            else feed_ratios(result["sparktf_feed"], result["mapinarrow_count"])
        )
        if "keras_train" in result and result["keras_train"]["ratio"] is not None:
            targets["train_ratio"] = result["keras_train"]["ratio"]
            targets["train_within_10pct"] = result["keras_train"]["ratio"] >= 0.9
            targets["train_median_round_ratio"] = result["keras_train"]["median_round_ratio"]
        if "keras_train_tf_keras" in result:
            targets["keras3_vs_tf_keras"] = keras_versus(
                result["keras_train"], result["keras_train_tf_keras"]
            )
        result["targets"] = targets
        result["load_avg_end"] = [round(v, 2) for v in os.getloadavg()]
        print(json.dumps(result), flush=True)
    except BaseException as e:  # noqa: BLE001  (any failure: reported, exit code set)
        exit_code = 1
        log(f"FAILED: {type(e).__name__}: {e}")
        open(os.path.join(out_dir, "abort"), "w").close()  # nodes waiting on files give up
        if isinstance(e, KeyboardInterrupt):
            exit_code = 130
        else:
            import traceback

            traceback.print_exc(file=sys.stderr)
    finally:
        end_spark(spark, cluster)
        sampler.stop()
        # Anything this run started and left behind (executors, nodes) is ended, by pid.
        shutil.rmtree(work, ignore_errors=True)
        if sim:
            sim.stop()
        end_leftovers(baseline_children)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
