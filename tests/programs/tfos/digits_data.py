"""Shipped to the nodes with --py-files (inside a .zip): what the programs import there, as
TensorFlowOnSpark programs import their helpers in its Python workers."""

IMAGE_SHAPE = (8, 8, 1)


def scaled(pixels):
    """scikit-learn's digits have pixels 0..16."""
    import numpy as np

    return np.asarray(pixels, dtype=np.float32).reshape(IMAGE_SHAPE) / 16.0
