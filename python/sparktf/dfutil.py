"""TensorFlowOnSpark's ``dfutil`` names, so its programs port by changing imports: thin aliases
of :mod:`sparktf.tfrecord`, where the conversion runs in the JVM.

Example::

    from sparktf import dfutil
    dfutil.saveAsTFRecords(df, "/tmp/tfr-digits")
    df2 = dfutil.loadTFRecords(sc, "/tmp/tfr-digits", binary_features=["image"])
"""

from __future__ import annotations

from collections.abc import Iterable

from pyspark import SparkContext
from pyspark.sql import DataFrame, SparkSession

from sparktf.tfrecord import load_tfrecords, save_as_tfrecords


def saveAsTFRecords(df: DataFrame, output_dir: str) -> None:  # noqa: N802 (TFoS name)
    """Writes ``df`` as TFRecords under ``output_dir`` (fails if it exists, as TFoS did)."""
    save_as_tfrecords(df, output_dir)


def loadTFRecords(  # noqa: N802 (TFoS name)
    sc: SparkContext | SparkSession, input_dir: str, binary_features: Iterable[str] = ()
) -> DataFrame:
    """Reads the TFRecords under ``input_dir``: the schema from ``save_as_tfrecords``' sidecar,
    else inferred, with ``binary_features`` read as binary instead of strings."""
    return load_tfrecords(sc, input_dir, binary_features=binary_features)
