r"""The Elman cell, plain: one step forward and back::

    S_t = f(A_t),   A_t = X_t U + S_{t-1} W + b,   f = tanh or relu     (5)

Shapes: x (N, C), states (N, D), U (C, D), W (D, D), b (D,). A name ``dY`` is dL/dY.
"""

import numpy as np

from . import bptt


def step(p, x, s_prev, nonlinearity="tanh"):
    """S_t from X_t = x and S_{t-1} = s_prev, by (5); returns (S_t, cache)."""
    a = x @ p["U"] + s_prev @ p["W"] + p["b"]
    s = np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0)
    return s, (x, s_prev, s)


def step_backward(p, dS, cache, nonlinearity="tanh"):
    """Back through one cell: from dS = dL/dS_t to dL/dS_{t-1} (through this cell),
    dL/dX_t and this cell's part of every weight gradient."""
    x, s_prev, s = cache
    # f' read off the output: tanh' = 1 − tanh², relu' = [S_t > 0]
    dA = dS * (1 - s**2) if nonlinearity == "tanh" else dS * (s > 0)
    dS_prev = dA @ p["W"].T  # the only path back, always through W
    dX = dA @ p["U"].T
    dW = {"U": x.T @ dA, "W": s_prev.T @ dA, "b": dA.sum(axis=0)}
    return dS_prev, dX, dW


def forward(p, X, s0, nonlinearity="tanh"):
    """Every state of X (T, N, C) from s0 (N, D): S (T+1, N, D), caches."""
    S, caches = bptt.forward(step, p, X, s0, nonlinearity=nonlinearity)
    return np.stack(S), caches


def backward(p, grad, caches, nonlinearity="tanh", bp_lim=None):
    """From ``grad`` (T+1, N, D): dS (T+1, N, D), dX (T, N, C), the weight gradients."""
    dS, dX, dW = bptt.backward(
        step_backward, p, list(grad), caches, bp_lim, nonlinearity=nonlinearity
    )
    return np.stack(dS), np.stack(dX), dW
