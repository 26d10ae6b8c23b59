"""Keras 3 ``model.fit`` under MultiWorkerMirroredStrategy: a fix applied in the node process.

On TF 2.21, Keras 3 (``import keras``, or ``tf.keras``) fails under MultiWorkerMirroredStrategy
before the first step (keras-team/keras#20585, open). Two private pieces of
``keras.src.backend.tensorflow.trainer`` are at fault, and the fix changes exactly those, only
while the strategy is in multi-worker mode (every other strategy runs Keras' own code):

* ``TensorFlowTrainer._maybe_symbolic_build`` takes the first batch of the epoch iterator and
  calls ``strategy.reduce("MEAN", batch, axis=None)`` eagerly, to learn the inputs' shapes;
  MWMS cannot reduce that eagerly. The fix builds from the dataset's element spec instead: the
  same shapes and dtypes, and no batch is taken from the data (a feed's batch would be lost).
* ``reduce_per_replica(..., "mean")`` reduces every log with ``strategy.reduce("MEAN", v,
  axis=0)``: a 0-d loss or metric has no axis 0 ("Invalid reduction dimension 0"). The fix
  reduces with ``axis=None``: the mean over replicas, element by element, as Keras does with
  ``tf.reduce_mean(local_results, axis=0)`` on one machine.

The fix is applied when Keras loads that module (an import hook: Keras is not imported for a
program that does not use it) and only on the Keras versions it is tested on
(``TESTED_KERAS``). On another version nothing is patched: the first ``fit``/``evaluate`` under
MWMS fails with an error naming the tested versions and the alternatives. The cluster setting
``keras3_mwms_fix=False`` turns the whole thing off (Keras runs unchanged).

Example (what the node runtime does before it runs the program)::

    install_keras3_mwms_fix()
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.metadata
import logging
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

log = logging.getLogger("sparktf.node")

TRAINER_MODULE = "keras.src.backend.tensorflow.trainer"
# Keras versions (major.minor) the fix is tested on: their trainer's private code is what the
# replacements below were written against.
TESTED_KERAS = ("3.15",)
UPSTREAM_ISSUE = "https://github.com/keras-team/keras/issues/20585"


def keras_version() -> str:
    try:
        return importlib.metadata.version("keras")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def is_tested(version: str) -> bool:
    return any(version == t or version.startswith(t + ".") for t in TESTED_KERAS)


def untested_message(version: str) -> str:
    return (
        f"Keras {version} under MultiWorkerMirroredStrategy: Keras 3's fit/evaluate fail under "
        f"this strategy ({UPSTREAM_ISSUE}), and sparktf's fix inside the node is tested only on "
        f"Keras {', '.join(t + '.x' for t in TESTED_KERAS)}, so it left Keras {version} "
        "unpatched. Use one of: Keras 3.15.x; tf_keras (`import tf_keras as keras`, or "
        "env={'TF_USE_LEGACY_KERAS': '1'} in TFCluster.run); sparktf.keras3.fit(model, "
        "dataset, strategy) (a custom loop); or, if this Keras version fixed the upstream "
        "issue, TFCluster.run(..., keras3_mwms_fix=False) to run Keras unchanged"
    )


class _PatchingLoader(importlib.abc.Loader):
    """Runs the real loader, then ``patch`` on the module it made."""

    def __init__(self, loader: importlib.abc.Loader, patch: Callable[[ModuleType], None]) -> None:
        self._loader = loader
        self._patch = patch

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        self._patch(module)


class _TrainerFinder(importlib.abc.MetaPathFinder):
    """Finds Keras' TensorFlow trainer module the usual way and wraps its loader."""

    def __init__(self, patch: Callable[[ModuleType], None]) -> None:
        self._patch = patch

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != TRAINER_MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _PatchingLoader(spec.loader, self._patch)
        return spec


def install_keras3_mwms_fix() -> None:
    """Patch Keras' trainer when it loads (now, if it already has)."""
    loaded = sys.modules.get(TRAINER_MODULE)
    if loaded is not None:
        patch_trainer(loaded)
        return
    if not any(isinstance(f, _TrainerFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _TrainerFinder(patch_trainer))


def patch_trainer(trainer: ModuleType) -> None:
    """Apply the fix to the loaded ``keras.src.backend.tensorflow.trainer`` module."""
    if getattr(trainer, "_sparktf_mwms_fix", None):
        return
    version = keras_version()
    in_mwms = trainer._collective_all_reduce_multi_worker
    cls = trainer.TensorFlowTrainer
    keras_build = cls._maybe_symbolic_build
    if not is_tested(version):

        def refuse_build(self: Any, iterator: Any = None, data_batch: Any = None) -> None:
            if in_mwms(self.distribute_strategy):
                raise RuntimeError(untested_message(version))
            keras_build(self, iterator=iterator, data_batch=data_batch)

        cls._maybe_symbolic_build = refuse_build
        trainer._sparktf_mwms_fix = "refuse"
        log.warning("Keras %s is not one sparktf's MWMS fix is tested on: left unpatched", version)
        return

    import tensorflow as tf
    from keras.src import tree

    def maybe_symbolic_build(self: Any, iterator: Any = None, data_batch: Any = None) -> None:
        if self._distribute_strategy is None or not in_mwms(self._distribute_strategy):
            keras_build(self, iterator=iterator, data_batch=data_batch)
            return
        if iterator is not None:
            data_batch = tree.map_structure(_local_spec, iterator._distributed_dataset.element_spec)
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    keras_reduce = trainer.reduce_per_replica

    def reduce_per_replica(values: Any, strategy: Any, reduction: str) -> Any:
        if reduction in ("auto", "mean") and in_mwms(strategy):
            return tree.map_structure(
                lambda v: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None), values
            )
        return keras_reduce(values, strategy, reduction)

    cls._maybe_symbolic_build = maybe_symbolic_build
    trainer.reduce_per_replica = reduce_per_replica  # _make_function looks it up per call
    trainer._sparktf_mwms_fix = "patched"
    log.info(
        "Keras %s: sparktf's MultiWorkerMirroredStrategy fix applied (%s)", version, UPSTREAM_ISSUE
    )


def _local_spec(spec: Any) -> Any:
    """One replica's spec of a distributed dataset's element (shape and dtype are all the
    symbolic build reads)."""
    specs = getattr(spec, "_value_specs", None)  # PerReplicaSpec
    return specs[0] if specs else spec
