"""The node's Keras 3 MWMS fix (``sparktf.node.keras_mwms_fix``) and its version gate, on the
installed Keras: the import hook patches the trainer when Keras loads it; on a version the fix
is not tested on, nothing is patched and fit under MWMS fails naming the tested versions and
the alternatives. (Fit itself under MWMS on two nodes: tests/test_keras3_fit.py.)"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from types import ModuleType

import pytest

from sparktf.node import keras_mwms_fix


def fresh_trainer(name: str) -> ModuleType:
    """A copy of Keras' trainer module, loaded from its file under another name, so patching it
    leaves the one this process uses alone."""
    import keras  # noqa: F401 - loads the package the copy imports from

    origin = importlib.util.find_spec(keras_mwms_fix.TRAINER_MODULE).origin
    spec = importlib.util.spec_from_file_location(name, origin)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(120)
def test_the_hook_patches_keras_when_the_program_imports_it():
    code = (
        "from sparktf.node.keras_mwms_fix import install_keras3_mwms_fix\n"
        "install_keras3_mwms_fix()\n"
        "import sys; assert 'keras' not in sys.modules  # nothing imported before the program\n"
        "import keras\n"
        "from keras.src.backend.tensorflow import trainer\n"
        "print(keras.__version__, trainer._sparktf_mwms_fix)\n"
    )
    import sparktf

    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(sparktf.__file__)))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=110, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    version, state = done.stdout.split()[-2:]
    assert keras_mwms_fix.is_tested(version), version  # CI runs a Keras the fix covers
    assert state == "patched"


@pytest.mark.timeout(120)
def test_outside_multi_worker_mode_keras_runs_its_own_code():
    import tensorflow as tf

    trainer = fresh_trainer("sparktf_test_trainer_tested")
    keras_reduce = trainer.reduce_per_replica
    keras_mwms_fix.patch_trainer(trainer)
    assert trainer._sparktf_mwms_fix == "patched" and trainer.reduce_per_replica is not keras_reduce
    value = trainer.reduce_per_replica(tf.constant(2.5), tf.distribute.get_strategy(), "mean")
    assert float(value) == 2.5


@pytest.mark.timeout(120)
def test_an_untested_keras_is_left_alone_and_fit_under_mwms_names_the_way_out(monkeypatch):
    import tensorflow as tf

    monkeypatch.setattr(keras_mwms_fix, "keras_version", lambda: "3.99.0")
    trainer = fresh_trainer("sparktf_test_trainer_untested")
    keras_reduce = trainer.reduce_per_replica
    # The refusal asks Keras' own test for multi-worker mode; this process has one worker, so
    # the copy's test stands in for a second one.
    trainer._collective_all_reduce_multi_worker = lambda strategy: True
    keras_mwms_fix.patch_trainer(trainer)
    assert trainer._sparktf_mwms_fix == "refuse" and trainer.reduce_per_replica is keras_reduce

    class Model:
        distribute_strategy = tf.distribute.get_strategy()

    with pytest.raises(RuntimeError) as e:
        trainer.TensorFlowTrainer._maybe_symbolic_build(Model())
    message = str(e.value)
    for part in (
        "Keras 3.99.0",
        "3.15.x",
        "tf_keras",
        "sparktf.keras3.fit",
        "keras3_mwms_fix=False",
        "keras-team/keras/issues/20585",
    ):
        assert part in message, (part, message)
