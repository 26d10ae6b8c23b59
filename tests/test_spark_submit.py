"""`spark-submit --packages io.sparktf:sparktf_2.13:0.1.0` runs the demo with no sparktf on the
Python path: `import sparktf` comes from the jar, as on a real cluster."""

import json
import os

import pytest
from conftest import ROOT, launch


@pytest.mark.timeout(600)
def test_spark_submit_packages_runs_the_demo(spark_env, tmp_path):
    from pyspark.find_spark_home import _find_spark_home

    spark_home = _find_spark_home()
    env = dict(spark_env)
    env.pop("PYTHONPATH", None)
    env.update(SPARK_HOME=spark_home, PYSPARK_DRIVER_PYTHON=spark_env["PYSPARK_PYTHON"])
    repo = os.environ.get("SPARKTF_MAVEN_REPO", os.path.expanduser("~/.m2/repository"))
    cmd = [
        os.path.join(spark_home, "bin", "spark-submit"),
        "--master",
        "local-cluster[2,1,1024]",
        "--packages",
        "io.sparktf:sparktf_2.13:0.1.0",
        "--repositories",
        f"file://{repo}",
        # A fresh Ivy cache: never a jar resolved by an earlier build.
        "--conf",
        f"spark.jars.ivy={tmp_path / 'ivy'}",
        "--conf",
        "spark.driver.host=127.0.0.1",
        os.path.join(ROOT, "examples", "keras_digits.py"),
        "--master",
        "",
        "--epochs",
        "20",
        "--export-dir",
        str(tmp_path / "model"),
    ]
    done = launch(cmd, env, tmp_path, timeout=540)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert ".jar" in result["sparktf_from"], result
    assert result["rows_fed"] == result["train_rows"] * 20
    assert result["test_accuracy"] > 0.9, result
