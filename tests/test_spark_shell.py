"""spark-shell (from the pip pyspark) runs a Scala script that trains with `import io.sparktf._`."""

import json
import os

import pytest
from conftest import ROOT, launch

import sparktf


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
        "--master",
        "local-cluster[2,1,1024]",
        "--jars",
        sparktf.jar_path(),
        "--conf",
        "spark.driver.host=127.0.0.1",
        "--conf",
        "spark.ui.enabled=false",
        "-I",
        os.path.join(ROOT, "tests", "scala", "train_linear.scala"),
    ]
    done = launch(cmd, env, tmp_path, timeout=540)
    out = done.stdout
    failed = f"spark-shell printed:\n{out[-4000:]}"
    assert "SPARKTF_REPORT" in out, failed
    rows = int(next(l for l in out.splitlines() if l.startswith("SPARKTF_ROWS")).split()[1])
    report = json.loads(next(l for l in out.splitlines() if l.startswith("SPARKTF_REPORT"))[15:])
    assert report["rows_total"] == 3 * rows
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["num_workers"] == 2
    assert result["accuracy"] > 0.9, result
    a, b, c, d = result["probe_logits"]  # the boundary is x0 + x1 = 0
    assert a > 0 > b and c > 0 > d, result


def _read_json_lines(folder) -> list[dict]:
    rows = []
    for part in sorted(folder.glob("part-*.json")):
        rows += [json.loads(line) for line in part.read_text().splitlines() if line]
    return rows


@pytest.mark.timeout(900)
def test_spark_shell_pipeline_fits_transforms_saves_and_loads(spark_env, tmp_path):
    """Scala: VectorAssembler -> TFEstimator fits, transforms, saves, loads; the predictions
    equal TensorFlow's on the same rows in this process."""
    from pyspark.find_spark_home import _find_spark_home

    spark_home = _find_spark_home()
    env = dict(spark_env)
    env.update(
        SPARK_HOME=spark_home,
        SPARKTF_TEST_OUT=str(tmp_path),
        SPARKTF_TEST_SCRIPT=os.path.join(ROOT, "tests", "programs", "pipeline_train.py"),
    )
    cmd = [
        os.path.join(spark_home, "bin", "spark-shell"),
        "--master",
        "local-cluster[2,1,1024]",
        "--jars",
        sparktf.jar_path(),
        "--conf",
        "spark.driver.host=127.0.0.1",
        "--conf",
        "spark.ui.enabled=false",
        "-I",
        os.path.join(ROOT, "tests", "scala", "pipeline.scala"),
    ]
    done = launch(cmd, env, tmp_path, timeout=840)
    out = done.stdout
    failed = f"spark-shell printed:\n{out[-4000:]}"
    assert "SPARKTF_LOADED_STAGE io.sparktf.ml.TFModel" in out, failed

    import numpy as np
    import tensorflow as tf

    rows = _read_json_lines(tmp_path / "predictions")
    loaded = _read_json_lines(tmp_path / "predictions_loaded")
    assert len(rows) == len(loaded) == 600
    x = np.array([[r["a"], r["b"], r["c"], r["d"]] for r in rows], dtype=np.float32)
    fn = tf.saved_model.load(str(tmp_path / "export")).signatures["serving_default"]
    expected = fn(x=tf.constant(x))["score"].numpy()[:, 0]
    got = np.array([r["prediction"] for r in rows], dtype=np.float32)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    by_features = {(r["a"], r["b"], r["c"], r["d"]): r["prediction"] for r in loaded}
    again = np.array([by_features[(r["a"], r["b"], r["c"], r["d"])] for r in rows], np.float32)
    np.testing.assert_allclose(again, got, rtol=1e-6)
    labels = np.array([r["label"] for r in rows])
    assert np.mean((got - labels) ** 2) < 0.5 * np.var(labels), "the model learned nothing"
