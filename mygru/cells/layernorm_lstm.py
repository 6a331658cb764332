r"""The layer-normalised LSTM (Ba, Kiros & Hinton 2016)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..cell import Cell
from ._sigmoid import sigmoid

__all__ = ["LayerNormLSTM"]

EPS = 1e-5  # added to the variance, as torch's LayerNorm does


def normalize(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(v − mean(v)) / sqrt(var(v) + EPS) over the last axis, each row on its own (the
    biased variance); returns it and 1 / sqrt(var(v) + EPS), (n, 1)."""
    centred = v - v.mean(axis=-1, keepdims=True)
    rstd = 1 / np.sqrt((centred**2).mean(axis=-1, keepdims=True) + EPS)
    return centred * rstd, rstd


def normalize_backward(
    dv_hat: np.ndarray, v_hat: np.ndarray, rstd: np.ndarray
) -> np.ndarray:
    """dv from dv̂ for v̂ = normalize(v), over the last axis:
    rstd ⊙ (dv̂ − mean(dv̂) − v̂ ⊙ mean(dv̂ ⊙ v̂))."""
    mean_d = dv_hat.mean(axis=-1, keepdims=True)
    mean_dv = (dv_hat * v_hat).mean(axis=-1, keepdims=True)
    return rstd * (dv_hat - mean_d - v_hat * mean_dv)


class LayerNormLSTM(Cell):
    r"""The LSTM with layer normalisation of its gates' two inputs and of its cell
    state.

    .. math::

        \mathrm{LN}(v; \gamma, \beta) &= \gamma \odot \frac{v - \mathrm{mean}(v)}
            {\sqrt{\mathrm{var}(v) + 10^{-5}}} + \beta \\
        [Z^i_t | Z^f_t | Z^g_t | Z^o_t] &=
            \mathrm{LN}([A^i_t | A^f_t | A^g_t | A^o_t]; \gamma_x, \beta_x)
            + \mathrm{LN}(S_{t-1} [W_i | W_f | W_g | W_o]; \gamma_h, \beta_h) \\
        I_t = \sigma(Z^i_t), \quad F_t &= \sigma(Z^f_t), \quad G_t = \tanh(Z^g_t),
            \quad O_t = \sigma(Z^o_t) \\
        c_t &= F_t \odot c_{t-1} + I_t \odot G_t \\
        S_t &= O_t \odot \tanh(\mathrm{LN}(c_t; \gamma_c, \beta_c))

    with the input projections :math:`A^g_t = X_t U_g` that :func:`mygru.recurrence`
    makes (no biases: the betas shift the normalised values instead). Each LN works on
    one row at a time, over its last axis: the mean and the (biased) variance of the
    input part and of the hidden part are taken over all 4D gate pre-activations at
    once, those of the cell state over its D units.

    The ``params`` of :func:`mygru.recurrence`: ``Ui``, ``Uf``, ``Ug``, ``Uo`` (C, D);
    ``Wi``, ``Wf``, ``Wg``, ``Wo`` (D, D); ``gamma_x``, ``beta_x``, ``gamma_h``,
    ``beta_h`` (4D,), in the gate order i, f, g, o; ``gamma_c``, ``beta_c`` (D,). A
    module starts the gammas at 1 and the betas at 0. The state is the pair (S, c), each
    (N, D).

    References
    ----------
    J. L. Ba, J. R. Kiros and G. E. Hinton, "Layer normalization", arXiv:1607.06450
    (2016), the layer-normalised LSTM.
    """

    gates = ("i", "f", "g", "o")
    weights = (
        "Wi",
        "Wf",
        "Wg",
        "Wo",
        "gamma_x",
        "beta_x",
        "gamma_h",
        "beta_h",
        "gamma_c",
        "beta_c",
    )
    state = ("s", "c")
    bias = False

    def shapes(self, input_size: int, hidden_size: int) -> dict[str, tuple[int, ...]]:
        D = hidden_size
        shapes: dict[str, tuple[int, ...]] = {f"W{g}": (D, D) for g in self.gates}
        shapes.update(
            {name: (4 * D,) for name in ("gamma_x", "beta_x", "gamma_h", "beta_h")}
        )
        shapes.update({"gamma_c": (D,), "beta_c": (D,)})
        return shapes

    def init(
        self,
        name: str,
        shape: tuple[int, ...],
        hidden_size: int,
        rng: np.random.Generator,
    ) -> np.ndarray:
        if name.startswith("gamma"):
            return np.ones(shape)
        if name.startswith("beta"):
            return np.zeros(shape)
        return super().init(name, shape, hidden_size, rng)

    def step(
        self,
        p: Mapping[str, np.ndarray],
        a: Mapping[str, np.ndarray],
        state: tuple[np.ndarray, ...],
    ) -> tuple[tuple[np.ndarray, np.ndarray], tuple]:
        s, c = state
        W = np.concatenate([p[f"W{g}"] for g in self.gates], axis=1)  # (D, 4D)
        x_hat, x_rstd = normalize(np.concatenate([a[g] for g in self.gates], axis=1))
        h_hat, h_rstd = normalize(s @ W)
        Z = p["gamma_x"] * x_hat + p["beta_x"] + p["gamma_h"] * h_hat + p["beta_h"]
        Zi, Zf, Zg, Zo = np.split(Z, 4, axis=1)
        I, F, G, O = sigmoid(Zi), sigmoid(Zf), np.tanh(Zg), sigmoid(Zo)
        c_new = F * c + I * G
        c_hat, c_rstd = normalize(c_new)
        tanh_n = np.tanh(p["gamma_c"] * c_hat + p["beta_c"])
        cache = (s, c, x_hat, x_rstd, h_hat, h_rstd, I, F, G, O, c_hat, c_rstd, tanh_n)
        return (O * tanh_n, c_new), cache

    def step_backward(
        self, p: Mapping[str, np.ndarray], dstate: tuple[np.ndarray, ...], cache: tuple
    ) -> tuple[dict, tuple[np.ndarray, np.ndarray], dict]:
        ds, dc = dstate  # dc: what reaches c_t from outside and from cell t+1
        s, c, x_hat, x_rstd, h_hat, h_rstd, I, F, G, O, c_hat, c_rstd, tanh_n = cache
        # S_t = O tanh(N_t), N_t = gamma_c c_hat + beta_c, c_hat = normalize(c_t)
        dN = ds * O * (1 - tanh_n**2)
        dc = dc + normalize_backward(dN * p["gamma_c"], c_hat, c_rstd)
        dZ = np.concatenate(
            [
                dc * G * I * (1 - I),
                dc * c * F * (1 - F),
                dc * I * (1 - G**2),
                ds * tanh_n * O * (1 - O),
            ],
            axis=1,
        )
        dA = normalize_backward(dZ * p["gamma_x"], x_hat, x_rstd)
        dSW = normalize_backward(
            dZ * p["gamma_h"], h_hat, h_rstd
        )  # d(S_{t-1} W), (n, 4D)
        W = np.concatenate([p[f"W{g}"] for g in self.gates], axis=1)
        dW = np.split(s.T @ dSW, 4, axis=1)
        dp = {f"W{g}": dWg for g, dWg in zip(self.gates, dW)}
        dp.update(
            gamma_x=(dZ * x_hat).sum(axis=0),
            beta_x=dZ.sum(axis=0),
            gamma_h=(dZ * h_hat).sum(axis=0),
            beta_h=dZ.sum(axis=0),
            gamma_c=(dN * c_hat).sum(axis=0),
            beta_c=dN.sum(axis=0),
        )
        da = dict(zip(self.gates, np.split(dA, 4, axis=1)))
        return da, (dSW @ W.T, dc * F), dp
