"""Inference benchmark (issue 5): ``TFModel.transform`` against ``cluster.inference`` and
Spark's ``predict_batch_udf`` (batch 256), on the same cached DataFrame and the same SavedModel,
in one run. A benchmark, not a test: prints ONE JSON object on stdout (progress on stderr) and
exits 0 whether or not the target (transform >= 2x predict_batch_udf) is met; exit 1 when a run
fails.

Data: N rows of ``x`` array<float> (784 random float32) and ``label`` int, written as Parquet
(``benchlib.data``, as for bench_feed), read back by Spark, repartitioned into 2 x executors
partitions and cached, so every measurement reads the same in-memory rows.

Model: a 784-128-10 relu MLP (tf_keras, seeded random weights) built in the driver and saved as
a SavedModel (``model.save(dir, save_format="tf")``, as ``sparktf.program.export`` does for
tf_keras): input ``x``, output ``scores`` (10 floats a row).

Each method must compute every row's scores: the timed action is
``agg(sum(size(scores)))`` (a plain ``count()`` may prune the inference column), and its result
must equal rows x 10. Each is set up and warmed up on a small slice first (model loads, Python
workers start). Then come rounds, each running every method once on the whole DataFrame, in
turn: ``--warmup-runs`` untimed rounds (default 3, listed as ``warmup_runs``: the JVMs compile
the methods' hot paths there, and on 2 cores the JIT compilers keep runs getting faster for 3-4
runs), then ``--repeats`` timed rounds (default 3). Rounds, not one method's runs after the
other's, so that a shared machine slowing down or speeding up over minutes weighs on every
method alike. Reported per method: the best timed run, the median, all runs, and the first
(cold) run; and transform/udf as the ratio of bests, of medians, and the median of the
round-by-round ratios. ``--sequential``: each method's runs back to back instead.

1. ``TFModel.transform``: the warm-up starts one model server per executor (its time is the
   load time); the timed runs reuse them (their pids are checked unchanged).
2. ``cluster.inference``: a cluster of one node per executor whose program loads the same
   SavedModel and answers every batch with ``feed.batch_results``; start time reported apart.
3. ``pyspark.ml.functions.predict_batch_udf`` (batch 256), ``make_predict_fn`` loading the same
   SavedModel.

``--uncached``: every method also runs, in the same rounds, on the Parquet files read as they
are (``spark.read.parquet``, not cached: each run decodes the files again, the path most users
take), reported under ``<method>_uncached_parquet`` with their own ratios.

``--hosts H``: the same on H simulated hosts (``scripts/sim_cluster.py``: one worker per
127.0.0.x, each with a private /dev/shm and /tmp), one executor per host.

Run: ``scripts/bench_inference [--rows 200000] [--data DIR] [--repeats 3] [--warmup-runs 3]
[--hosts 3] [--uncached]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from benchlib.data import WIDTH, ensure_parquet
from benchlib.processes import child_pids, end_leftovers
from benchlib.rounds import log, set_bench, summary
from benchlib.session import SimHosts, end_spark, start_spark

set_bench("bench_inference")
CLASSES = 10
UNCACHED = "_uncached_parquet"  # the key suffix of the runs on the uncached files


def node_main(args: dict[str, Any], ctx: Any) -> None:
    """The cluster.inference program: the SavedModel answers every batch (runs in each node)."""
    import tensorflow as tf

    fn = tf.saved_model.load(args["export_dir"]).signatures["serving_default"]
    feed = ctx.get_data_feed(train_mode=False)
    while not feed.should_stop():
        batch = feed.next_batch(args["batch_size"])
        if batch:
            feed.batch_results({"scores": fn(x=tf.constant(batch["x"]))["scores"].numpy()})


def make_predict_fn_for(export_dir: str) -> Callable[[], Callable[[Any], Any]]:
    """predict_batch_udf's factory: loads the SavedModel once per Python worker."""

    def make_predict_fn() -> Callable[[Any], Any]:
        import tensorflow as tf

        fn = tf.saved_model.load(export_dir).signatures["serving_default"]

        def predict(x: Any) -> Any:
            return fn(x=tf.constant(x))["scores"].numpy()

        return predict

    return make_predict_fn


def export_mlp(export_dir: str) -> None:
    """784-128-10 relu MLP with seeded random weights, saved as a tf_keras SavedModel."""
    import tf_keras as keras

    keras.utils.set_random_seed(7)
    model = keras.Sequential(
        [
            keras.Input(shape=(WIDTH,), name="x"),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(CLASSES, name="scores"),
        ]
    )
    model.save(export_dir, save_format="tf")


def server_pids() -> set[int]:
    """Model server processes under this run (descendants of this process)."""
    import psutil

    pids = set()
    for p in psutil.Process().children(recursive=True):
        try:
            if "sparktf.serving" in " ".join(p.cmdline()):
                pids.add(p.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return pids


def scored_values(df: Any) -> int:
    """Runs the job; every row's scores are computed (summed sizes, not a prunable count)."""
    from pyspark.sql import functions as F

    return int(df.agg(F.sum(F.size("scores"))).collect()[0][0] or 0)


def one_run(
    name: str,
    make: Callable[[Any], Any],
    df: Any,
    rows: int,
    what: str,
    after_run: Callable[[], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One run of ``make(df)`` on the whole DataFrame, checked and timed."""
    t0 = time.perf_counter()
    got = scored_values(make(df))
    seconds = time.perf_counter() - t0
    if got != rows * CLASSES:
        raise RuntimeError(f"{name} {what}: {got} score values, not {rows * CLASSES}")
    entry: dict[str, Any] = {"seconds": round(seconds, 3), "rows_per_s": round(rows / seconds, 1)}
    if after_run is not None:
        entry.update(after_run())
    log(f"{name} {what}: {rows / seconds:.0f} rows/s ({seconds:.2f} s)")
    return entry


def warm(name: str, make: Callable[[Any], Any], df: Any) -> float:
    t0 = time.perf_counter()
    scored_values(make(df))
    seconds = time.perf_counter() - t0
    log(f"{name} warm-up: {seconds:.2f} s")
    return round(seconds, 3)


def ratios(result: dict[str, Any], suffix: str) -> dict[str, Any]:
    """sparktf's methods against predict_batch_udf on one DataFrame (``suffix`` names it)."""

    def get(method: str, figure: str) -> Any:
        return result.get(method + suffix, {}).get(figure)

    t, u, c = (
        get(m, "rows_per_s")
        for m in ("tfmodel_transform", "predict_batch_udf", "cluster_inference")
    )
    tm, um = (
        get("tfmodel_transform", "median_rows_per_s"),
        get("predict_batch_udf", "median_rows_per_s"),
    )
    # Round by round: the methods of one round ran within seconds of each other.
    paired = [
        a["rows_per_s"] / b["rows_per_s"]
        for a, b in zip(
            get("tfmodel_transform", "runs") or [], get("predict_batch_udf", "runs") or []
        )
    ]
    return {
        "median_of_rounds_transform_vs_predict_batch_udf": round(statistics.median(paired), 3)
        if paired
        else None,
        "median_transform_vs_predict_batch_udf": round(tm / um, 3) if tm and um else None,
        "transform_vs_predict_batch_udf": round(t / u, 3) if t and u else None,
        "cluster_inference_vs_predict_batch_udf": round(c / u, 3) if c and u else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument(
        "--data",
        default=None,
        help="Parquet dir to reuse (generated there when it holds no Parquet)",
    )
    parser.add_argument("--executors", type=int, default=2)
    parser.add_argument("--master", default=None, help="default local-cluster[EXECUTORS,1,2048]")
    parser.add_argument(
        "--hosts",
        type=int,
        default=0,
        help="run on H simulated hosts (scripts/sim_cluster.py: private /dev/shm each), one "
        "executor per host; --master and --executors are then ignored",
    )
    parser.add_argument(
        "--executor-memory-mb", type=int, default=2048, help="executor memory with --hosts"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds")
    parser.add_argument(
        "--transform-batch",
        type=int,
        default=1024,
        help="TFModel batchSize (rows per batch sent to the model server)",
    )
    parser.add_argument(
        "--inference-batch",
        type=int,
        default=1024,
        help="cluster.inference batch_size and the program's next_batch size",
    )
    parser.add_argument("--udf-batch", type=int, default=256, help="predict_batch_udf batch_size")
    parser.add_argument("--warmup-rows", type=int, default=2048)
    parser.add_argument(
        "--warmup-runs",
        type=int,
        default=3,
        help="untimed rounds on the whole DataFrame before the timed ones",
    )
    parser.add_argument(
        "--uncached",
        action="store_true",
        help="also run every method on the uncached Parquet files, in the same rounds",
    )
    parser.add_argument(
        "--sequential",
        action="store_true",
        help="each method's runs back to back instead of rounds",
    )
    parser.add_argument(
        "--timeout", type=float, default=900, help="bound on cluster start, feeds and shutdown"
    )
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["transform", "inference", "udf"],
        help="leave a method out",
    )
    opts = parser.parse_args(argv)
    if opts.hosts and opts.data and os.path.realpath(opts.data).startswith("/tmp/"):
        parser.error("--data must not be under /tmp with --hosts (each host's /tmp is its own)")
    k = opts.hosts or opts.executors
    master = (
        f"{opts.hosts} simulated hosts"
        if opts.hosts
        else opts.master or f"local-cluster[{k},1,2048]"
    )
    rows = opts.rows
    if rows <= 0:
        parser.error("--rows must be positive")

    baseline_children = child_pids()
    sim = SimHosts(opts.hosts, opts.executor_memory_mb).start() if opts.hosts else None
    # With --hosts, the data and the SavedModel live where every host sees them.
    work = tempfile.mkdtemp(prefix="sparktf-ibench-", dir=sim.work_parent if sim else None)
    data_dir = opts.data or os.path.join(work, "data")
    export_dir = os.path.join(work, "model")
    result: dict[str, Any] = {
        "rows": rows,
        "executors": k,
        "master": master,
        "model": "784-128-10 relu MLP, tf_keras SavedModel",
        "cpus": os.cpu_count(),
        "load_avg_start": [round(v, 2) for v in os.getloadavg()],
    }
    rows = result["rows"] = ensure_parquet(data_dir, rows, chunk_rows=max(k, (4096 // k) * k))
    export_mlp(export_dir)
    log(f"SavedModel at {export_dir}")

    spark = cluster = None
    exit_code = 0
    try:
        from pyspark.sql import functions as F
        from pyspark.sql.types import ArrayType, FloatType

        from sparktf import InputMode, TFCluster
        from sparktf.ml import TFModel

        spark = start_spark(
            "sparktf bench_inference",
            sim.master_url if sim else master,
            executors=k,
            task_max_failures=1,
            hosts=sim,
        )

        partitions = 2 * k
        t0 = time.time()
        df = spark.read.parquet(data_dir).repartition(partitions).cache()
        cached = df.count()
        if cached != rows:
            raise RuntimeError(f"Spark read {cached} rows, expected {rows}")
        # A sample keeps df's partitions, so the warm-up's tasks run where df's cached blocks
        # are: on every executor, each starting its model server there. (limit + repartition
        # made one partition first: its shuffle output on one executor drew every warm-up task
        # there, and the other executors started their servers in the first timed round.)
        small = df.sample(fraction=min(1.0, opts.warmup_rows / rows), seed=7).cache()
        small.count()
        log(f"cached {rows} rows in {partitions} partitions ({time.time() - t0:.1f} s)")
        result["partitions"] = partitions
        result["order"] = "sequential" if opts.sequential else "rounds"

        # Each method is set up and warmed on a small slice first; then the timed rounds run
        # every method once per round, in turn, so a machine that slows down or speeds up over
        # the minutes of a benchmark (a shared host does) weighs on every method alike.
        methods: list[tuple[str, str, Callable[[Any], Any], Any]] = []
        # The files as they are: each run reads and decodes them again.
        files = spark.read.parquet(data_dir) if opts.uncached else None
        if files is not None:
            result["uncached_partitions"] = files.rdd.getNumPartitions()

        # ---- 1. TFModel.transform ---------------------------------------------------------
        if "transform" not in opts.skip:
            model = TFModel(
                export_dir=export_dir,
                input_mapping={"x": "x"},
                output_mapping={"scores": "scores"},
                batch_size=opts.transform_batch,
            )
            first = warm("TFModel.transform", model.transform, small)
            pids = server_pids()
            log(f"model servers {sorted(pids)}")
            if len(pids) != k:
                log(f"WARNING: {len(pids)} model servers after the warm-up, one per executor ({k})")
            methods.append(
                (
                    "tfmodel_transform",
                    "TFModel.transform",
                    model.transform,
                    lambda: {"same_model_servers": server_pids() == pids},
                )
            )
            result["tfmodel_transform"] = {
                "batch_size": opts.transform_batch,
                "warmup_seconds_incl_model_server_start": first,
                "model_servers": len(pids),
                "model_servers_expected": k,  # one per executor that ran a task
            }

        # ---- 2. cluster.inference -----------------------------------------------------------
        if "inference" not in opts.skip:
            t0 = time.perf_counter()
            cluster = TFCluster.run(
                spark,
                node_main,
                {"export_dir": export_dir, "batch_size": opts.inference_batch},
                num_executors=k,
                num_ps=0,
                input_mode=InputMode.SPARK,
                reservation_timeout=min(opts.timeout, 600),
                feed_timeout=opts.timeout,
                shutdown_timeout=opts.timeout,
                # The chief's output lines would reach this stdout ahead of the JSON.
                node_output="none",
            )
            start_s = round(time.perf_counter() - t0, 3)
            log(f"cluster up in {start_s} s")
            running = cluster

            def infer(d: Any) -> Any:
                return running.inference(d, "scores array<float>", batch_size=opts.inference_batch)

            first = warm("cluster.inference", infer, small)
            methods.append(("cluster_inference", "cluster.inference", infer, None))
            result["cluster_inference"] = {
                "batch_size": opts.inference_batch,
                "cluster_start_seconds": start_s,
                "warmup_seconds": first,
            }

        # ---- 3. predict_batch_udf -----------------------------------------------------------
        if "udf" not in opts.skip:
            from pyspark.ml.functions import predict_batch_udf

            udf = predict_batch_udf(
                make_predict_fn_for(export_dir),
                return_type=ArrayType(FloatType()),
                batch_size=opts.udf_batch,
                input_tensor_shapes=[[WIDTH]],
            )

            def predict(d: Any) -> Any:
                return d.withColumn("scores", udf(F.col("x")))

            first = warm("predict_batch_udf", predict, small)
            methods.append(("predict_batch_udf", "predict_batch_udf", predict, None))
            result["predict_batch_udf"] = {"batch_size": opts.udf_batch, "warmup_seconds": first}

        # ---- the rounds: --warmup-runs untimed, then --repeats timed ---------------------------
        sources = [("", "cached", df)]
        if files is not None:
            sources.append((UNCACHED, "uncached Parquet", files))
            for key, *_ in methods:
                result[key + UNCACHED] = {}
        timed = [
            (key + suffix, f"{name} ({label})", make, after_run, data)
            for key, name, make, after_run in methods
            for suffix, label, data in sources
        ]
        runs: dict[str, list[dict[str, Any]]] = {key: [] for key, *_ in timed}
        schedule = [(run, m) for m in timed for run in range(opts.warmup_runs + opts.repeats)]
        if not opts.sequential:
            schedule.sort(key=lambda item: item[0])  # stable: the methods in turn, per round
        for run, (key, name, make, after_run, data) in schedule:
            what = (
                f"warm-up run {run}" if run < opts.warmup_runs else f"run {run - opts.warmup_runs}"
            )
            runs[key].append(one_run(name, make, data, rows, what, after_run))
        for key, *_ in timed:
            result[key].update(summary(runs[key], opts.warmup_runs))
        if cluster is not None:
            cluster.shutdown(timeout=min(opts.timeout, 300))
            cluster = None

        result["ratios"] = ratios(result, "")
        if files is not None:
            result["ratios_uncached_parquet"] = ratios(result, UNCACHED)
        t = result.get("tfmodel_transform", {}).get("rows_per_s")
        u = result.get("predict_batch_udf", {}).get("rows_per_s")
        result["target_transform_ge_2x_udf"] = bool(t and u and t >= 2 * u)
        result["load_avg_end"] = [round(v, 2) for v in os.getloadavg()]
        print(json.dumps(result), flush=True)
    except BaseException as e:  # noqa: BLE001  (any failure: reported, exit code set)
        exit_code = 130 if isinstance(e, KeyboardInterrupt) else 1
        log(f"FAILED: {type(e).__name__}: {e}")
        if not isinstance(e, KeyboardInterrupt):
            import traceback

            traceback.print_exc(file=sys.stderr)
    finally:
        end_spark(spark, cluster)
        # Anything this run started and left behind (executors, servers, nodes) is ended by pid.
        shutil.rmtree(work, ignore_errors=True)
        if sim:
            sim.stop()
        end_leftovers(baseline_children)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
