"""How data reaches the nodes: the Python face of ``io.sparktf.InputMode``."""


class InputMode:
    """TensorFlowOnSpark's constants, with its values.

    ``SPARK``: ``cluster.train(df)`` streams DataFrames to the nodes.
    ``TENSORFLOW``: the nodes read their own files; sparktf only runs the cluster.
    """

    TENSORFLOW = 0
    SPARK = 1

    @staticmethod
    def name(mode: int) -> str:
        """``InputMode.name(InputMode.SPARK) == "SPARK"``."""
        if mode == InputMode.SPARK:
            return "SPARK"
        if mode == InputMode.TENSORFLOW:
            return "TENSORFLOW"
        raise ValueError(
            f"input_mode {mode!r} is unknown: use InputMode.SPARK or InputMode.TENSORFLOW"
        )
