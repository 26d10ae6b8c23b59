"""The per-executor model server: a process holding one SavedModel that answers the inference
streams of ``TFModel.transform`` tasks (started by the executor JVM, not by users)."""
