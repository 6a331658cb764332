r"""The LSTM (torch's cell), plain: one step forward and back::

    I_t = σ(A^i_t),    A^i_t = X_t Ui + S_{t-1} Wi + bi       (6)
    F_t = σ(A^f_t),    A^f_t = X_t Uf + S_{t-1} Wf + bf       (7)
    G_t = tanh(A^g_t), A^g_t = X_t Ug + S_{t-1} Wg + bg       (8)
    O_t = σ(A^o_t),    A^o_t = X_t Uo + S_{t-1} Wo + bo       (9)
    c_t = F_t ⊙ c_{t-1} + I_t ⊙ G_t                           (10)
    V_t = O_t ⊙ tanh(c_t),   S_t = V_t (or V_t Wp)            (11)

The state is the pair (S_t, c_t). Shapes: x (N, C), c (N, D), S (N, D), or (N, P)
with the projection Wp (D, P); U* (C, D), W* (D, D) or (P, D), b* (D,). A name
``dY`` is dL/dY, of Y's shape.
"""

import numpy as np

from . import bptt
from .gru import sigmoid


def step(p, x, state):
    """(S_t, c_t) from X_t = x and state = (S_{t-1}, c_{t-1}), by (6)-(11); returns
    ((S_t, c_t), cache)."""
    s_prev, c_prev = state
    i = sigmoid(x @ p["Ui"] + s_prev @ p["Wi"] + p["bi"])  # (6)
    f = sigmoid(x @ p["Uf"] + s_prev @ p["Wf"] + p["bf"])  # (7)
    g = np.tanh(x @ p["Ug"] + s_prev @ p["Wg"] + p["bg"])  # (8)
    o = sigmoid(x @ p["Uo"] + s_prev @ p["Wo"] + p["bo"])  # (9)
    c = f * c_prev + i * g  # (10)
    v = o * np.tanh(c)  # (11)
    s = v @ p["Wp"] if "Wp" in p else v
    return (s, c), (x, s_prev, c_prev, i, f, g, o, c, v)


def step_backward(p, dstate, cache):
    """Back through one cell: from the totals (Δ_t, Δ^c_t) of S_t and c_t to what this
    cell sends back to (S_{t-1}, c_{t-1}), dL/dX_t and this cell's part of every weight
    gradient.

    Δ^c_t (``dc`` here) holds what reached c_t from cell t+1 and from outside; inside
    this cell c_t has one more use, by V_t, whose gradient is added to it."""
    dS, dc = dstate
    x, s_prev, c_prev, i, f, g, o, c, v = cache
    dW = {}
    if "Wp" in p:  # (11), S_t = V_t Wp
        dW["Wp"] = v.T @ dS
        dS = dS @ p["Wp"].T  # now dL/dV_t
    tanh_c = np.tanh(c)
    dO = dS * tanh_c  # (11)
    dc = dc + dS * o * (1 - tanh_c**2)  # (11): c_t's use by V_t
    dF, dc_prev, dI, dG = dc * c_prev, dc * f, dc * g, dc * i  # (10)
    dAi = dI * i * (1 - i)
    dAf = dF * f * (1 - f)
    dAg = dG * (1 - g**2)
    dAo = dO * o * (1 - o)
    dS_prev = dAi @ p["Wi"].T + dAf @ p["Wf"].T + dAg @ p["Wg"].T + dAo @ p["Wo"].T
    dX = dAi @ p["Ui"].T + dAf @ p["Uf"].T + dAg @ p["Ug"].T + dAo @ p["Uo"].T
    for gate, dA in zip("ifgo", (dAi, dAf, dAg, dAo)):
        dW["U" + gate] = x.T @ dA
        dW["W" + gate] = s_prev.T @ dA
        dW["b" + gate] = dA.sum(axis=0)
    return (dS_prev, dc_prev), dX, dW


def forward(p, X, s0, c0):
    """Every state of X (T, N, C) from (s0, c0): S and c, each (T+1, N, ·), and
    the caches."""
    states, caches = bptt.forward(step, p, X, (s0, c0))
    S, c = zip(*states)
    return np.stack(S), np.stack(c), caches


def backward(p, grad_s, grad_c, caches, bp_lim=None):
    """From what arrives at each S_t and c_t from outside (``grad_s``, ``grad_c``,
    each (T+1, N, ·)): dS and dc (the total derivatives), dX (T, N, C) and the
    weight gradients."""
    grads = list(zip(grad_s, grad_c))
    d, dX, dW = bptt.backward(step_backward, p, grads, caches, bp_lim)
    dS, dc = zip(*d)
    return np.stack(dS), np.stack(dc), np.stack(dX), dW
