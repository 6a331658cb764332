r"""Any :class:`mygru.Cell` on the plain driver of :mod:`mygru.plain.bptt`: the reference
that :func:`mygru.check_cell` holds :func:`mygru.recurrence` to.

One step, written out: the input projections of this step (with the dropout masks),
the cell's own step, and a finished sequence keeping its state::

    A^g_t = (X_t U_g) ⊙ M_g + b_g                       (every gate g)
    S'_t = cell(A_t, S_{t-1})                           (the weights W ⊙ M_W)
    S_t = alive ⊙ S'_t + (1 − alive) ⊙ S_{t-1}          (alive: 1 while the sequence runs)

and back: dL/dS'_t = alive ⊙ dS, the cell's ``step_backward`` from there, then
dS_{t-1} gets (1 − alive) ⊙ dS besides the cell's own, and the products' rules give
dX_t, dU_g, db_g. Nothing here is fast; the state is an array, or a tuple of parts.
"""

import numpy as np

from . import bptt


def as_parts(cell, s):
    """A state (an array, or a tuple of parts) as the tuple of its parts."""
    return (s,) if len(cell.state) == 1 else tuple(s)


def from_parts(cell, parts):
    """The parts of a state as the cell takes it: an array for one part, else a tuple."""
    return parts[0] if len(cell.state) == 1 else tuple(parts)


def step(p, x, s, cell, masks):
    """One step: ``x`` is the pair (X_t, alive), alive (N, 1) of 0 and 1."""
    x, alive = x
    a = {}
    for g in cell.gates:
        xu = x @ p["U" + g]
        a[g] = (xu * masks["U" + g] if "U" + g in masks else xu) + p.get("b" + g, 0)
    w = {
        name: p[name] * masks[name] if name in masks else p[name]
        for name in cell.weights
    }
    new, cache = cell.step(w, a, s)
    kept = [
        alive * n + (1 - alive) * o
        for n, o in zip(as_parts(cell, new), as_parts(cell, s))
    ]
    return from_parts(cell, kept), (x, alive, w, cache)


def step_backward(p, ds, cache, cell, masks):
    """Back through :func:`step`: dS_{t-1}, dX_t and this step's weight gradients."""
    x, alive, w, inner = cache
    parts = as_parts(cell, ds)
    da, ds_prev, dw = cell.step_backward(
        w, from_parts(cell, [alive * d for d in parts]), inner
    )
    ds_prev = [d + (1 - alive) * g for d, g in zip(as_parts(cell, ds_prev), parts)]
    grads = {
        name: dw[name] * masks[name] if name in masks else dw[name]
        for name in cell.weights
    }
    dX = 0
    for g in cell.gates:
        dxu = da[g] * masks["U" + g] if "U" + g in masks else da[g]
        grads["U" + g] = x.T @ dxu
        if "b" + g in p:
            grads["b" + g] = da[g].sum(axis=0)
        dX = dX + dxu @ p["U" + g].T
    return from_parts(cell, ds_prev), dX, grads


def forward(cell, p, X, s0, masks=None, lengths=None):
    """Every state of X (T, N, C) from s0 (an array, or a tuple of parts): one array
    (T+1, N, width) per part, and the caches."""
    T, N = X.shape[:2]
    alive = (
        np.ones((T, N, 1))
        if lengths is None
        else (np.arange(T)[:, None] < np.asarray(lengths))[..., None]
    )
    states, caches = bptt.forward(
        step, p, list(zip(X, alive.astype(X.dtype))), s0, cell=cell, masks=masks or {}
    )
    return tuple(
        np.stack(s) for s in zip(*map(lambda s: as_parts(cell, s), states))
    ), caches


def backward(cell, p, grads, caches, masks=None, bp_lim=None):
    """From what arrives at each state from outside (one (T+1, N, width) array per part):
    the total derivatives (one array per part), dX (T, N, C) and the parameters' gradients."""
    per_step = [from_parts(cell, g) for g in zip(*grads)]
    dS, dX, dW = bptt.backward(
        step_backward, p, per_step, caches, bp_lim, cell=cell, masks=masks or {}
    )
    dS = tuple(np.stack(d) for d in zip(*map(lambda d: as_parts(cell, d), dS)))
    return dS, np.stack(dX) if dX else np.zeros((0,)), dW
