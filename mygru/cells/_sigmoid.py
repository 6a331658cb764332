"""The logistic sigmoid the cells' gates use."""

import numpy as np


def sigmoid(a: np.ndarray) -> np.ndarray:
    """σ(a) = 1 / (1 + e^(−a)), elementwise, in the dtype of ``a``.

    Written with e^(−|a|), which is at most 1, so that no input overflows (the naive
    form warns for a < −88 in float32), and as e^a / (1 + e^a) for a < 0, so that the
    small values of the lower tail keep their relative precision."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1, e) / (1 + e)
