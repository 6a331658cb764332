r"""The minimal gated unit (Zhou et al. 2016): one gate instead of the GRU's two."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..cell import Cell
from ._sigmoid import sigmoid

__all__ = ["MGU"]


class MGU(Cell):
    r"""The minimal gated unit: the GRU with one forget gate doing the work of both of
    its gates.

    .. math::

        F_t &= \sigma(A^f_t + S_{t-1} W_f) \\
        H_t &= \tanh(A^h_t + (F_t \odot S_{t-1}) W_h) \\
        S_t &= (1 - F_t) \odot S_{t-1} + F_t \odot H_t

    with the input projections :math:`A^g_t = X_t U_g + b_g` that
    :func:`mygru.recurrence` makes for the gates ``"f"`` and ``"h"``.

    The ``params`` of :func:`mygru.recurrence`: ``Uf``, ``Uh`` (C, D); ``bf``, ``bh``
    (D,); ``Wf``, ``Wh`` (D, D). The state is one array (N, D).

    References
    ----------
    G.-B. Zhou, J. Wu, C.-L. Zhang and Z.-H. Zhou, "Minimal gated unit for recurrent
    neural networks", International Journal of Automation and Computing 13 (2016),
    226–234.
    """

    gates = ("f", "h")
    weights = ("Wf", "Wh")

    def step(
        self, p: Mapping[str, np.ndarray], a: Mapping[str, np.ndarray], s: np.ndarray
    ) -> tuple[np.ndarray, tuple]:
        F = sigmoid(a["f"] + s @ p["Wf"])
        FS = F * s
        H = np.tanh(a["h"] + FS @ p["Wh"])
        s_new = s + F * (H - s)  # (1 - F) S + F H
        return s_new, (s, F, H, FS)

    def step_backward(
        self, p: Mapping[str, np.ndarray], ds: np.ndarray, cache: tuple
    ) -> tuple[dict, np.ndarray, dict]:
        s, F, H, FS = cache
        dH = ds * F
        dF = ds * (H - s)
        ds_prev = ds * (1 - F)  # the carry
        dAh = dH * (1 - H**2)
        dFS = dAh @ p["Wh"].T
        dF += dFS * s
        ds_prev += dFS * F
        dAf = dF * F * (1 - F)
        ds_prev += dAf @ p["Wf"].T
        return {"f": dAf, "h": dAh}, ds_prev, {"Wf": s.T @ dAf, "Wh": FS.T @ dAh}
