"""Stream training benchmark: rows/s fed to two nodes by ``cluster.train_stream`` from a file
stream (a directory of Parquet files read by ``spark.readStream``, ``maxFilesPerTrigger`` files
per micro-batch, ``availableNow``), beside the same files fed by ``cluster.train`` from a batch
DataFrame (``spark.read.parquet``). One cluster serves both; its program only counts rows
(``next_batch(4096)``), so the figures are the feed's, not a model's. Runs alternate (stream,
batch) for ``--repeats`` rounds after one untimed round. A benchmark, not a test: prints ONE
JSON object on stdout.

Run: ``scripts/bench_stream [--rows 100000] [--file-rows 10000] [--files-per-trigger 2]``.
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
from typing import Any

from benchlib.data import WIDTH, generate_parquet
from benchlib.rounds import log, set_bench
from benchlib.session import end_spark, start_spark


def count_rows(args: dict[str, Any], ctx: Any) -> None:
    """Counts the rows of every feed (a train() or a micro-batch) until `streams` streams ended
    and `feeds` feeds were read; writes the count per feed."""
    import json
    import os

    feed = ctx.get_data_feed()
    ends, counts = 0, []
    while ends < args["streams"] or len(counts) < args["feeds"]:
        if not feed.next_feed(timeout=600):
            ends += 1
            continue
        rows = 0
        while batch := feed.next_batch(4096):
            rows += len(batch["label"])
        counts.append(rows)
    with open(os.path.join(args["out"], f"{ctx.job_name}-{ctx.task_index}.json"), "w") as f:
        json.dump(counts, f)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--file-rows", type=int, default=10_000)
    parser.add_argument("--files-per-trigger", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--master", default="local-cluster[2,1,2048]")
    opts = parser.parse_args()
    set_bench("bench_stream")

    from sparktf import InputMode, TFCluster

    work = tempfile.mkdtemp(prefix="sparktf-bench-stream-")
    data, out = os.path.join(work, "data"), os.path.join(work, "out")
    os.makedirs(out)
    generate_parquet(data, opts.rows, chunk_rows=4096, file_rows=opts.file_rows)
    files = len([n for n in os.listdir(data) if n.endswith(".parquet")])
    rounds = opts.repeats + 1
    micro_batches = -(-files // opts.files_per_trigger)
    spark = cluster = None
    try:
        spark = start_spark("sparktf bench_stream", opts.master, executors=2, task_max_failures=2)
        cluster = TFCluster.run(
            spark,
            count_rows,
            # Per round: the stream's micro-batches, then one train().
            {"out": out, "streams": rounds, "feeds": rounds * (micro_batches + 1)},
            num_executors=2,
            input_mode=InputMode.SPARK,
        )
        schema = spark.read.parquet(data).schema
        stream_runs, batch_runs = [], []
        for r in range(rounds):
            ckpt = os.path.join(work, f"ckpt-{r}")
            stream = (
                spark.readStream.schema(schema)
                .option("maxFilesPerTrigger", opts.files_per_trigger)
                .parquet(data)
            )
            started = time.perf_counter()
            query = cluster.train_stream(stream, ckpt, {"availableNow": True})
            if not query.awaitTermination(600):
                raise TimeoutError("the stream did not end within 600 s")
            if query.exception() is not None:
                raise RuntimeError(str(query.exception()))
            seconds = time.perf_counter() - started
            fed_dir = os.path.join(ckpt, "sparktf", "fed")
            names = [n for n in os.listdir(fed_dir) if n.isdigit()]
            reports = [json.load(open(os.path.join(fed_dir, n))) for n in names]
            rows = sum(rep["rows_total"] for rep in reports)
            assert rows == opts.rows, f"the stream fed {rows} rows of {opts.rows}"
            stream_run = {
                "seconds": round(seconds, 3),
                "rows_per_s": round(rows / seconds, 1),
                "micro_batches": len(reports),
                "feed_seconds": round(sum(rep["seconds"] for rep in reports), 3),
            }
            started = time.perf_counter()
            report = cluster.train(spark.read.parquet(data))
            seconds = time.perf_counter() - started
            assert report["rows_total"] == opts.rows
            batch_run = {"seconds": round(seconds, 3), "rows_per_s": round(opts.rows / seconds, 1)}
            name = "warm-up" if r == 0 else str(r - 1)
            log(f"round {name}: stream {stream_run}, batch {batch_run}")
            if r > 0:
                stream_runs.append(stream_run)
                batch_runs.append(batch_run)
        cluster.shutdown()
        cluster = None
        counts = {}
        for n in sorted(os.listdir(out)):
            with open(os.path.join(out, n)) as f:
                counts[n[: -len(".json")]] = sum(json.load(f))
        assert sum(counts.values()) == 2 * rounds * opts.rows, counts

        def figures(runs: list[dict[str, Any]]) -> dict[str, Any]:
            return {
                "best_rows_per_s": max(x["rows_per_s"] for x in runs),
                "median_rows_per_s": statistics.median(x["rows_per_s"] for x in runs),
                "runs": runs,
            }

        stream_fig, batch_fig = figures(stream_runs), figures(batch_runs)
        print(
            json.dumps(
                {
                    "rows": opts.rows,
                    "row_bytes": WIDTH * 4 + 4,
                    "files": files,
                    "files_per_trigger": opts.files_per_trigger,
                    "master": opts.master,
                    "train_stream": stream_fig,
                    "train_batch": batch_fig,
                    "stream_vs_batch": round(
                        stream_fig["best_rows_per_s"] / batch_fig["best_rows_per_s"], 3
                    ),
                    "stream_vs_batch_median": round(
                        stream_fig["median_rows_per_s"] / batch_fig["median_rows_per_s"], 3
                    ),
                    "rows_counted_by_nodes": counts,
                }
            )
        )
        return 0
    finally:
        end_spark(spark, cluster)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
