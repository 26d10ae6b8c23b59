"""What the TF node (``sparktf.node``) and the model server (``sparktf.serving``) share: the
codecs of the ``proto/sparktf/v1`` messages they receive and answer (``column_batch``,
``result_batch``, ``feed_wire``: the parse that keeps batch buffers views, ``shared_batches``:
batch files in shared memory), the Infer stream both answer (``infer_stream``), what their gRPC
servers set (``server_options``) and require (``auth``: the cluster secret), and the parent watch
both processes run (``parent_watch``).

Nothing here imports ``sparktf.node`` or ``sparktf.serving``: both stand on this floor.
Example::

    from sparktf.wire.column_batch import decode_batch
    columns = decode_batch(schema, batch)   # {name: numpy array or RaggedColumn}, zero-copy
"""
