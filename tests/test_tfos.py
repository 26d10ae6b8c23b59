"""TensorFlowOnSpark-style programs (tests/programs/tfos/mnist_style.py: RDD input,
TFNode.DataFeed, pipeline.TFEstimator with setters, a CNN fed flat image columns, TFParallel,
dfutil) run on sparktf.tfos with spark-submit on local-cluster[2,1,1024], their helpers shipped
with --py-files; one Spark application for all of them, each behaviour asserted."""

import json
import os
import zipfile

import pytest
from conftest import ROOT, launch

import sparktf

PROGRAMS = os.path.join(ROOT, "tests", "programs", "tfos")


@pytest.fixture(scope="module")
def tfos_run(spark_env, tmp_path_factory):
    from pyspark.find_spark_home import _find_spark_home

    work = tmp_path_factory.mktemp("tfos")
    shipped = work / "digits.zip"
    with zipfile.ZipFile(shipped, "w") as z:
        z.write(os.path.join(PROGRAMS, "digits_data.py"), "digits_data.py")
    spark_home = _find_spark_home()
    env = dict(spark_env)
    env.pop("PYTHONPATH", None)  # sparktf comes from the jar, the helpers from --py-files
    env.update(SPARK_HOME=spark_home, PYSPARK_DRIVER_PYTHON=spark_env["PYSPARK_PYTHON"])
    # The jar of this build, as a user without a Maven repository ships it: --jars for the JVM,
    # in --py-files for `import sparktf` (what --packages does for Python apps).
    jar = sparktf.jar_path()
    cmd = [
        os.path.join(spark_home, "bin", "spark-submit"),
        "--master", "local-cluster[2,1,1024]",
        "--jars", jar,
        "--conf", "spark.driver.host=127.0.0.1",
        "--conf", "spark.ui.showConsoleProgress=false",
        "--py-files", f"{jar},{shipped},{os.path.join(PROGRAMS, 'shipped_marker.py')}",
        os.path.join(PROGRAMS, "mnist_style.py"),
        "--work", str(work),
    ]  # fmt: skip
    done = launch(cmd, env, work, timeout=840)
    return json.loads(done.stdout.strip().splitlines()[-1])


pytestmark = pytest.mark.timeout(900)


def test_py_files_are_importable_in_the_nodes_and_nodes_run_tf_keras(tfos_run):
    for node in tfos_run["count"]:
        assert node["marker"] == "shipped-with-py-files"  # a .py of --py-files
        assert node["legacy_keras"] == "1"
    # digits_data (inside a .zip of --py-files) is imported by main_fun and inference: the
    # CNN trained and TFParallel scored, below.
    assert tfos_run["parallel_rows"] == tfos_run["rows"]


def test_rdd_rows_reach_data_feed_as_tuples_and_one_loop_serves_every_train(tfos_run):
    rows = tfos_run["rows"]
    low = sum(1 for n in tfos_run["inference"] if n["label"] < 5)
    assert tfos_run["train_reports"] == [rows, 2 * low]
    counts = tfos_run["count"]
    assert sorted(n["job_name"] for n in counts) == ["chief", "worker"]
    # should_stop() stayed False between the two train() calls: one loop took every row.
    assert sum(n["rows"] for n in counts) == rows + 2 * low
    assert {w for n in counts for w in n["widths"]} == {64}
    assert all(n["has_mgr"] and n["default_fs"] == "file://" for n in counts)
    assert counts[0]["absolute"].startswith("file://") and counts[0]["absolute"].endswith(
        "/mnist_model"
    )


def test_inference_of_an_rdd_returns_the_results_in_row_order(tfos_run):
    results = tfos_run["inference"]
    assert len(results) == tfos_run["rows"]
    assert all(r["double"] == 2 * r["label"] for r in results)
    assert sum(n["answered"] for n in tfos_run["count"]) == tfos_run["rows"]


def test_estimator_with_setters_trains_and_model_scores_flat_images_as_cnn_input(tfos_run):
    assert tfos_run["transform_columns"] == ["prediction", "argmax"]
    assert tfos_run["transform_accuracy"] > 0.8, tfos_run["transform_accuracy"]


def test_a_flat_column_that_does_not_fill_the_input_shape_is_refused_naming_it(tfos_run):
    error = tfos_run["short_image_error"]
    assert error and "column 'image' holds arrays of 60 values" in error, error
    assert "[8, 8, 1] = 64 values" in error, error


def test_dfutil_names(tfos_run):
    loaded = tfos_run["loaded"]
    assert loaded["is_loaded"] and not loaded["plain"]
    assert loaded["count"] == tfos_run["rows"]
    assert loaded["schema"] == "struct<image:array<bigint>,label:bigint>"
    assert tfos_run["round_trip"] == [True, True, True]
    assert tfos_run["inferred"] == "struct<image:array<bigint>,label:bigint>"


def test_tfparallel_runs_independent_instances_and_returns_instance_0s_value(tfos_run):
    assert tfos_run["parallel"] == {"worker_num": 0, "tf_config": None}
    assert tfos_run["parallel_files"] == ["part-00000", "part-00001"]
    assert tfos_run["parallel_accuracy"] > 0.8, tfos_run["parallel_accuracy"]
