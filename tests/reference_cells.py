"""References for the user cells of ``user_cells``: each cell's equations in mygrad
primitives (sigmoid, tanh, relu, matmul), which mygrad differentiates by itself, and a
windowed reference of ``mygru.recurrence`` for a state of several parts.

Nothing here imports mygru. A core takes (p, a, s): the cell's weights, the gates'
pre-activations A^g = X_t U{g} + b{g} and the state as a tuple of parts, and returns
the new state as a tuple of parts.
"""

import itertools

import mygrad as mg
import numpy as np
from reference import reference


def mgu(p, a, s):
    (s,) = s
    F = mg.nnet.sigmoid(a["f"] + mg.matmul(s, p["Wf"]))
    H = mg.tanh(a["h"] + mg.matmul(F * s, p["Wh"]))
    return ((1 - F) * s + F * H,)


def gru(p, a, s):
    (s,) = s
    Z = mg.nnet.sigmoid(a["z"] + mg.matmul(s, p["Wz"]))
    R = mg.nnet.sigmoid(a["r"] + mg.matmul(s, p["Wr"]))
    H = mg.tanh(a["h"] + mg.matmul(R * s, p["Wh"]))
    return ((1 - Z) * H + Z * s,)


def lstm(p, a, s):
    h, c = s
    I, F, O = (mg.nnet.sigmoid(a[g] + mg.matmul(h, p["W" + g])) for g in "ifo")
    G = mg.tanh(a["g"] + mg.matmul(h, p["Wg"]))
    c_new = F * c + I * G
    h_new = O * mg.tanh(c_new)
    if "Wp" in p:
        h_new = mg.matmul(h_new, p["Wp"])
    return (h_new, c_new)


def indrnn(p, a, s):
    (s,) = s
    return (mg.nnet.relu(a[""] + p["u"] * s),)


def carry3(p, a, s):
    s, k, m = s
    return (mg.tanh(a[""] + mg.matmul(s, p["W"]) + k), k, m)


def linear(p, a, s):
    return (a[""] + mg.matmul(s[0], p["W"]),)


def two_gates(p, a, s):
    return (a["x"] + a["y"] + mg.matmul(s[0], p["W"]),)


def copy(p, a, s):
    return (a[""] + 0 * s[0],)


# name: (core, gates, weights, number of state parts)
CORES = {
    "mgu": (mgu, ("f", "h"), ("Wf", "Wh"), 1),
    "gru": (gru, ("z", "r", "h"), ("Wz", "Wr", "Wh"), 1),
    "lstm": (lstm, tuple("ifgo"), ("Wi", "Wf", "Wg", "Wo"), 2),
    "lstmp": (lstm, tuple("ifgo"), ("Wi", "Wf", "Wg", "Wo", "Wp"), 2),
    "indrnn": (indrnn, ("",), ("u",), 1),
    "carry3": (carry3, ("",), ("W",), 3),
    "linear": (linear, ("",), ("W",), 1),
    "twogates": (two_gates, ("x", "y"), ("W",), 1),
    "copy": (copy, ("",), (), 1),
}


def widths(kind, D, params):
    """Each state part's width."""
    if kind == "lstmp":
        return (np.shape(params["Wp"])[1], D)
    return (D,) * CORES[kind][3]


def projections(gates, x, p, m, bias=True):
    """A^g = (X_t U{g}) ⊙ mask + b{g} for every gate, masks by parameter name."""
    a = {}
    for g in gates:
        xu = mg.matmul(x, p["U" + g])
        if "U" + g in m:
            xu = xu * m["U" + g]
        a[g] = xu + p["b" + g] if bias else xu
    return a


def masked(p, names, m):
    """The cell's weights, each times its DropConnect mask if it has one."""
    return {k: p[k] * m[k] if k in m else p[k] for k in names}


def split(v, ws):
    """Parts of width ws side by side along the last axis, apart."""
    edges = np.cumsum((0, *ws))
    return tuple(v[..., i:j] for i, j in itertools.pairwise(edges))


def concat_cell(kind, ws, masks=None, bias=True):
    """The cell as ``reference.reference`` wants it: x (N, C), s (N, Σ widths) with the parts
    side by side (so a window's entering state is every part, as the op defines it)."""
    core, gates, names, _ = CORES[kind]
    m = masks or {}

    def cell(x, s, p):
        new = core(masked(p, names, m), projections(gates, x, p, m, bias), split(s, ws))
        return new[0] if len(new) == 1 else mg.concatenate(new, axis=1)

    return cell


def reference_parts(kind, X, params, s0, grads, bp_lim=None, lengths=None, masks=None, bias=True):
    """Forward and gradients of L = Σ_k Σ_t grads[k][t] ⊙ part_k(t) by the unrolled
    recurrence, windowed per output for ``bp_lim`` (see ``reference.reference``).

    ``s0``: a tuple of arrays, one per part; ``grads``: a tuple of (T+1, N, width_k).
    Returns (parts: tuple of (T+1, N, width_k), {name: gradient} including "X" and "s0"
    (a tuple of one per part), part gradients: tuple of (T+1, N, width_k)).
    """
    ws = tuple(np.shape(g)[-1] for g in grads)
    cat = lambda parts: np.concatenate([np.asarray(v, np.float64) for v in parts], axis=-1)  # noqa: E731
    m = {k: np.asarray(v, np.float64) for k, v in (masks or {}).items()}
    forward, total, sgrad = reference(
        concat_cell(kind, ws, m, bias), X, params, cat(s0), cat(grads), bp_lim=bp_lim, lengths=lengths
    )
    total = dict(total, s0=split(total["s0"], ws))
    return split(forward, ws), total, split(sgrad, ws)


def step_reference(kind, p, a, s):
    """One step of the core on float64 Tensors, for autodiff: returns (p, a, s) as
    Tensors and the new parts."""
    core = CORES[kind][0]
    pt = {k: mg.tensor(np.asarray(v, np.float64)) for k, v in p.items()}
    at = {k: mg.tensor(np.asarray(v, np.float64)) for k, v in a.items()}
    st = tuple(mg.tensor(np.asarray(v, np.float64)) for v in s)
    return pt, at, st, core(pt, at, st)
