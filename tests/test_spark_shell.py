"""spark-shell (from the pip pyspark) runs a Scala script that trains with `import io.sparktf._`."""

import json
import os
import subprocess

import pytest

import sparktf
from conftest import ROOT


@pytest.mark.timeout(600)
def test_spark_shell_trains_with_the_scala_api(spark_env, tmp_path):
    from pyspark.find_spark_home import _find_spark_home

    spark_home = _find_spark_home()
    env = dict(spark_env)
    env.update(
        SPARK_HOME=spark_home,
        SPARKTF_TEST_SCRIPT=os.path.join(ROOT, "tests", "programs", "linear_train.py"),
        SPARKTF_TEST_OUT=str(tmp_path),
    )
    cmd = [
        os.path.join(spark_home, "bin", "spark-shell"),
        "--master", "local-cluster[2,1,1024]",
        "--jars", sparktf.jar_path(),
        "--conf", "spark.driver.host=127.0.0.1",
        "--conf", "spark.ui.enabled=false",
        "-I", os.path.join(ROOT, "tests", "scala", "train_linear.scala"),
    ]
    done = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=540, cwd=str(tmp_path))
    out = done.stdout
    failed = f"spark-shell failed:\n{out[-4000:]}\n{done.stderr[-4000:]}"
    assert done.returncode == 0, failed
    assert "SPARKTF_REPORT" in out, failed
    rows = int(next(l for l in out.splitlines() if l.startswith("SPARKTF_ROWS")).split()[1])
    report = json.loads(next(l for l in out.splitlines() if l.startswith("SPARKTF_REPORT"))[15:])
    assert report["rows_total"] == 3 * rows
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["num_workers"] == 2
    assert result["accuracy"] > 0.9, result
    a, b, c, d = result["probe_logits"]  # the boundary is x0 + x1 = 0
    assert a > 0 > b and c > 0 > d, result
