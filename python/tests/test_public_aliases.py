"""The import paths README and programs used before the layout by audience keep working: each is
the very module of its new home, not a copy."""

import importlib

import pytest

ALIASES = {
    "sparktf.export": "sparktf.program.export",
    "sparktf.keras3": "sparktf.program.keras3",
    "sparktf.parameter_server": "sparktf.program.parameter_server",
    "sparktf.evaluation": "sparktf.program.evaluation",
    "sparktf.node.tfrecord_input": "sparktf.program.tfrecord_input",
}


@pytest.mark.parametrize("old,new", sorted(ALIASES.items()))
def test_old_path_is_the_new_module(old, new):
    assert importlib.import_module(old) is importlib.import_module(new)
    parent, _, name = old.rpartition(".")
    assert getattr(importlib.import_module(parent), name) is importlib.import_module(new)


def test_names_programs_import_through_the_old_paths():
    from sparktf.evaluation import evaluate_checkpoints
    from sparktf.export import export_model, export_saved_model
    from sparktf.keras3 import fit
    from sparktf.node.tfrecord_input import feature_spec, tfrecord_files
    from sparktf.parameter_server import serve

    for f in (
        evaluate_checkpoints,
        export_model,
        export_saved_model,
        fit,
        feature_spec,
        tfrecord_files,
        serve,
    ):
        assert f.__module__.startswith("sparktf.program."), f
