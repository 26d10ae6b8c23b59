"""The rows every benchmark measures: ``x`` array<float> (784 random float32) and ``label``
int (0..9), written once as Parquet with pyarrow, in chunks, or reused from a directory.

    rows = ensure_parquet("/var/tmp/bench-data", 200_000, chunk_rows=4096)
"""

from __future__ import annotations

import glob
import json
import os
import time

from benchlib.rounds import log

WIDTH = 784
BYTES_PER_ROW = WIDTH * 4 + 4  # x float32[784] + label int32


def generate_parquet(data_dir: str, rows: int, chunk_rows: int, file_rows: int) -> None:
    """Writes `rows` rows in files of up to `file_rows` rows, row groups of `chunk_rows` rows,
    never holding more than one chunk in memory."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    os.makedirs(data_dir, exist_ok=True)
    rng = np.random.default_rng(42)
    schema = pa.schema(
        [("x", pa.list_(pa.field("element", pa.float32(), nullable=False))), ("label", pa.int32())]
    )
    written, file_index = 0, 0
    t0 = time.time()
    while written < rows:
        path = os.path.join(data_dir, f"part-{file_index:05d}.parquet")
        in_file = min(file_rows, rows - written)
        with pq.ParquetWriter(path, schema) as writer:
            done = 0
            while done < in_file:
                n = min(chunk_rows, in_file - done)
                values = pa.array(rng.random(n * WIDTH, dtype=np.float32))
                offsets = pa.array(np.arange(0, (n + 1) * WIDTH, WIDTH, dtype=np.int32))
                x = pa.ListArray.from_arrays(offsets, values, type=schema.field("x").type)
                label = pa.array(rng.integers(0, 10, size=n, dtype=np.int32))
                writer.write_table(
                    pa.Table.from_arrays([x, label], schema=schema), row_group_size=n
                )
                done += n
        written += in_file
        file_index += 1
        log(f"generated {written}/{rows} rows ({time.time() - t0:.1f} s)")
    with open(os.path.join(data_dir, "_bench_meta.json"), "w") as f:
        json.dump(
            {"rows": rows, "chunk_rows": chunk_rows, "file_rows": file_rows, "width": WIDTH}, f
        )


def parquet_files(data_dir: str) -> list[str]:
    return sorted(glob.glob(os.path.join(data_dir, "*.parquet")))


def parquet_rows(data_dir: str) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(p).metadata.num_rows for p in parquet_files(data_dir))


def ensure_parquet(data_dir: str, rows: int, chunk_rows: int) -> int:
    """Writes ``rows`` rows to ``data_dir`` (files of 16 chunks) unless it holds Parquet
    already; returns the rows it holds."""
    if not parquet_files(data_dir):
        log(f"writing {rows} rows to {data_dir}")
        generate_parquet(data_dir, rows, chunk_rows, file_rows=chunk_rows * 16)
        return rows
    have = parquet_rows(data_dir)
    log(f"reusing {data_dir}: {have} rows")
    return have
