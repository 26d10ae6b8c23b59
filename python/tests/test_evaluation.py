"""evaluate_checkpoints: scores checkpoints as a trainer writes them, the last one after the chief
ends, records each result (JSON lines, TensorBoard) and refuses checkpoints of another layout."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
from fake_chief import FakeChief

from sparktf.node.context import NodeContext
from sparktf.program.evaluation import checkpoint_number, evaluate_checkpoints


def ctx_for(chief: FakeChief, model_dir: str) -> NodeContext:
    return NodeContext(
        job_name="evaluator",
        task_index=0,
        worker_num=1,
        num_workers=1,
        cluster_spec={"chief": [chief.address]},
        cluster_id="c",
        executor_id="1",
        model_dir=model_dir,
        export_dir=None,
        checkpoint_dir=None,
        working_dir=model_dir,
        data_feed=None,
        log_dir=f"{model_dir}/tensorboard",
    )


def model_and_data():
    import tensorflow as tf
    import tf_keras as keras

    model = keras.Sequential([keras.layers.Input((4,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse", metrics=["mae"])
    x = np.ones((16, 4), dtype="float32")
    return model, tf.data.Dataset.from_tensor_slices((x, x.sum(axis=1))).batch(8)


def test_checkpoint_number_is_the_suffix_tensorflow_appends():
    assert checkpoint_number("/m/ckpt-12", default=0) == 12
    assert checkpoint_number("/m/weights", default=3) == 3


@pytest.mark.timeout(180)
def test_scores_each_checkpoint_and_the_last_one_after_the_chief_ends(tmp_path):
    import tensorflow as tf

    chief = FakeChief()
    trainer, data = model_and_data()
    manager = tf.train.CheckpointManager(
        tf.train.Checkpoint(model=trainer), str(tmp_path / "ckpt"), max_to_keep=None
    )
    written: list[str] = []

    def train() -> None:
        # Weights that fit the data better each time, so the scores must improve.
        for step, weight in enumerate([0.0, 0.5, 1.0], start=1):
            trainer.layers[0].kernel.assign(tf.fill((4, 1), weight))
            written.append(manager.save(checkpoint_number=step))
            time.sleep(3)
        chief.close()  # the chief's program ends after its last checkpoint

    evaluator, _ = model_and_data()
    thread = threading.Thread(target=train, daemon=True)
    thread.start()
    results = evaluate_checkpoints(
        ctx_for(chief, str(tmp_path)),
        evaluator,
        data,
        checkpoint_dir=str(tmp_path / "ckpt"),
        poll_seconds=0.2,
    )
    thread.join(10)
    assert [r["checkpoint"] for r in results][-1] == written[-1]
    assert [r["step"] for r in results] == sorted({r["step"] for r in results})
    assert results[-1]["metrics"]["loss"] == pytest.approx(0.0, abs=1e-6)
    losses = [r["metrics"]["loss"] for r in results]
    assert losses == sorted(losses, reverse=True), losses
    lines = (tmp_path / "eval" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == results
    assert list((tmp_path / "tensorboard" / "eval").glob("events.out.tfevents.*"))


@pytest.mark.timeout(120)
def test_a_checkpoint_without_the_model_is_refused(tmp_path):
    import tensorflow as tf

    chief = FakeChief()
    tf.train.Checkpoint(step=tf.Variable(1)).save(str(tmp_path / "ckpt" / "other"))
    model, data = model_and_data()
    try:
        with pytest.raises(ValueError, match="holds no variables under 'model'"):
            evaluate_checkpoints(
                ctx_for(chief, str(tmp_path)), model, data, checkpoint_dir=str(tmp_path / "ckpt")
            )
    finally:
        chief.close()


def test_no_checkpoint_directory_is_a_clear_error(tmp_path):
    chief = FakeChief()
    ctx = ctx_for(chief, str(tmp_path))
    ctx.model_dir = None
    try:
        with pytest.raises(ValueError, match="no checkpoint directory to watch"):
            evaluate_checkpoints(ctx, object(), object())
    finally:
        chief.close()
