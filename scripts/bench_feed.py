"""Feed benchmark: sparktf's JVM -> node feed against Spark's mapInArrow and a one-process
pyarrow -> tf.data reader, then Keras training from the feed against the same model trained from
an in-memory numpy array. A benchmark, not a test: prints ONE JSON object on stdout (progress
on stderr) and exits 0 whether or not the targets are met (exit 1 only when a run fails).

Data: N rows of ``x`` array<float> (784 random float32) and ``label`` int (0..9), written once
as Parquet with pyarrow (in chunks), read by Spark, repartitioned round-robin into
2 x nodes partitions and cached, so every measurement reads the same in-memory rows. Every
row group holds a multiple of ``nodes`` rows; since round-robin repartitioning deals the rows
of each input partition out in turn and sparktf sends partition ``p`` to node ``p % nodes``,
every node gets exactly N / nodes rows (checked before the cluster starts): under
MultiWorkerMirroredStrategy every worker must run the same number of steps.

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
4. Keras (unless --skip-keras), tf_keras 784-128-10 MLP, Adam, sparse CE, under
   MultiWorkerMirroredStrategy on the same cluster's nodes: first a warm-up fit (a throw-away
   model, a few steps: one-time TF/collective costs land in neither measured run), then
   ``--keras-rounds`` rounds (default 3) of: a fresh model fit on an in-memory numpy array of
   the same rows per node (random, generated in the node, AutoShardPolicy OFF), then a fresh
   model fit on ``feed.dataset(...)`` fed by another ``train()`` of the cached df. Reported:
   the best of each, the ratio of round by round and its median. The in-memory run needs no
   feed: the node runs it while no
   feed is active, and the driver starts the training feed only after every node reported it
   done (a file in a shared temp dir: this benchmark runs on one machine), so the JVM feeding
   does not compete with it for CPU and no rows are pre-queued before the feed's fit starts.
   The nodes also wait for the driver's go-ahead (another file) before starting Keras, so the
   baselines of phases 2-3 do not share the CPU with training.

Run: ``scripts/bench_feed [--rows 200000] [--data DIR] [--skip-keras] [--nodes 2] [--warmup-runs 3]``.
"""

from __future__ import annotations

import argparse
import gc
import glob
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from typing import Any

WIDTH = 784
BYTES_PER_ROW = WIDTH * 4 + 4  # x float32[784] + label int32


def run_name(run: int, warmups: int) -> str:
    return f"warm-up {run}" if run < warmups else str(run - warmups)


def log(msg: str) -> None:
    print(f"[bench_feed {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# The node program (runs in every sparktf node; self-contained, pickled by value)
# ---------------------------------------------------------------------------------------------

def node_main(args: dict[str, Any], ctx: Any) -> None:
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
        write(f"count-{run}-{me}.json", {"node": me, "rows": rows, "batches": batches,
                                         "seconds_first_batch_to_end": seconds,
                                         "end_time": time.time(),
                                         "peak_rss_mb": maxrss_mb(),
                                         "ru_maxrss_mb": resource.getrusage(
                                             resource.RUSAGE_SELF).ru_maxrss / 1024})
    if not args["keras"]:
        return

    # Phase 4: Keras. The strategy is created before any other TF op runs in this process.
    wait_for("go-keras")
    import numpy as np
    import tensorflow as tf
    import tf_keras as keras

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    width = args["width"]
    ds_batch = args["batch_per_node"] * ctx.num_workers  # see the driver's comment on batching
    off = tf.data.Options()
    off.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF

    def build() -> Any:
        keras.utils.set_random_seed(7)
        with strategy.scope():
            model = keras.Sequential([
                keras.layers.Input(shape=(width,)),
                keras.layers.Dense(128, activation="relu"),
                keras.layers.Dense(10),
            ])
            model.compile(optimizer=keras.optimizers.Adam(1e-3),
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return model

    class Clock(keras.callbacks.Callback):
        """Time of the end of the first step and of training: steady rate without step 1
        (tracing, first collective)."""

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            if batch == 0:
                self.first_step_end = time.perf_counter()
            self.steps = batch + 1

        def on_train_end(self, logs: Any = None) -> None:
            self.end = time.perf_counter()

    def timed_fit(ds: Any, rows: int | None) -> dict[str, Any]:
        model = build()
        clock = Clock()
        t0 = time.perf_counter()
        model.fit(ds, epochs=1, verbose=0, callbacks=[clock])
        seconds = time.perf_counter() - t0
        result = {"fit_seconds": seconds, "steps": getattr(clock, "steps", 0)}
        if rows is not None:
            result.update(_rates(rows, seconds, clock))
        return result

    def _rates(rows: int, seconds: float, clock: Any) -> dict[str, Any]:
        per_step = args["batch_per_node"]
        steady_s = clock.end - clock.first_step_end if hasattr(clock, "first_step_end") else 0.0
        return {"rows": rows, "rows_per_s": rows / seconds if seconds > 0 else 0.0,
                "steady_rows_per_s": (rows - per_step) / steady_s if steady_s > 0 else 0.0}

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
        return (tf.data.Dataset.from_tensor_slices((x, y)).batch(ds_batch)
                .filter(lambda xb, yb: True).with_options(off))

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
        res = timed_fit(feed_ds, n)
        res["peak_rss_mb"] = maxrss_mb()
        write(f"feedtrain-{r}-{me}.json", {"node": me, **res})


# ---------------------------------------------------------------------------------------------
# Driver side
# ---------------------------------------------------------------------------------------------

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

    def start(self) -> "RssSampler":
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
                    if kind and kind != "other":
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


def generate_parquet(data_dir: str, rows: int, chunk_rows: int, file_rows: int) -> None:
    """Writes `rows` rows in files of up to `file_rows` rows, row groups of `chunk_rows` rows,
    never holding more than one chunk in memory."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    os.makedirs(data_dir, exist_ok=True)
    rng = np.random.default_rng(42)
    schema = pa.schema([("x", pa.list_(pa.field("element", pa.float32(), nullable=False))),
                        ("label", pa.int32())])
    written, file_index = 0, 0
    t0 = time.time()
    while written < rows:
        path = os.path.join(data_dir, f"part-{file_index:05d}.parquet")
        in_file = min(file_rows, rows - written)
        with pq.ParquetWriter(path, schema) as writer:
            done = 0
            while done < in_file:
                n = min(chunk_rows, in_file - done)
                values = pa.array(rng.random(n * WIDTH, dtype=np.float32))
                offsets = pa.array(np.arange(0, (n + 1) * WIDTH, WIDTH, dtype=np.int32))
                x = pa.ListArray.from_arrays(offsets, values, type=schema.field("x").type)
                label = pa.array(rng.integers(0, 10, size=n, dtype=np.int32))
                writer.write_table(pa.Table.from_arrays([x, label], schema=schema),
                                   row_group_size=n)
                done += n
        written += in_file
        file_index += 1
        log(f"generated {written}/{rows} rows ({time.time() - t0:.1f} s)")
    with open(os.path.join(data_dir, "_bench_meta.json"), "w") as f:
        json.dump({"rows": rows, "chunk_rows": chunk_rows, "file_rows": file_rows,
                   "width": WIDTH}, f)


def parquet_files(data_dir: str) -> list[str]:
    return sorted(glob.glob(os.path.join(data_dir, "*.parquet")))


def parquet_rows(data_dir: str) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(p).metadata.num_rows for p in parquet_files(data_dir))


def wait_files(out_dir: str, pattern: str, count: int, timeout: float, what: str) -> list[dict]:
    deadline = time.time() + timeout
    while True:
        paths = sorted(glob.glob(os.path.join(out_dir, pattern)))
        if len(paths) >= count:
            result = []
            for p in paths:
                with open(p) as f:
                    result.append(json.load(f))
            return result
        if time.time() > deadline:
            raise TimeoutError(f"{what}: {len(paths)}/{count} nodes reported within {timeout} s")
        time.sleep(0.2)


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
    return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds,
            "mb_per_s": rows * BYTES_PER_ROW / seconds / 1e6,
            "read_seconds": t_read - t0, "to_numpy_seconds": t_numpy - t_read,
            "tfdata_seconds": t_end - t_numpy}


def cpu_by_kind() -> dict[str, float]:
    """CPU time (user + system) used so far by this process and every live descendant, by kind:
    driver (this Python and the driver JVM), executor JVMs, sparktf nodes, Spark's Python
    workers. On a shared machine wall time says how much CPU a run was given; CPU time says how
    much work it needed, and where."""
    import psutil

    me = psutil.Process()
    totals: dict[str, float] = {}
    for p in [me, *me.children(recursive=True)]:
        try:
            t = p.cpu_times()
            cmd = " ".join(p.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        kind = ("node" if "sparktf.node" in cmd else
                "executor_jvm" if "CoarseGrainedExecutorBackend" in cmd else
                "python_worker" if "pyspark" in cmd and ("daemon" in cmd or "worker" in cmd)
                else "driver")
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
    import psutil

    left = []
    for p in psutil.Process().children(recursive=True):
        if p.pid not in baseline:
            left.append(p.pid)
    return left


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


def end_spark(spark: Any, cluster: Any) -> None:
    """After a run, failed or not: stops a cluster still up, then Spark and its driver JVM."""
    if cluster is not None:
        try:
            cluster.shutdown(timeout=60)
        except Exception as e:  # noqa: BLE001  (already failing; report and go on)
            log(f"shutdown after failure: {e}")
    if spark is not None:
        from pyspark import SparkContext

        gateway = SparkContext._gateway
        spark.stop()
        # The driver JVM exits when its stdin closes (pyspark's gateway watches it).
        proc = getattr(gateway, "proc", None)
        if proc is not None:
            try:
                gateway.shutdown()
                if proc.stdin:
                    proc.stdin.close()
                proc.wait(timeout=30)
            except Exception as e:  # noqa: BLE001
                log(f"driver JVM did not exit by itself: {e}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--data", default=None,
                        help="Parquet dir to reuse (generated there when it holds no Parquet)")
    parser.add_argument("--skip-keras", action="store_true")
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--master", default="local-cluster[2,1,2048]")
    parser.add_argument("--warmup-runs", type=int, default=3,
                        help="untimed whole-DataFrame runs of the sparktf feed and of mapInArrow "
                             "before their timed ones (JIT compilation happens there)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of the sparktf feed and mapInArrow count (best reported)")
    parser.add_argument("--sequential", action="store_true",
                        help="all feed runs, then all mapInArrow runs, instead of rounds")
    parser.add_argument("--keras-rounds", type=int, default=3,
                        help="rounds of an in-memory fit then a fit from the feed")
    parser.add_argument("--queue-capacity", type=int, default=16)
    parser.add_argument("--batch-per-node", type=int, default=256,
                        help="Keras rows per node per step")
    parser.add_argument("--tfdata-batch", type=int, default=256)
    parser.add_argument("--timeout", type=float, default=1800,
                        help="bound on every wait (cluster start, each feed, node reports)")
    opts = parser.parse_args(argv)
    k = opts.nodes
    rows = opts.rows - opts.rows % k  # every node gets the same number of rows
    if rows <= 0:
        parser.error(f"--rows must be at least --nodes ({k})")

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    import psutil

    baseline_children = {p.pid for p in psutil.Process().children(recursive=True)}
    work = tempfile.mkdtemp(prefix="sparktf-bench-")
    out_dir = os.path.join(work, "nodes")
    os.makedirs(out_dir)
    data_dir = opts.data or os.path.join(work, "data")
    result: dict[str, Any] = {"rows": rows, "nodes": k, "master": opts.master,
                              "bytes_per_row": BYTES_PER_ROW,
                              "mb_total": round(rows * BYTES_PER_ROW / 1e6, 1),
                              "load_avg_start": [round(v, 2) for v in os.getloadavg()],
                              "cpus": os.cpu_count()}
    # Chunk rows: a multiple of k (see the module docstring: exact per-node split).
    chunk_rows = max(k, (4096 // k) * k)
    if not parquet_files(data_dir):
        log(f"writing {rows} rows to {data_dir}")
        generate_parquet(data_dir, rows, chunk_rows, file_rows=chunk_rows * 16)
    else:
        have = parquet_rows(data_dir)
        log(f"reusing {data_dir}: {have} rows")
        if have != rows:
            log(f"--rows {opts.rows} ignored: the data has {have} rows")
            rows = result["rows"] = have
            result["mb_total"] = round(rows * BYTES_PER_ROW / 1e6, 1)
    result["data_dir"] = data_dir

    sampler = RssSampler().start()
    spark = cluster = None
    exit_code = 0
    try:
        from pyspark.sql import SparkSession
        from pyspark.sql import functions as F

        import sparktf
        from sparktf import InputMode, TFCluster

        log(f"starting Spark on {opts.master}")
        builder = (
            SparkSession.builder.appName("sparktf bench_feed")
            .config("spark.jars", sparktf.jar_path())
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.pyspark.python", sys.executable)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.scheduler.barrier.maxConcurrentTasksCheck.maxFailures", "1")
            .config("spark.scheduler.barrier.maxConcurrentTasksCheck.interval", "1s")
            .config("spark.task.maxFailures", "2")
        )
        if opts.master:
            builder = builder.master(opts.master)
        spark = builder.getOrCreate()
        spark.sparkContext.setLogLevel("WARN")
        deadline = time.time() + 120
        while spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size() < k + 1:
            if time.time() > deadline:
                raise TimeoutError(f"{k} executors did not register within 120 s")
            time.sleep(0.5)

        partitions = 2 * k
        t0 = time.time()
        df = spark.read.parquet(data_dir).repartition(partitions).cache()
        counts = {r[0]: r[1] for r in
                  df.groupBy(F.spark_partition_id()).count().collect()}
        per_partition = [int(counts.get(p, 0)) for p in range(partitions)]
        per_node = [sum(per_partition[p] for p in range(partitions) if p % k == i)
                    for i in range(k)]
        log(f"cached {sum(per_partition)} rows in {partitions} partitions {per_partition} "
            f"({time.time() - t0:.1f} s); rows per node {per_node}")
        if sum(per_partition) != rows:
            raise RuntimeError(f"Spark read {sum(per_partition)} rows, expected {rows}")
        if len(set(per_node)) != 1 and not opts.skip_keras:
            log("WARNING: nodes get different row counts; MWMS steps may differ")
        result["partitions"] = partitions
        result["order"] = "sequential" if opts.sequential else "rounds"
        result["rows_per_partition"] = per_partition

        # ---- phase 1: sparktf feed, count-only consumer --------------------------------------
        sampler.phase("sparktf_feed")
        feeds = opts.warmup_runs + opts.repeats
        node_args = {"out_dir": out_dir, "repeats": feeds, "keras": not opts.skip_keras,
                     "wait_timeout": opts.timeout, "rows_per_node": min(per_node),
                     "batch_per_node": opts.batch_per_node, "width": WIDTH,
                     "keras_rounds": opts.keras_rounds}
        t0 = time.time()
        cluster = TFCluster.run(spark, node_main, node_args, num_executors=k, num_ps=0,
                                input_mode=InputMode.SPARK, master_node="chief",
                                reservation_timeout=min(opts.timeout, 600),
                                feed_timeout=opts.timeout, shutdown_timeout=opts.timeout,
                                queue_capacity=opts.queue_capacity)
        result["cluster_start_seconds"] = round(time.time() - t0, 2)
        log(f"cluster up in {result['cluster_start_seconds']} s")
        nodes_seen: list[dict[str, Any]] = []

        def feed_run(run: int) -> dict[str, Any]:
            nonlocal nodes_seen
            sampler.phase("sparktf_feed")
            cpu0 = cpu_by_kind()
            start_time = time.time()
            t0 = time.perf_counter()
            report = cluster.train(df, num_epochs=1)
            wall = time.perf_counter() - t0
            if report["rows_total"] != rows:
                raise RuntimeError(f"feed {run}: {report['rows_total']} rows fed, not {rows}")
            nodes_seen = wait_files(out_dir, f"count-{run}-*.json", k, opts.timeout,
                                    f"count feed {run}")
            # train() returns once the nodes hold every row, some still queued: this is until
            # the last node's program has counted its last row (one machine, one clock).
            consumed = max(n["end_time"] for n in nodes_seen) - start_time
            cpu_kinds = cpu_delta(cpu0)  # the nodes' counting is done: their files are written
            cpu = cpu_total(cpu_kinds)
            counted = sum(n["rows"] for n in nodes_seen)
            if counted != rows:
                raise RuntimeError(f"feed {run}: nodes counted {counted} rows, not {rows}")
            log(f"sparktf feed {run_name(run, opts.warmup_runs)}: "
                f"{report['rows_per_second']:.0f} rows/s "
                f"({report['seconds']:.2f} s; wall {wall:.2f} s; cpu {cpu:.2f} s)")
            return {"seconds": report["seconds"], "rows_per_s": report["rows_per_second"],
                    "wall_seconds": wall, "wall_rows_per_s": rows / wall,
                    "until_consumed_seconds": consumed,
                    "until_consumed_rows_per_s": rows / consumed,
                    "cpu_seconds": cpu, "cpu_us_per_row": cpu / rows * 1e6,
                    "cpu_seconds_by_process": cpu_kinds,
                    "rows_per_node": report["rows_per_node"],
                    "node_seconds_first_batch_to_end":
                        {n["node"]: round(n["seconds_first_batch_to_end"], 3)
                         for n in nodes_seen},
                    "node_peak_rss_mb": {n["node"]: round(n["peak_rss_mb"], 1)
                                         for n in nodes_seen}}

        def mapinarrow_run(run: int) -> dict[str, Any]:
            sampler.phase("mapinarrow")
            cpu0 = cpu_by_kind()
            t0 = time.perf_counter()
            n = mapinarrow_count(df)
            seconds = time.perf_counter() - t0
            cpu_kinds = cpu_delta(cpu0)
            cpu = cpu_total(cpu_kinds)
            if n != rows:
                raise RuntimeError(f"mapInArrow counted {n} rows, not {rows}")
            log(f"mapInArrow {run_name(run, opts.warmup_runs)}: {rows / seconds:.0f} rows/s "
                f"({seconds:.2f} s; cpu {cpu:.2f} s)")
            return {"seconds": round(seconds, 3), "rows_per_s": round(rows / seconds, 1),
                    "cpu_seconds": round(cpu, 3), "cpu_us_per_row": round(cpu / rows * 1e6, 2),
                    "cpu_seconds_by_process": cpu_kinds}

        # mapInArrow's Python workers start on a tiny DataFrame, outside every timed run.
        sampler.phase("mapinarrow")
        t0 = time.perf_counter()
        mapinarrow_count(spark.range(0, 4 * k, 1, 2 * k))
        warm = time.perf_counter() - t0
        # Rounds of one feed then one mapInArrow run: a shared machine that slows down or
        # speeds up over the minutes of a benchmark weighs on both alike. --sequential: all
        # feeds, then all mapInArrow runs (each method's runs back to back).
        if opts.sequential:
            runs = [feed_run(run) for run in range(feeds)]
            m_runs = [mapinarrow_run(run) for run in range(feeds)]
        else:
            runs, m_runs = [], []
            for run in range(feeds):
                runs.append(feed_run(run))
                m_runs.append(mapinarrow_run(run))
        warm_runs, runs = runs[:opts.warmup_runs], runs[opts.warmup_runs:]
        best = max(runs, key=lambda r: r["rows_per_s"])
        best_wall = max(runs, key=lambda r: r["wall_rows_per_s"])
        best_consumed = max(runs, key=lambda r: r["until_consumed_rows_per_s"])
        least_cpu = min(runs, key=lambda r: r["cpu_seconds"])
        peaks = sampler.peaks("sparktf_feed")
        result["sparktf_feed"] = {
            "rows_per_s": round(best["rows_per_s"], 1),
            "median_rows_per_s": round(statistics.median(r["rows_per_s"] for r in runs), 1),
            # the first feed after the cluster started: JIT compilation, class loading, channels
            "cold_rows_per_s": round((warm_runs or runs)[0]["rows_per_s"], 1),
            "mb_per_s": round(best["rows_per_s"] * BYTES_PER_ROW / 1e6, 1),
            "seconds": round(best["seconds"], 3),
            "wall_seconds_around_train": round(best["wall_seconds"], 3),
            "wall_rows_per_s": round(best["wall_rows_per_s"], 1),
            # the fastest run by wall time around train() (counting, feeding, EndFeed)
            "best_wall_rows_per_s": round(best_wall["wall_rows_per_s"], 1),
            # the fastest run from the train() call until the nodes' programs took every row
            "best_until_consumed_rows_per_s": round(
                best_consumed["until_consumed_rows_per_s"], 1),
            "least_cpu_us_per_row": round(least_cpu["cpu_us_per_row"], 2),
            "rows_per_node": best["rows_per_node"],
            "queue_capacity": opts.queue_capacity,
            "peak_rss_mb": {
                "driver_python": round(peaks.get("driver_python", 0.0), 1),
                "driver_jvm": round(peaks.get("driver_jvm", 0.0), 1),
                "executor_jvms": sorted(round(v, 1) for key, v in peaks.items()
                                        if key.startswith("executor_jvm")),
                # VmHWM of each node process after the count feeds (TensorFlow not imported)
                "nodes": [best["node_peak_rss_mb"][n] for n in sorted(best["node_peak_rss_mb"])],
                # ru_maxrss as the node sees it: includes the spawning executor JVM's peak
                "nodes_ru_maxrss": [round(n["ru_maxrss_mb"], 1) for n in sorted(
                    nodes_seen, key=lambda n: n["node"])],
                "nodes_sampled": sorted(round(v, 1) for key, v in peaks.items()
                                        if key.startswith("node:")),
            },
            "runs": [{key: (round(v, 3) if isinstance(v, float) else v) for key, v in r.items()}
                     for r in runs],
            "warmup_runs": [round(r["rows_per_s"], 1) for r in warm_runs],
        }

        # ---- phase 2: mapInArrow count (run in the rounds above) --------------------------
        m_warm, m_runs = m_runs[:opts.warmup_runs], m_runs[opts.warmup_runs:]
        m_best = min(m_runs, key=lambda r: r["seconds"])
        m_least_cpu = min(r["cpu_us_per_row"] for r in m_runs)
        m_peaks = sampler.peaks("mapinarrow")
        result["mapinarrow_count"] = {
            "rows_per_s": m_best["rows_per_s"],
            "median_rows_per_s": round(statistics.median(r["rows_per_s"] for r in m_runs), 1),
            "cold_rows_per_s": (m_warm or m_runs)[0]["rows_per_s"],
            "mb_per_s": round(m_best["rows_per_s"] * BYTES_PER_ROW / 1e6, 1),
            "seconds": m_best["seconds"],
            "least_cpu_us_per_row": m_least_cpu,
            "warmup_seconds": round(warm, 3),
            "arrow_max_records_per_batch":
                spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch"),
            "peak_rss_mb": {"spark_python_workers": sorted(
                round(v, 1) for key, v in m_peaks.items()
                if key.startswith("spark_python_worker"))},
            "runs": m_runs,
            "warmup_runs": [r["rows_per_s"] for r in m_warm],
        }

        # ---- phase 3: pyarrow -> tf.data in this process ---------------------------------------
        sampler.phase("pyarrow_tfdata")
        log("pyarrow + tf.data in the driver process")
        import tensorflow as tf  # noqa: F401  (imported before the timed read)

        p_runs = []
        for run in range(opts.repeats):
            r = pyarrow_tfdata(parquet_files(data_dir), opts.tfdata_batch)
            gc.collect()
            if r["rows"] != rows:
                raise RuntimeError(f"pyarrow/tf.data read {r['rows']} rows, not {rows}")
            p_runs.append({key: (round(v, 3) if isinstance(v, float) else v)
                           for key, v in r.items()})
            log(f"pyarrow+tf.data {run}: {r['rows_per_s']:.0f} rows/s ({r['seconds']:.2f} s)")
        p_best = min(p_runs, key=lambda r: r["seconds"])
        result["pyarrow_tfdata_one_process"] = {
            **{key: p_best[key] for key in ("rows_per_s", "mb_per_s", "seconds", "read_seconds",
                                            "to_numpy_seconds", "tfdata_seconds")},
            "batch": opts.tfdata_batch,
            "peak_rss_mb_driver_python": round(
                sampler.peaks("pyarrow_tfdata").get("driver_python", 0.0), 1),
            "runs": p_runs,
        }

        # ---- phase 4: Keras ------------------------------------------------------------------
        if not opts.skip_keras:
            sampler.phase("keras")
            log("Keras: warm-up + in-memory numpy fit on the nodes")
            open(os.path.join(out_dir, "go-keras"), "w").close()
            rounds = []
            for r in range(opts.keras_rounds):
                inmem = wait_files(out_dir, f"inmem-{r}-*.json", k, opts.timeout,
                                   "in-memory Keras run")
                log(f"Keras round {r}: fit from the sparktf feed")
                t0 = time.perf_counter()
                report = cluster.train(df, num_epochs=1)
                train_wall = time.perf_counter() - t0
                if sorted(report["rows_per_node"].values()) != [min(per_node)] * k:
                    raise RuntimeError(f"training feed: rows per node {report['rows_per_node']}, "
                                       f"the in-memory runs used {min(per_node)} each")
                fed = wait_files(out_dir, f"feedtrain-{r}-*.json", k, opts.timeout,
                                 "feed Keras run")
                # Summed over nodes: each node's rows / its own model.fit wall time.
                s_feed = sum(n["rows_per_s"] for n in fed)
                s_mem = sum(n["rows_per_s"] for n in inmem)
                log(f"Keras round {r}: feed {s_feed:.0f} rows/s vs in-memory {s_mem:.0f} rows/s")
                rounds.append({"fed": fed, "inmem": inmem, "report": report,
                               "train_wall": train_wall, "s_feed": s_feed, "s_mem": s_mem,
                               "st_feed": sum(n["steady_rows_per_s"] for n in fed),
                               "st_mem": sum(n["steady_rows_per_s"] for n in inmem)})

            def node_view(ns: list[dict]) -> dict[str, Any]:
                return {n["node"]: {key: (round(v, 3) if isinstance(v, float) else v)
                                    for key, v in n.items() if key != "node"} for n in ns}

            fed = [n for rd in rounds for n in rd["fed"]]
            inmem = [n for rd in rounds for n in rd["inmem"]]
            steps = {"sparktf_feed": sorted({n["steps"] for n in fed}),
                     "in_memory": sorted({n["steps"] for n in inmem})}
            if steps["sparktf_feed"] != steps["in_memory"] or len(steps["in_memory"]) != 1:
                log(f"WARNING: the runs took different step counts: {steps}")
            s_feed = max(rd["s_feed"] for rd in rounds)
            s_mem = max(rd["s_mem"] for rd in rounds)
            st_feed = max(rd["st_feed"] for rd in rounds)
            st_mem = max(rd["st_mem"] for rd in rounds)
            round_ratios = [rd["s_feed"] / rd["s_mem"] for rd in rounds if rd["s_mem"]]
            result["keras_train"] = {
                # Best round of each: rows summed over nodes, each its rows / its fit time.
                "sparktf_feed_rows_per_s": round(s_feed, 1),
                "in_memory_numpy_rows_per_s": round(s_mem, 1),
                "ratio": round(s_feed / s_mem, 3) if s_mem else None,
                # Round by round: the two fits of a round ran one after the other.
                "round_ratios": [round(v, 3) for v in round_ratios],
                "median_round_ratio": round(statistics.median(round_ratios), 3)
                if round_ratios else None,
                "steady_sparktf_feed_rows_per_s": round(st_feed, 1),
                "steady_in_memory_numpy_rows_per_s": round(st_mem, 1),
                "steady_ratio": round(st_feed / st_mem, 3) if st_mem else None,
                "model": "784-128-10 relu MLP, tf_keras, Adam(1e-3), sparse CE, MWMS",
                "batch_per_node_per_step": opts.batch_per_node,
                "steps_per_node": steps,
                # MWMS splits each dataset batch over all replicas (legacy rebatch for the
                # feed's unknown batch size, rebatch([b/k]*k) for numpy); with auto-sharding
                # OFF each node still consumes its whole dataset, so a dataset batch of
                # k * batch_per_node gives batch_per_node rows per node per step.
                "dataset_batch": opts.batch_per_node * k,
                "rounds": [{"train_feed_report": {
                                "rows_total": rd["report"]["rows_total"],
                                "seconds": round(rd["report"]["seconds"], 3),
                                "rows_per_node": rd["report"]["rows_per_node"],
                                "wall_seconds_around_train": round(rd["train_wall"], 3)},
                            "sparktf_feed_per_node": node_view(rd["fed"]),
                            "in_memory_per_node": node_view(rd["inmem"])} for rd in rounds],
            }
            log(f"Keras: best feed {s_feed:.0f} rows/s vs best in-memory {s_mem:.0f} rows/s")

        sampler.phase("shutdown")
        cluster.shutdown(timeout=min(opts.timeout, 300))
        cluster = None

        ratio = result["sparktf_feed"]["rows_per_s"] / result["mapinarrow_count"]["rows_per_s"]
        feed, mia = result["sparktf_feed"], result["mapinarrow_count"]
        targets: dict[str, Any] = {
            "feed_vs_mapinarrow": round(ratio, 3),
            "feed_ge_1_5x": ratio >= 1.5,
            "feed_vs_mapinarrow_median": round(
                feed["median_rows_per_s"] / mia["median_rows_per_s"], 3),
            "feed_vs_mapinarrow_cold": round(feed["cold_rows_per_s"] / mia["cold_rows_per_s"], 3),
            # Stricter: wall time around the whole train() call (counting, EndFeed included).
            "feed_vs_mapinarrow_wall": round(feed["best_wall_rows_per_s"] / mia["rows_per_s"], 3),
            # Strictest: until the nodes' programs counted every row, as mapInArrow's time is
            # until its Python function counted every row.
            "feed_vs_mapinarrow_until_consumed": round(
                feed["best_until_consumed_rows_per_s"] / mia["rows_per_s"], 3),
            # Work per row (least CPU time of the runs): load-independent on a shared machine.
            "feed_vs_mapinarrow_cpu": round(
                mia["least_cpu_us_per_row"] / feed["least_cpu_us_per_row"], 3),
        }
        if "keras_train" in result and result["keras_train"]["ratio"] is not None:
            targets["train_ratio"] = result["keras_train"]["ratio"]
            targets["train_within_10pct"] = result["keras_train"]["ratio"] >= 0.9
            targets["train_median_round_ratio"] = result["keras_train"]["median_round_ratio"]
        result["targets"] = targets
        result["load_avg_end"] = [round(v, 2) for v in os.getloadavg()]
        print(json.dumps(result), flush=True)
    except BaseException as e:
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
        end_leftovers(baseline_children)
        shutil.rmtree(work, ignore_errors=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
