"""Independent references: the recurrences unrolled step by step in mygrad primitives
(sigmoid, tanh, relu, matmul), which mygrad differentiates by itself.

Nothing here imports mygru's kernels. All arithmetic is done in float64.
"""

import mygrad as mg
import numpy as np

GRU_NAMES = ("Uz", "Wz", "bz", "Ur", "Wr", "br", "Uh", "Wh", "bh")
RNN_NAMES = ("U", "W", "b")
LSTM_NAMES = ("Ui", "Wi", "bi", "Uf", "Wf", "bf", "Ug", "Wg", "bg", "Uo", "Wo", "bo")


def _xu(x, p, m, g):
    """X_t U_g, times the gate's input dropout mask if it has one."""
    out = mg.matmul(x, p["U" + g])
    return out * m["U" + g] if "U" + g in m else out


def _w(p, m, g):
    """W_g, times its DropConnect mask if it has one."""
    return p["W" + g] * m["W" + g] if "W" + g in m else p["W" + g]


def gru_cell(x, s, p, m=None, reset_after=False):
    """One GRU step from mygrad primitives; ``m`` holds dropout masks by name."""
    m = m or {}
    z = mg.nnet.sigmoid(_xu(x, p, m, "z") + mg.matmul(s, _w(p, m, "z")) + p["bz"])
    r = mg.nnet.sigmoid(_xu(x, p, m, "r") + mg.matmul(s, _w(p, m, "r")) + p["br"])
    if reset_after:
        h = mg.tanh(_xu(x, p, m, "h") + p["bh"] + r * (mg.matmul(s, _w(p, m, "h")) + p["bhn"]))
    else:
        h = mg.tanh(_xu(x, p, m, "h") + mg.matmul(r * s, _w(p, m, "h")) + p["bh"])
    return (1 - z) * h + z * s


def rnn_cell(x, s, p, m=None, nonlinearity="tanh"):
    """One Elman step from mygrad primitives."""
    m = m or {}
    xu = mg.matmul(x, p["U"])
    if "U" in m:
        xu = xu * m["U"]
    W = p["W"] * m["W"] if "W" in m else p["W"]
    pre = xu + mg.matmul(s, W) + p["b"]
    return mg.tanh(pre) if nonlinearity == "tanh" else mg.nnet.relu(pre)


def lstm_cell(x, s, p, m=None):
    """One LSTM step from mygrad primitives. Its state is the pair side by side,
    s = [h | c] (N, P + D), so that ``unroll`` and ``reference`` treat it as one
    state (a window's entering state is then the pair, as the op defines it)."""
    m = m or {}
    P = p["Wi"].shape[0]
    h, c = s[:, :P], s[:, P:]

    def pre(g):
        return _xu(x, p, m, g) + mg.matmul(h, _w(p, m, g)) + p["b" + g]

    i, f, o = (mg.nnet.sigmoid(pre(g)) for g in "ifo")
    c_new = f * c + i * mg.tanh(pre("g"))
    h_new = o * mg.tanh(c_new)
    if "Wp" in p:
        h_new = mg.matmul(h_new, p["Wp"])
    return mg.concatenate([h_new, c_new], axis=1)


def unroll(cell, X, s_start, i0, i1, lengths=None):
    """States S_{i0}, ..., S_{i1}: cells i0 .. i1-1 (0-based) applied from ``s_start``."""
    states = [s_start]
    for i in range(i0, i1):
        s_new = cell(X[i], states[-1])
        if lengths is not None:  # finished sequences keep their state
            alive = (i < np.asarray(lengths))[:, None].astype(np.float64)
            s_new = alive * s_new + (1 - alive) * states[-1]
        states.append(s_new)
    return states


def as_f64_tensors(arrays):
    return {k: mg.tensor(np.asarray(v, dtype=np.float64)) for k, v in arrays.items()}


def reference(cell, X, params, s0, grad, bp_lim=None, lengths=None):
    """Forward and gradients of L = Σ_t Σ grad[t] ⊙ S_t by the unrolled recurrence.

    With ``bp_lim=k`` the loss term at output t is back-propagated through the
    graph of its window only (cells max(1, t-k) .. t, 1-based), the state entering
    the window taken as a constant unless the window reaches past the start, and
    the results summed over t.

    Returns (states (T+1, N, D), grads by name incl. "X" and "s0", sgrad (T+1, N, D)).
    """
    grad = np.asarray(grad, dtype=np.float64)
    T = X.shape[0]
    p = as_f64_tensors(params)
    Xt = mg.tensor(np.asarray(X, dtype=np.float64))
    s0t = mg.tensor(np.asarray(s0, dtype=np.float64))
    step = lambda x, s: cell(x, s, p)  # noqa: E731

    states = unroll(step, Xt, s0t, 0, T, lengths)
    forward = np.stack([s.data for s in states])
    total = {k: np.zeros(v.shape) for k, v in p.items()}
    total["X"], total["s0"] = np.zeros(Xt.shape), grad[0].copy()
    sgrad = np.zeros_like(forward)
    sgrad[0] = grad[0]

    def collect(window_states, first_state_index):
        """Add this backward's gradients to the totals, then clear them, since a tensor
        that is not in the next window would keep a stale gradient."""
        for name, v in [*p.items(), ("X", Xt), ("s0", s0t)]:
            if v.grad is not None:
                total[name] += v.grad
        for j, st in enumerate(window_states):
            if st.grad is not None and not st.constant:
                sgrad[first_state_index + j] += st.grad
        for v in [*p.values(), Xt, s0t]:
            v.null_grad()

    if bp_lim is None:
        if T:
            sum((states[t] * grad[t]).sum() for t in range(1, T + 1)).backward()
            collect(states, 0)
        return forward, total, sgrad

    for t in range(1, T + 1):
        c0 = max(1, t - bp_lim)  # first cell of the window (1-based)
        # the state entering the window is a constant unless the window reaches past the start
        start = s0t if t - bp_lim <= 0 else mg.tensor(forward[c0 - 1], constant=True)
        win = unroll(step, Xt, start, c0 - 1, t, lengths)
        (win[-1] * grad[t]).sum().backward()
        collect(win, c0 - 1)
    return forward, total, sgrad
