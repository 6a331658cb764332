"""A cell's ``step`` and ``step_backward`` run over a whole sequence.

A state is one array (GRU, Elman) or a tuple of arrays (the LSTM's ``(s, c)``); the
gradient of a state has the state's form.
"""

import numpy as np


def _add(a, b):
    """a + b for states: arrays, or tuples of arrays added entry by entry."""
    return tuple(map(np.add, a, b)) if isinstance(a, tuple) else a + b


def forward(step, p, X, state0, **options):
    """Cell t = 1, ..., T maps state t - 1 to state t, reading X[t - 1] (= X_t).

    Returns the T + 1 states (``states[0]`` is ``state0``) and each cell's cache.
    """
    states, caches = [state0], []
    for x in X:
        state, cache = step(p, x, states[-1], **options)
        states.append(state)
        caches.append(cache)
    return states, caches


def backward(step_backward, p, grads, caches, bp_lim=None, **options):
    """Back-propagation through time.

    ``grads[t]`` (t = 0, ..., T) is g_t, what arrives at state t from outside. Returns
    the total derivative Δ_t = dL/dS_t of every state (a list of T + 1), dL/dX (a list
    of T) and the weight gradients (a dict like ``p``).

    ``bp_lim=k``: the term g_t goes back k states at most, to S_{t-k}; the cells
    t, ..., t - k (those whose output it reaches) see it in their weight gradients.
    """
    T = len(caches)
    truncated = bp_lim is not None and bp_lim < T
    if truncated:
        dS = truncated_totals(step_backward, p, grads, caches, bp_lim, **options)
    else:
        dS = list(grads)
    dW = {name: np.zeros_like(w) for name, w in p.items()}
    dX = [None] * T
    for t in range(T, 0, -1):  # cell t, from the last: dS[t] has all its terms by now
        dS_prev, dX[t - 1], dW_t = step_backward(p, dS[t], caches[t - 1], **options)
        if not truncated:
            # S_{t-1} is used by cell t too: the gradients add
            dS[t - 1] = _add(dS[t - 1], dS_prev)
        for name, d in dW_t.items():
            dW[name] += d  # every cell uses the same weights: gradients add
    return dS, dX, dW


def truncated_totals(step_backward, p, grads, caches, bp_lim, **options):
    """Δ_j = the sum over t = j, ..., j + bp_lim of g_t, moved back from S_t to S_j."""
    dS = list(grads)
    for t in range(1, len(caches) + 1):  # the term that arrived at state t ...
        d = grads[t]
        for c in range(t, max(t - bp_lim, 0), -1):  # ... crosses cell c, to S_{c-1}
            d = step_backward(p, d, caches[c - 1], **options)[0]
            dS[c - 1] = _add(dS[c - 1], d)
    return dS
