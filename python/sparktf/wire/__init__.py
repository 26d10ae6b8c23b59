"""What the TF node (``sparktf.node``) and the model server (``sparktf.serving``) share: the
codecs of the ``proto/sparktf/v1`` messages they receive and answer (column batches, result
batches, the parse that keeps batch buffers views, shared-memory batch files), the secret their
servers require, and the parent watch both processes run.

Nothing here imports ``sparktf.node`` or ``sparktf.serving``: both stand on this floor.
Example::

    from sparktf.wire.column_batch import decode_batch
    columns = decode_batch(schema, batch)   # {name: numpy array or RaggedColumn}, zero-copy
"""
