"""Cells written the way a user writes them for ``mygru.recurrence``: plain numpy ``step``
and ``step_backward``, each backward derived by hand from the cell's equations.

Notation: ``a[g]`` = A^g = X_t U{g} + b{g} (made by the driver), S the state entering the
cell, a name ``dY`` is dL/dY (of Y's shape). σ' = σ(1 − σ), tanh' = 1 − tanh². A weight's
gradient is summed over the rows: for Y = S W, dW = Sᵀ dY and dS = dY Wᵀ.
"""

import numpy as np

from mygru import Cell


def sigmoid(a):
    """σ without overflow warnings: tanh form, exact in both tails."""
    return 0.5 * (1.0 + np.tanh(0.5 * a))


class MGU(Cell):
    """The minimal gated unit (Zhou et al. 2016)::

    F = σ(A^f + S Wf),  H = tanh(A^h + (F ⊙ S) Wh),  S' = (1 − F) ⊙ S + F ⊙ H

    Relies on the protocol's defaults: state ("s",), bias True, DropConnect on Wf and Wh,
    every width D."""

    gates = ("f", "h")
    weights = ("Wf", "Wh")

    def step(self, p, a, s):
        F = sigmoid(a["f"] + s @ p["Wf"])
        FS = F * s
        H = np.tanh(a["h"] + FS @ p["Wh"])
        return (1 - F) * s + F * H, (s, F, FS, H)

    def step_backward(self, p, ds, cache):
        s, F, FS, H = cache
        # S' = (1 − F) ⊙ S + F ⊙ H: three uses of the incoming gradient
        dH = ds * F
        dF = ds * (H - s)
        ds_prev = ds * (1 - F)  # the carry path
        # H = tanh(A^h + (F ⊙ S) Wh)
        dAh = dH * (1 - H**2)
        dWh = FS.T @ dAh
        dFS = dAh @ p["Wh"].T
        dF = dF + dFS * s
        ds_prev = ds_prev + dFS * F
        # F = σ(A^f + S Wf)
        dAf = dF * F * (1 - F)
        ds_prev = ds_prev + dAf @ p["Wf"].T
        return {"f": dAf, "h": dAh}, ds_prev, {"Wf": s.T @ dAf, "Wh": dWh}


class BuggyMGU(MGU):
    """The MGU with a planted bug: its backward drops the carry path (1 − F) ⊙ dS' from
    dS (the forward is right)."""

    def step_backward(self, p, ds, cache):
        F = cache[1]
        da, ds_prev, dp = super().step_backward(p, ds, cache)
        return da, ds_prev - ds * (1 - F), dp


class GRU(Cell):
    """mygru.gru's (and mygrad's) GRU, the reset applied before the product::

    Z = σ(A^z + S Wz),  R = σ(A^r + S Wr),  H = tanh(A^h + (R ⊙ S) Wh),
    S' = (1 − Z) ⊙ H + Z ⊙ S
    """

    gates = ("z", "r", "h")
    weights = ("Wz", "Wr", "Wh")
    state = ("s",)
    bias = True

    def step(self, p, a, s):
        Z = sigmoid(a["z"] + s @ p["Wz"])
        R = sigmoid(a["r"] + s @ p["Wr"])
        RS = R * s
        H = np.tanh(a["h"] + RS @ p["Wh"])
        return (1 - Z) * H + Z * s, (s, Z, R, RS, H)

    def step_backward(self, p, ds, cache):
        s, Z, R, RS, H = cache
        # S' = (1 − Z) ⊙ H + Z ⊙ S
        dH = ds * (1 - Z)
        dZ = ds * (s - H)
        ds_prev = ds * Z
        # H = tanh(A^h + (R ⊙ S) Wh)
        dAh = dH * (1 - H**2)
        dRS = dAh @ p["Wh"].T
        ds_prev = ds_prev + dRS * R
        # R = σ(A^r + S Wr), Z = σ(A^z + S Wz)
        dAr = dRS * s * R * (1 - R)
        dAz = dZ * Z * (1 - Z)
        ds_prev = ds_prev + dAr @ p["Wr"].T + dAz @ p["Wz"].T
        dp = {"Wz": s.T @ dAz, "Wr": s.T @ dAr, "Wh": RS.T @ dAh}
        return {"z": dAz, "r": dAr, "h": dAh}, ds_prev, dp


class LSTM(Cell):
    """torch's LSTM cell (mygru.lstm's), a two-part state (h, c)::

    I = σ(A^i + h Wi),  F = σ(A^f + h Wf),  G = tanh(A^g + h Wg),  O = σ(A^o + h Wo),
    c' = F ⊙ c + I ⊙ G,  h' = O ⊙ tanh(c')
    """

    gates = ("i", "f", "g", "o")
    weights = ("Wi", "Wf", "Wg", "Wo")
    state = ("s", "c")

    def step(self, p, a, s):
        h, c = s
        I = sigmoid(a["i"] + h @ p["Wi"])
        F = sigmoid(a["f"] + h @ p["Wf"])
        G = np.tanh(a["g"] + h @ p["Wg"])
        O = sigmoid(a["o"] + h @ p["Wo"])
        c_new = F * c + I * G
        tc = np.tanh(c_new)
        return (O * tc, c_new), (h, c, I, F, G, O, tc)

    def step_backward(self, p, ds, cache):
        dh, dc = ds
        h, c, I, F, G, O, tc = cache
        # h' = O ⊙ tanh(c'): c' has two uses, h' and the next cell (dc arrives with it)
        dO = dh * tc
        dc = dc + dh * O * (1 - tc**2)
        # c' = F ⊙ c + I ⊙ G
        dc_prev = dc * F
        da = {
            "i": dc * G * I * (1 - I),
            "f": dc * c * F * (1 - F),
            "g": dc * I * (1 - G**2),
            "o": dO * O * (1 - O),
        }
        # every pre-activation A^g + h W{g}
        dh_prev = sum(da[g] @ p["W" + g].T for g in self.gates)
        dp = {"W" + g: h.T @ da[g] for g in self.gates}
        return da, (dh_prev, dc_prev), dp


class LSTMP(LSTM):
    """The LSTM with torch's projection (proj_size): h' = (O ⊙ tanh(c')) Wp, Wp (D, P), so
    h is P wide and every W{g} is (P, D). DropConnect on the four W{g} only (as
    mygru.lstm)."""

    weights = ("Wi", "Wf", "Wg", "Wo", "Wp")
    dropconnect = ("Wi", "Wf", "Wg", "Wo")

    def widths(self, D, p):
        return (p["Wp"].shape[1], D)

    def step(self, p, a, s):
        (v, c_new), (h, c, I, F, G, O, tc) = super().step(p, a, s)
        return (v @ p["Wp"], c_new), (h, c, I, F, G, O, tc, v)

    def step_backward(self, p, ds, cache):
        dh, dc = ds
        *cache, v = cache
        # h' = V Wp
        da, ds_prev, dp = super().step_backward(p, (dh @ p["Wp"].T, dc), tuple(cache))
        dp["Wp"] = v.T @ dh
        return da, ds_prev, dp


class IndRNN(Cell):
    """An independently recurrent cell (Li et al. 2018) with a vector weight::

    S' = relu(A + u ⊙ S),   u (D,)

    The gate is unnamed, so its params are U and b; u is not 2-D, so DropConnect leaves
    it alone."""

    gates = ("",)
    weights = ("u",)

    def step(self, p, a, s):
        pre = a[""] + p["u"] * s
        return np.maximum(pre, 0), (s, pre > 0)

    def step_backward(self, p, ds, cache):
        s, on = cache
        dpre = ds * on  # relu' = 1 where pre > 0
        return {"": dpre}, dpre * p["u"], {"u": (dpre * s).sum(axis=0)}


class Carry3(Cell):
    """Three parts, two of them carried as they are (returned as the very arrays given, and
    the gradient of the last one handed back as the very array received)::

    S' = tanh(A + S W + K),  K' = K,  M' = M

    Its cache holds the driver's own arrays (A and S), as a user's cache often does."""

    gates = ("",)
    weights = ("W",)
    state = ("s", "k", "m")

    def step(self, p, a, s):
        s, k, m = s
        H = np.tanh(a[""] + s @ p["W"] + k)
        return (H, k, m), (a[""], s, H)

    def step_backward(self, p, ds, cache):
        dH, dk, dm = ds
        _, s, H = cache
        dA = dH * (1 - H**2)
        # K reaches S' through A + S W + K and K' as it is; M only reaches M'
        return {"": dA}, (dA @ p["W"].T, dk + dA, dm), {"W": s.T @ dA}


class Linear(Cell):
    """S' = A + S W, its backward handing the incoming gradient back as the gate's (the very
    array received)::

    dA = dS',  dS = dS' Wᵀ,  dW = Sᵀ dS'
    """

    gates = ("",)
    weights = ("W",)

    def step(self, p, a, s):
        return a[""] + s @ p["W"], (s,)

    def step_backward(self, p, ds, cache):
        (s,) = cache
        return {"": ds}, ds @ p["W"].T, {"W": s.T @ ds}


class TwoGates(Cell):
    """S' = A^x + A^y + S W: both gates' gradients are the one array dS'."""

    gates = ("x", "y")
    weights = ("W",)

    def step(self, p, a, s):
        return a["x"] + a["y"] + s @ p["W"], (s,)

    def step_backward(self, p, ds, cache):
        (s,) = cache
        return {"x": ds, "y": ds}, ds @ p["W"].T, {"W": s.T @ ds}


class Copy(Cell):
    """S' = A, returned as the driver's own array; no weights, an empty cache."""

    gates = ("",)
    weights = ()

    def step(self, p, a, s):
        return a[""], ()

    def step_backward(self, p, ds, cache):
        return {"": ds}, np.zeros_like(ds), {}


CELLS = {
    "mgu": MGU,
    "gru": GRU,
    "lstm": LSTM,
    "lstmp": LSTMP,
    "indrnn": IndRNN,
    "carry3": Carry3,
    "linear": Linear,
    "twogates": TwoGates,
    "copy": Copy,
}
