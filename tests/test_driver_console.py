"""What the driver's console shows while a cluster trains: the nodes' output lines prefixed
with their node, and train()'s progress (here its non-interactive lines: pytest's output is no
terminal). A node that floods its output neither stalls training nor loses lines silently."""

from __future__ import annotations

import re
import sys

from sparktf import InputMode, TFCluster

ROWS = 2000


def chatty(args, ctx):
    import os
    import sys
    import time

    feed = ctx.get_data_feed()
    rows = 0
    while not feed.should_stop():
        batch = feed.next_batch(100)
        if batch:
            rows += len(batch["id"])
    print(f"{ctx.job_name}:{ctx.task_index} took {rows} rows")
    print(f"TF_CPP_MIN_LOG_LEVEL={os.environ.get('TF_CPP_MIN_LOG_LEVEL')}")
    print(f"a warning from {ctx.job_name}", file=sys.stderr)
    if ctx.job_name == "worker":
        time.sleep(1)  # the lines above reach the driver before the flood pushes them out
        for i in range(args["flood"]):
            print(f"flood {i}")


def run_and_train(spark, flood: int, **settings):
    cluster = TFCluster.run(
        spark,
        chatty,
        {"flood": flood},
        num_executors=2,
        input_mode=InputMode.SPARK,
        reservation_timeout=60,
        shutdown_timeout=120,
        **settings,
    )
    try:
        report = cluster.train(spark.range(ROWS).repartition(2), num_epochs=2)
    finally:
        cluster.shutdown()
    assert report["rows_total"] == 2 * ROWS
    return report


def test_chief_lines_and_progress_by_default(spark, capsys):
    run_and_train(spark, flood=3)
    out, err = capsys.readouterr()
    assert "[chief:0] chief:0 took 2000 rows" in out.splitlines()
    assert "[chief:0] a warning from chief" in out.splitlines()
    assert "[worker:0]" not in out, "node_output defaults to the chief alone"
    # TensorFlow's C++ logging starts at warnings on the nodes, unless the user sets it.
    assert "[chief:0] TF_CPP_MIN_LOG_LEVEL=2" in out.splitlines()
    progress = [line for line in err.splitlines() if line.startswith("sparktf: train 1: ")]
    assert progress, err
    assert re.match(
        r"sparktf: train 1: epoch 2/2: 4,000 of 4,000 rows fed \(100%\), [\d,]+ rows/s, done in",
        progress[-1],
    ), progress
    assert any("epoch 1/2" in line for line in progress), progress


def test_all_nodes_a_flood_and_no_progress(spark, capsys):
    flood = 100_000
    run_and_train(
        spark, flood=flood, node_output="all", progress=False, env={"TF_CPP_MIN_LOG_LEVEL": "1"}
    )
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert "[worker:0] worker:0 took 2000 rows" in lines
    assert "[chief:0] chief:0 took 2000 rows" in lines
    assert "[chief:0] TF_CPP_MIN_LOG_LEVEL=1" in lines, "the user's setting wins"
    shown = [
        int(m.group(1)) for m in map(re.compile(r"\[worker:0\] flood (\d+)$").match, lines) if m
    ]
    assert shown == sorted(shown), "the console keeps the nodes' order"
    missed = sum(
        int(m.group(1))
        for m in map(re.compile(r"\[(?:worker:0|sparktf)\] \.\.\. (\d+) .*not shown").match, lines)
        if m
    )
    # Every flood line is either shown or counted as not shown: none is lost silently.
    assert len(shown) + missed == flood, (len(shown), missed)
    assert missed > 0, "the node printed 100,000 lines faster than the driver reads 4,000/s"
    print(
        f"flood: {len(shown)} lines shown, {missed} counted as not shown",
        file=sys.__stderr__,
    )
    assert not [line for line in err.splitlines() if line.startswith("sparktf: train")]
