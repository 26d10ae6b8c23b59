"""The TensorFlow node process: one per Spark executor, started by the JVM.

``python -m sparktf.node BOOTSTRAP_JSON`` reads the bootstrap the executor wrote, serves the
DataFeed and NodeControl gRPC services, runs the user's ``main_fun(args, ctx)`` and exits.
Nothing heavy is imported here: the node must start fast and import TensorFlow only when the
user's program does.
"""
