"""The driver pickles the user's program so a node without the user's module can load it."""

import subprocess
import sys

import cloudpickle

from sparktf.cluster import _is_user_module, _pickle_program


def test_a_function_from_a_user_module_travels_by_value(tmp_path, monkeypatch):
    (tmp_path / "my_training.py").write_text(
        "SCALE = 3\n\ndef main_fun(args, ctx):\n    return args['x'] * SCALE\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import my_training

    assert _is_user_module(my_training)
    blob = _pickle_program(my_training.main_fun, {"x": 5})
    # A fresh interpreter without tmp_path on its path, as a node has.
    code = (
        "import sys, cloudpickle; f, a = cloudpickle.loads(sys.stdin.buffer.read()); "
        "print(f(a, None))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], input=blob, capture_output=True, timeout=60, cwd="/"
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().strip() == "15"
    # Registration is undone: a plain pickle of the module's function is by reference again,
    # so the fresh interpreter cannot load it.
    plain = cloudpickle.dumps((my_training.main_fun, {"x": 5}))
    again = subprocess.run(
        [sys.executable, "-c", code], input=plain, capture_output=True, timeout=60, cwd="/"
    )
    assert again.returncode != 0 and b"my_training" in again.stderr


def test_installed_and_sparktf_modules_stay_by_reference():
    import json

    import sparktf.cluster

    assert not _is_user_module(json)
    assert not _is_user_module(sparktf.cluster)
