"""Shipped to the nodes with --py-files (inside a .zip): what the programs import there, as
TensorFlowOnSpark programs import their helpers in its Python workers."""

IMAGE_SHAPE = (8, 8, 1)


def as_image(pixels):
    """A flat row of 64 pixels (0..16) as the CNN's input, unscaled: TFModel feeds the same
    column as it is."""
    import numpy as np

    return np.asarray(pixels, dtype=np.float32).reshape(IMAGE_SHAPE)
