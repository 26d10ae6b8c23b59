"""What a user's ``main_fun(args, ctx)`` imports, inside a TensorFlow node.

* ``export``: ``export_model(model, ctx)``, the chief's SavedModel / ``model.keras``.
* ``keras3``: ``fit``, Keras 3 training under MultiWorkerMirroredStrategy.
* ``parameter_server``: ``serve(ctx)`` on ps and worker nodes of ParameterServerStrategy.
* ``evaluation``: ``evaluate_checkpoints(ctx, ...)``, the sidecar evaluator.
* ``tfrecord_input``: the TFRecord files and parse spec of InputMode.TENSORFLOW.
* ``chief_watch``: wait for the chief's program to end (what ``serve`` does).

These stand on the ``ctx`` a node hands the program (``sparktf.node.context``), never on the
node's internals. Example::

    def main_fun(args, ctx):
        from sparktf.program.export import export_model
        ...
        export_model(model, ctx)
"""
