"""A/B of the cluster's console settings (progress, node_output) in ONE Spark application:
clusters with each setting alternate on the same executors (so both see the same JIT state and
machine load), each counting FEEDS feeds of the cached 200,000 rows with bench_feed's node
program. Prints one JSON object: {config: [per feed: rows/s, wall s, CPU s by process kind]}.

Run (under the lock): PYTHONPATH=python $SPARKTF_PYTHON notes/bench_s7/console_ab.py \
    default,quiet,default,quiet,default,quiet 4
"""
import json, os, sys, tempfile, time, shutil
sys.path.insert(0, os.path.join(os.environ["SPARKTF_ROOT"], "scripts"))
import bench_feed as bf
from benchlib.processes import cpu_by_kind, cpu_delta, cpu_total, child_pids, end_leftovers
from benchlib.session import start_spark, end_spark
from benchlib.rounds import wait_files, log

configs = {
    "default": {},
    "quiet": {"progress": False, "node_output": "none"},
    "noprogress": {"progress": False},
    "nooutput": {"node_output": "none"},
}
order = sys.argv[1].split(",")
feeds = int(sys.argv[2])
base = child_pids()
spark = start_spark("ab", "local-cluster[2,1,2048]", executors=2, task_max_failures=2, hosts=None)
from sparktf import InputMode, TFCluster
df = spark.read.parquet("/work/bench/data200k").repartition(4).cache()
n = df.count()
out = {c: [] for c in configs}
try:
    for name in order:
        work = tempfile.mkdtemp(prefix="ab-")
        args = {"out_dir": work, "repeats": feeds, "keras": False, "wait_timeout": 600}
        cl = TFCluster.run(spark, bf.node_main, args, num_executors=2, num_ps=0,
            input_mode=InputMode.SPARK, master_node="chief", reservation_timeout=300,
            feed_timeout=600, shutdown_timeout=300, queue_capacity=16, **configs[name])
        for i in range(feeds):
            c0 = cpu_by_kind(); t0 = time.perf_counter()
            rep = cl.train(df, num_epochs=1)
            wall = time.perf_counter() - t0
            wait_files(work, f"count-{i}-*.json", 2, 600, "count")
            k = cpu_delta(c0)
            r = {"rows_per_s": round(rep["rows_per_second"]), "wall": round(wall, 3), "cpu": round(cpu_total(k), 2),
                 "exe": round(k["executor_jvm"] + k["executor_jvm_system"], 2), "node": round(k["node"] + k["node_system"], 2),
                 "drv": round(k["driver"] + k["driver_system"], 2)}
            out[name].append(r)
            log(f"{name} {i}: {r}")
        cl.shutdown(timeout=120)
        shutil.rmtree(work, ignore_errors=True)
finally:
    end_spark(spark, None)
    end_leftovers(base)
print(json.dumps(out))
