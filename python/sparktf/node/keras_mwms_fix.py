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
* ``TFEpochIterator`` counts an epoch's steps as the dataset's cardinality, which is right for
  a dataset the strategy shards over the workers. A dataset with auto-sharding OFF (a sparktf
  feed: each node reads only its own rows) is not sharded: every worker steps through all of
  its elements, each split into one piece per replica, so an epoch has cardinality x workers
  steps. Keras stopped after the first ``cardinality`` of them (half the validation set on two
  nodes), or, with an unknown cardinality, ran the first pass to the end of the data and
  warned "Your input ran out of data". The fix multiplies the count by the number of workers
  for such a dataset, and counts the batches ``feed.validation_dataset`` says it holds (its
  ``_sparktf_batches``) when the cardinality is unknown: every epoch's validation runs its
  exact steps, without the warning.

One more change serves restarts, not the upstream issue: ``fit`` gets one more callback, last,
that records the epochs it finished where a restarted feed reads them
(``sparktf.node.epoch_record``), when the node has a checkpoint directory and a feed.

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
import inspect
import logging
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from sparktf.node import epoch_record

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

    iterator_cls = trainer.TFEpochIterator
    keras_iterator_init = iterator_cls.__init__
    keras_iterator_reset = iterator_cls.reset

    def iterator_init(self: Any, distribute_strategy: Any = None, *args: Any, **kw: Any) -> None:
        keras_iterator_init(self, distribute_strategy, *args, **kw)
        self._sparktf_steps_per_element = _steps_per_element(
            distribute_strategy, self.data_adapter, in_mwms
        )
        _count_steps(self)

    def iterator_reset(self: Any) -> None:
        keras_iterator_reset(self)  # counts the dataset's elements again
        _count_steps(self)

    keras_fit = cls.fit
    fit_signature = inspect.signature(keras_fit)

    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        extra = epoch_record.recorder() if in_mwms(self.distribute_strategy) else None
        if extra is not None:
            bound = fit_signature.bind(self, *args, **kwargs)
            given = bound.arguments.get("callbacks")
            if given is None or isinstance(given, (list, tuple)):
                # Last: its record follows the program's callbacks (BackupAndRestore's backup).
                bound.arguments["callbacks"] = [*(given or []), extra]
                return keras_fit(*bound.args, **bound.kwargs)
        return keras_fit(self, *args, **kwargs)

    cls._maybe_symbolic_build = maybe_symbolic_build
    cls.fit = fit
    trainer.reduce_per_replica = reduce_per_replica  # _make_function looks it up per call
    iterator_cls.__init__ = iterator_init
    iterator_cls.reset = iterator_reset
    trainer._sparktf_mwms_fix = "patched"
    log.info(
        "Keras %s: sparktf's MultiWorkerMirroredStrategy fix applied (%s)", version, UPSTREAM_ISSUE
    )


def _steps_per_element(strategy: Any, data_adapter: Any, in_mwms: Callable[[Any], bool]) -> int:
    """Steps each dataset element makes: the number of workers for an unsharded dataset under
    multi-worker MWMS (each worker splits every element it reads over all the replicas and
    takes its own replicas' pieces per step), else 1."""
    import tensorflow as tf

    if strategy is None or not in_mwms(strategy):
        return 1
    try:
        dataset = data_adapter.get_tf_dataset()
    except Exception:  # noqa: BLE001 - an adapter without a tf.data dataset: Keras' own count
        return 1
    if not isinstance(dataset, tf.data.Dataset):
        return 1  # a DistributedDataset the program made: Keras' count
    policy = dataset.options().experimental_distribute.auto_shard_policy
    if policy != tf.data.experimental.AutoShardPolicy.OFF:
        return 1
    return strategy.num_replicas_in_sync // len(strategy.extended.worker_devices)


def _count_steps(iterator: Any) -> None:
    """Keras' element count (just computed again by ``__init__`` or ``reset``) as steps."""
    factor = iterator._sparktf_steps_per_element
    if factor == 1:
        return
    elements = iterator._num_batches
    if not elements:
        try:
            elements = getattr(iterator.data_adapter.get_tf_dataset(), "_sparktf_batches", None)
        except Exception:  # noqa: BLE001 - no tf.data dataset: Keras' own count
            elements = None
    if elements:
        iterator._num_batches = elements * factor


def _local_spec(spec: Any) -> Any:
    """One replica's spec of a distributed dataset's element (shape and dtype are all the
    symbolic build reads)."""
    specs = getattr(spec, "_value_specs", None)  # PerReplicaSpec
    return specs[0] if specs else spec
