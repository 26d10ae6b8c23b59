"""Batches handed over in shared memory: the files a feed task on this machine writes to the
node's private ``/dev/shm`` directory, one serialized ``ColumnBatch`` each (``SharedBatch`` in
feed.proto).

The node maps a file and reads the columns in place, exactly as it reads a batch that came over
gRPC: no copy of the bytes on this side. Taking the file away from its name is the feed task's
signal that it may write the next one: the node deletes it (its memory lives on in the mapping
until the last column view of it is gone) or, when the message says ``reuse``, renames it to
``<file>.taken`` and, once the last view of the mapping is gone, to ``<file>.free``, for the task
to write a later batch into the same memory pages. Reused pages spare the kernel allocating,
zeroing and freeing every batch's pages: about 40% of the node's kernel time in a feed.
"""

from __future__ import annotations

import mmap
import os
import re
import weakref
from typing import Any

from sparktf.v1 import feed_pb2
from sparktf.wire.feed_wire import ColumnBatchView, column_batch_view, kind_of

# Only names the JVM writes ("<feed id>-e<epoch>-p<partition>-a<attempt>-<n>"): never a path.
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# Map every page at once: cheaper than a fault per page as numpy reads them.
_POPULATE = getattr(mmap, "MAP_POPULATE", 0)


class _Mapping(mmap.mmap):
    """A file's mapping that can be watched (plain mmap objects take no weak references)."""


class SharedBatchDir:
    """The node's shared-memory directory, made (0700) and removed by its executor.

    >>> shared = SharedBatchDir("/dev/shm/sparktf-c1-worker-0-123")  # doctest: +SKIP
    >>> batch = shared.take(message.shared_batch)  # doctest: +SKIP
    >>> batch.num_rows  # doctest: +SKIP
    4096
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def take(self, ref: feed_pb2.SharedBatch) -> ColumnBatchView:
        """Maps, takes (deletes, or renames for ``ref.reuse``) and reads the batch ``ref``
        names. Raises ValueError naming the file when it is missing, of another size or not a
        ColumnBatch of ``ref.num_rows`` rows; a file it cannot map is deleted."""
        if not _FILE_NAME.fullmatch(ref.file):
            raise ValueError(f"shared batch file {ref.file!r} is not a plain file name")
        path = os.path.join(self.path, ref.file)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            raise ValueError(f"shared batch file {path} is missing") from None
        try:
            size = os.fstat(fd).st_size
            if size != ref.size or size == 0:
                raise ValueError(
                    f"shared batch file {path} holds {size} bytes, the message says {ref.size}"
                )
            mapped = _Mapping(fd, size, flags=mmap.MAP_SHARED | _POPULATE, prot=mmap.PROT_READ)
        except BaseException:
            _remove(path)
            raise
        finally:
            os.close(fd)
        if ref.reuse:
            taken = path + ".taken"
            try:
                os.rename(path, taken)
            except FileNotFoundError:
                raise ValueError(f"shared batch file {path} is missing") from None
            # Runs when the last column view of the mapping is gone; not at interpreter exit,
            # when the executor deletes the directory anyway.
            release = weakref.finalize(mapped, _rename, taken, path + ".free")
            release.atexit = False
        else:
            _remove(path)
        batch = column_batch_view(memoryview(mapped))
        if batch.num_rows != ref.num_rows:
            raise ValueError(
                f"shared batch file {path} holds {batch.num_rows} rows, the "
                f"message says {ref.num_rows}"
            )
        return batch


def carries_batch(message: Any) -> bool:
    """True for a ``batch`` or ``shared_batch`` message (FeedMessage or InferRequest)."""
    return kind_of(message) in ("batch", "shared_batch")


def carried_batch(
    message: Any, shared: SharedBatchDir | None
) -> ColumnBatchView | feed_pb2.ColumnBatch:
    """The batch a ``batch`` or ``shared_batch`` message (FeedMessage or InferRequest) carries
    or names. Raises ValueError for a shared batch where there is no shared directory, or for a
    bad file."""
    if isinstance(message, ColumnBatchView):
        return message
    if message.WhichOneof("kind") == "batch":
        return message.batch
    if shared is None:
        raise ValueError("a SharedBatch came, but this process has no shared-memory directory")
    return shared.take(message.shared_batch)


def _rename(path: str, to: str) -> None:
    try:
        os.rename(path, to)
    except FileNotFoundError:
        pass  # the task deleted it: its stream ended while this node still read the mapping


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass  # the task already discarded it: its stream is being cancelled
