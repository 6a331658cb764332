r"""The LSTM with peephole connections (Gers et al. 2002), optionally with coupled input
and forget gates (CIFG, Greff et al. 2017)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..cell import Cell
from ._sigmoid import sigmoid

__all__ = ["PeepholeLSTM"]


class PeepholeLSTM(Cell):
    r"""The LSTM whose gates also look at the cell state, through one weight per unit.

    .. math::

        I_t &= \sigma(A^i_t + S_{t-1} W_i + p_i \odot c_{t-1}) \\
        F_t &= \sigma(A^f_t + S_{t-1} W_f + p_f \odot c_{t-1}) \\
        G_t &= \tanh(A^g_t + S_{t-1} W_g) \\
        c_t &= F_t \odot c_{t-1} + I_t \odot G_t \\
        O_t &= \sigma(A^o_t + S_{t-1} W_o + p_o \odot c_t) \\
        S_t &= O_t \odot \tanh(c_t)

    with the input projections :math:`A^g_t = X_t U_g + b_g` that
    :func:`mygru.recurrence` makes. The output gate looks at the new cell state
    :math:`c_t`, the input and forget gates at the old one.

    With ``cifg=True`` the input gate is coupled to the forget gate,
    :math:`I_t = 1 - F_t`: the cell writes exactly as much as it forgets, and there is
    no gate ``"i"``, no ``Wi`` and no ``pi``.

    The ``params`` of :func:`mygru.recurrence`: ``Ui``, ``Uf``, ``Ug``, ``Uo`` (C, D);
    ``bi``, ``bf``, ``bg``, ``bo`` (D,); ``Wi``, ``Wf``, ``Wg``, ``Wo`` (D, D); the
    peepholes ``pi``, ``pf``, ``po`` (D,), which DropConnect leaves alone. The state is
    the pair (S, c), each (N, D).

    Parameters
    ----------
    cifg : bool
        Couple the input gate to the forget gate, :math:`I_t = 1 - F_t`.

    References
    ----------
    F. A. Gers, N. N. Schraudolph and J. Schmidhuber, "Learning precise timing with LSTM
    recurrent networks", Journal of Machine Learning Research 3 (2002), 115–143.

    K. Greff, R. K. Srivastava, J. Koutník, B. R. Steunebrink and J. Schmidhuber,
    "LSTM: a search space odyssey", IEEE Transactions on Neural Networks and Learning
    Systems 28 (2017), 2222–2232 (the peephole LSTM as written above, and CIFG).
    """

    state = ("s", "c")

    def __init__(self, cifg: bool = False) -> None:
        if not isinstance(cifg, bool):
            raise TypeError(f"cifg must be True or False, got {cifg!r}")
        self.cifg = cifg
        self.gates = ("f", "g", "o") if cifg else ("i", "f", "g", "o")
        self.weights = tuple(f"W{g}" for g in self.gates) + tuple(
            f"p{g}" for g in self.gates if g != "g"
        )

    def shapes(self, input_size: int, hidden_size: int) -> dict[str, tuple[int, ...]]:
        D = hidden_size
        return {w: (D,) if w[0] == "p" else (D, D) for w in self.weights}

    def step(
        self,
        p: Mapping[str, np.ndarray],
        a: Mapping[str, np.ndarray],
        state: tuple[np.ndarray, ...],
    ) -> tuple[tuple[np.ndarray, np.ndarray], tuple]:
        s, c = state
        F = sigmoid(a["f"] + s @ p["Wf"] + p["pf"] * c)
        G = np.tanh(a["g"] + s @ p["Wg"])
        I = 1 - F if self.cifg else sigmoid(a["i"] + s @ p["Wi"] + p["pi"] * c)
        c_new = F * c + I * G
        O = sigmoid(a["o"] + s @ p["Wo"] + p["po"] * c_new)
        tanh_c = np.tanh(c_new)
        return (O * tanh_c, c_new), (s, c, I, F, G, c_new, O, tanh_c)

    def step_backward(
        self, p: Mapping[str, np.ndarray], dstate: tuple[np.ndarray, ...], cache: tuple
    ) -> tuple[dict, tuple[np.ndarray, np.ndarray], dict]:
        ds, dc = dstate  # dc: what reaches c_t from outside and from cell t+1
        s, c, I, F, G, c_new, O, tanh_c = cache
        dAo = ds * tanh_c * O * (1 - O)
        # c_t is used twice more in this cell: by S_t and by the output gate's peephole
        dc = dc + ds * O * (1 - tanh_c**2) + dAo * p["po"]
        dG = dc * I
        if self.cifg:  # c_t = F c_{t-1} + (1 - F) G
            dF = dc * (c - G)
        else:
            dF = dc * c
            dI = dc * G
        da = {"f": dF * F * (1 - F), "g": dG * (1 - G**2), "o": dAo}
        dc_prev = dc * F + da["f"] * p["pf"]
        dp = {"pf": (da["f"] * c).sum(axis=0), "po": (dAo * c_new).sum(axis=0)}
        if not self.cifg:
            da["i"] = dI * I * (1 - I)
            dc_prev += da["i"] * p["pi"]
            dp["pi"] = (da["i"] * c).sum(axis=0)
        ds_prev = sum(da[g] @ p["W" + g].T for g in self.gates)
        dp.update({"W" + g: s.T @ da[g] for g in self.gates})
        return da, (ds_prev, dc_prev), dp
