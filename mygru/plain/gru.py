r"""The GRU, plain: one step forward and back, in both formulations.

Reset before the product (mygrad's; ``step``, ``step_backward``)::

    Z_t = σ(A^z_t),   A^z_t = X_t Uz + S_{t-1} Wz + bz              (1)
    R_t = σ(A^r_t),   A^r_t = X_t Ur + S_{t-1} Wr + br              (2)
    H_t = tanh(A^h_t), A^h_t = X_t Uh + (R_t ⊙ S_{t-1}) Wh + bh      (3)
    S_t = (1 − Z_t) ⊙ H_t + Z_t ⊙ S_{t-1}                           (4)

Reset after the product (torch's; ``step_after``, ``step_after_backward``), only the
candidate changes::

    H_t = tanh(A^h_t), A^h_t = X_t Uh + bh + R_t ⊙ Q_t,  Q_t = S_{t-1} Wh + bhn   (3')

Shapes: x (N, C), states (N, D), U* (C, D), W* (D, D), b* (D,). A name ``dY`` is
dL/dY, of Y's shape.
"""

import numpy as np

from . import bptt


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def step(p, x, s_prev):
    """S_t from X_t = x and S_{t-1} = s_prev, by (1)-(4); returns (S_t, cache)."""
    z = sigmoid(x @ p["Uz"] + s_prev @ p["Wz"] + p["bz"])  # (1)
    r = sigmoid(x @ p["Ur"] + s_prev @ p["Wr"] + p["br"])  # (2)
    h = np.tanh(x @ p["Uh"] + (r * s_prev) @ p["Wh"] + p["bh"])  # (3)
    s = (1 - z) * h + z * s_prev  # (4)
    return s, (x, s_prev, z, r, h)


def step_backward(p, dS, cache):
    """Back through one cell: from dS = dL/dS_t to dL/dS_{t-1} (through this cell),
    dL/dX_t and this cell's part of every weight gradient."""
    x, s_prev, z, r, h = cache
    # (4) has three inputs, H_t, Z_t and S_{t-1}
    dH = dS * (1 - z)
    dZ = dS * (s_prev - h)
    dS_prev = dS * z  # path 1: the carry, no matrix in it
    # (3): through the tanh, then the product (R_t ⊙ S_{t-1}) Wh
    dAh = dH * (1 - h**2)
    dRS = dAh @ p["Wh"].T
    dR = dRS * s_prev
    dS_prev += dRS * r  # path 2: through the candidate
    # (1), (2): through the sigmoids, then the products S_{t-1} Wz, S_{t-1} Wr
    dAz = dZ * z * (1 - z)
    dAr = dR * r * (1 - r)
    dS_prev += dAz @ p["Wz"].T + dAr @ p["Wr"].T  # paths 3 and 4
    dX = dAz @ p["Uz"].T + dAr @ p["Ur"].T + dAh @ p["Uh"].T
    # the matrix-product rule for the weights, broadcasting for the biases
    # fmt: off
    dW = {"Uz": x.T @ dAz, "Ur": x.T @ dAr, "Uh": x.T @ dAh,
          "Wz": s_prev.T @ dAz, "Wr": s_prev.T @ dAr, "Wh": (r * s_prev).T @ dAh,
          "bz": dAz.sum(axis=0), "br": dAr.sum(axis=0), "bh": dAh.sum(axis=0)}
    # fmt: on
    return dS_prev, dX, dW


def step_after(p, x, s_prev):
    """S_t by (1), (2), (3'), (4); returns (S_t, cache)."""
    z = sigmoid(x @ p["Uz"] + s_prev @ p["Wz"] + p["bz"])  # (1)
    r = sigmoid(x @ p["Ur"] + s_prev @ p["Wr"] + p["br"])  # (2)
    q = s_prev @ p["Wh"] + p["bhn"]
    h = np.tanh(x @ p["Uh"] + p["bh"] + r * q)  # (3')
    s = (1 - z) * h + z * s_prev  # (4)
    return s, (x, s_prev, z, r, h, q)


def step_after_backward(p, dS, cache):
    """Back through one cell of the reset-after GRU (as ``step_backward``)."""
    x, s_prev, z, r, h, q = cache
    dH = dS * (1 - z)
    dZ = dS * (s_prev - h)
    dS_prev = dS * z  # path 1: the carry
    # (3'): R_t ⊙ Q_t is elementwise; Q_t = S_{t-1} Wh + bhn is a product
    dAh = dH * (1 - h**2)
    dQ = dAh * r
    dR = dAh * q
    dS_prev += dQ @ p["Wh"].T  # path 2: the candidate, through Wh now
    dAz = dZ * z * (1 - z)
    dAr = dR * r * (1 - r)
    dS_prev += dAz @ p["Wz"].T + dAr @ p["Wr"].T  # paths 3 and 4
    dX = dAz @ p["Uz"].T + dAr @ p["Ur"].T + dAh @ p["Uh"].T
    # fmt: off
    dW = {"Uz": x.T @ dAz, "Ur": x.T @ dAr, "Uh": x.T @ dAh,
          "Wz": s_prev.T @ dAz, "Wr": s_prev.T @ dAr, "Wh": s_prev.T @ dQ,
          "bz": dAz.sum(axis=0), "br": dAr.sum(axis=0), "bh": dAh.sum(axis=0),
          "bhn": dQ.sum(axis=0)}
    # fmt: on
    return dS_prev, dX, dW


def forward(p, X, s0, reset_after=False):
    """Every state of the sequence X (T, N, C) from s0 (N, D): S (T+1, N, D), caches."""
    S, caches = bptt.forward(step_after if reset_after else step, p, X, s0)
    return np.stack(S), caches


def backward(p, grad, caches, reset_after=False, bp_lim=None):
    """From g = ``grad`` (T+1, N, D), what arrives at each state from outside: the total
    derivatives dS (T+1, N, D), dX (T, N, C) and the weight gradients (a dict)."""
    back = step_after_backward if reset_after else step_backward
    dS, dX, dW = bptt.backward(back, p, list(grad), caches, bp_lim)
    return np.stack(dS), np.stack(dX), dW
