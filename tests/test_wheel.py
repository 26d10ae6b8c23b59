"""``pip install`` of the wheel works: scripts/build_wheel's wheel, installed into a fresh
virtualenv, runs the README's Python example with ``spark.jars`` from ``sparktf.jar_path()``,
which finds the jar the wheel carries (no checkout on any path, no SPARKTF_JAR).

The fresh virtualenv sees the shared one's packages (pyspark, tensorflow: nothing to download)
through a .pth file; sparktf itself comes only from the wheel."""

from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import sys
import sysconfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def readme_python_example() -> str:
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as fh:
        readme = fh.read()
    section = readme.split("\n## Python\n", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def fresh_venv(path: str) -> str:
    subprocess.run([sys.executable, "-m", "venv", path], check=True, timeout=120)
    python = os.path.join(path, "bin", "python")
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    with open(os.path.join(site, "shared_venv.pth"), "w") as fh:
        fh.write(sysconfig.get_paths()["purelib"] + "\n")
    return python


def test_the_wheel_runs_the_readme_example(tmp_path):
    subprocess.run([os.path.join(ROOT, "scripts", "build_wheel")], check=True, timeout=300)
    (wheel,) = glob.glob(os.path.join(ROOT, "target", "python", "sparktf-*.whl"))
    venv = str(tmp_path / "venv")
    python = fresh_venv(venv)
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", wheel],
        check=True,
        timeout=300,
    )
    export_dir = str(tmp_path / "m")
    example = readme_python_example().replace('"/tmp/m"', repr(export_dir))
    script = tmp_path / "example.py"
    script.write_text(
        example
        + "\nimport json\n"
        + "print('SPARKTF', sparktf.__file__)\n"
        + "print('JAR', sparktf.jar_path())\n"
        + "print('REPORT', json.dumps(report))\n"
        + "spark.stop()\n"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "SPARKTF_JAR", "SPARKTF_PYTHONPATH", "PYSPARK_DRIVER_PYTHON")
    }
    env.update(SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=python)
    done = subprocess.run(
        [python, str(script)],
        cwd=str(tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    found = dict(
        line.split(" ", 1)
        for line in done.stdout.splitlines()
        if line.split(" ", 1)[0] in ("SPARKTF", "JAR", "REPORT")
    )
    assert found["SPARKTF"].startswith(venv), found["SPARKTF"]
    assert found["JAR"].startswith(venv) and found["JAR"].endswith(".jar"), found["JAR"]
    assert json.loads(found["REPORT"])["rows_total"] == 512 * 5
    assert os.path.isfile(os.path.join(export_dir, "saved_model.pb"))
