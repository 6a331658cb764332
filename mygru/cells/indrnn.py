r"""The independently recurrent neural network (Li et al. 2018): each unit its own
loop."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np

from ..cell import Cell

__all__ = ["IndRNN"]


class IndRNN(Cell):
    r"""The independently recurrent cell: every hidden unit reads only its own previous
    value, through one recurrent weight per unit.

    .. math::

        S_t = f(P_t), \qquad P_t = A_t + u \odot S_{t-1}, \qquad A_t = X_t U + b

    with :math:`f` = relu or tanh and :math:`u` (D,) a vector, not a matrix.

    The ``params`` of :func:`mygru.recurrence`: ``U`` (C, D), ``b`` (D,), ``u`` (D,).
    The state is one array (N, D). ``u`` has no DropConnect mask (DropConnect drops
    matrix weights); ``dropout`` masks the input projection.

    Parameters
    ----------
    nonlinearity : {"relu", "tanh"}
        :math:`f`.

    Notes
    -----
    Back through one step, :math:`dS_{t-1} = dP_t \odot u` with :math:`P_t` the
    pre-activation: each unit's gradient is multiplied by its own :math:`u_n f'` at
    every step, so over T steps by :math:`u_n^T` (times the slopes), which stays bounded
    when :math:`|u_n| \le 1`. The paper keeps :math:`|u_n|^T` within a chosen bound for
    this reason. A module draws ``u`` uniform in (0, 1) (``init``, which overrides
    :meth:`mygru.Cell.init` for ``u``), which keeps :math:`|u_n|^T \le 1` for any T.
    (The authors' code for the adding problem draws the first layer's ``u`` uniform in
    :math:`(0, 2^{1/T})`.)

    References
    ----------
    S. Li, W. Li, C. Cook, C. Zhu and Y. Gao, "Independently recurrent neural network
    (IndRNN): building a longer and deeper RNN", CVPR 2018, 5457–5466.
    """

    gates = ("",)
    weights = ("u",)
    dropconnect = ()

    def __init__(self, nonlinearity: Literal["relu", "tanh"] = "relu") -> None:
        if nonlinearity not in ("relu", "tanh"):
            raise ValueError(
                f"nonlinearity must be 'relu' or 'tanh', got {nonlinearity!r}"
            )
        self.nonlinearity = nonlinearity

    def shapes(self, input_size: int, hidden_size: int) -> dict[str, tuple[int, ...]]:
        return {"u": (hidden_size,)}

    def init(
        self,
        name: str,
        shape: tuple[int, ...],
        hidden_size: int,
        rng: np.random.Generator,
    ) -> np.ndarray:
        if name == "u":
            return rng.uniform(0, 1, size=shape)
        return super().init(name, shape, hidden_size, rng)

    def step(
        self, p: Mapping[str, np.ndarray], a: Mapping[str, np.ndarray], s: np.ndarray
    ) -> tuple[np.ndarray, tuple]:
        P = a[""] + p["u"] * s
        s_new = np.maximum(P, 0) if self.nonlinearity == "relu" else np.tanh(P)
        return s_new, (s, s_new)

    def step_backward(
        self, p: Mapping[str, np.ndarray], ds: np.ndarray, cache: tuple
    ) -> tuple[dict, np.ndarray, dict]:
        s, s_new = cache
        # f'(P) read off the output: relu' = [S_t > 0], tanh' = 1 - S_t^2
        slope = s_new > 0 if self.nonlinearity == "relu" else 1 - s_new**2
        dP = ds * slope  # = dA, the gradient of the input projection
        return {"": dP}, dP * p["u"], {"u": (dP * s).sum(axis=0)}
