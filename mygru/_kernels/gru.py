"""The GRU cell, forward and hand-written backward, in both formulations.

Reset before the product (mygrad's and the original GRU; ``GRU``)::

    Z_t = σ(X_t Uz + S_{t-1} Wz + bz)                                (1)
    R_t = σ(X_t Ur + S_{t-1} Wr + br)                                (2)
    H_t = tanh(X_t Uh + (R_t ⊙ S_{t-1}) Wh + bh)                     (3)
    S_t = (1 − Z_t) ⊙ H_t + Z_t ⊙ S_{t-1} = H_t + Z_t ⊙ (S_{t-1} − H_t)   (4)

Reset after the product (PyTorch, cuDNN, Keras' default; ``GRUResetAfter``)::

    H_t = tanh(X_t Uh + bh + R_t ⊙ (S_{t-1} Wh + bhn))               (3')

Backward of one cell, given dS = dL/dS_t (the docs derive each line). With
Gz, Gr, Gh the gradients of the pre-activations of (1), (2), (3)::

    Gh = dS ⊙ A,   A = (1 − Z) ⊙ (1 − H²)                  from (4) then (3)
    Gz = dS ⊙ B,   B = (S_{t-1} − H) ⊙ Z ⊙ (1 − Z)          from (4) then (1)
    (3):  dRS = Gh Whᵀ,   Gr = dRS ⊙ C,   C = S_{t-1} ⊙ R ⊙ (1 − R)
          dS_{t-1} = dS ⊙ Z + dRS ⊙ R + [Gz | Gr] [Wz | Wr]ᵀ
    (3'): Gq = Gh ⊙ R  (gradient of Q = S_{t-1} Wh + bhn),
          Gr = Gh ⊙ C',  C' = Q ⊙ R ⊙ (1 − R)
          dS_{t-1} = dS ⊙ Z + [Gz | Gr | Gq] [Wz | Wr | Wh]ᵀ

A, B, C (C') do not depend on dS: ``coefficients`` computes them for the whole
sequence before the loop, so each step is a few multiplications and two products.
Over the whole sequence, after the loop (S_{t-1} stacked as S[:-1])::

    (3):  d[Wz | Wr] = Σ S_{t-1}ᵀ [Gz | Gr],   dWh = Σ (R ⊙ S_{t-1})ᵀ Gh
    (3'): d[Wz | Wr | Wh] = Σ S_{t-1}ᵀ [Gz | Gr | Gq],   dbhn = Σ Gq
    dU, db, dX from the input pre-activation gradients (``common.py``).
"""

import numpy as np

from .common import Recurrence, mm, sigmoid

__all__ = ["GRU", "GRUResetAfter"]


def _update(Sp, Z, H, tmp, out):
    """(4): S_t = H + Z ⊙ (S_{t-1} − H)."""
    np.subtract(Sp, H, out=tmp)
    tmp *= Z
    np.add(H, tmp, out=out)


def _update_coefficients(Sp, Z, H, A, B, tmp):
    """A = (1 − Z) ⊙ (1 − H²) and B = (S_{t-1} − H) ⊙ Z ⊙ (1 − Z): dS ⊙ A and dS ⊙ B
    are the gradients of the pre-activations of (3) and (1) through (4)."""
    np.subtract(1, Z, out=tmp)
    np.multiply(H, H, out=A)
    np.subtract(1, A, out=A)
    A *= tmp
    tmp *= Z
    np.subtract(Sp, H, out=B)
    B *= tmp


def _pairs(block):
    """View a (..., 2D) block as (..., 2, D), so one call scales two gates at once."""
    return block.reshape(*block.shape[:-1], 2, block.shape[-1] // 2)


class GRU(Recurrence):
    """GRU with the reset gate applied before the product, equations (1)-(4).

    Gate order (h, z, r) in every side-by-side array, so that the blocks that go
    together sit together: U (C, 3D) = [Uh | Uz | Ur], b = [bh | bz | br],
    W (D, 3D) = [Wh | Wz | Wr]. The forward turns P into [H | Z | R] in place.
    G (T, N, 3D) first holds the coefficients [A | B | C], which the backward
    turns into [Gh | Gz | Gr] in place; H's slot then holds R ⊙ S_{t-1} for dWh.
    """

    gates_in = gates_rec = ("h", "z", "r")

    def __init__(self, X, U, b, W, s0, mask_U=None, mask_W=None, lengths=None):
        super().__init__(X, U, b, W, s0, mask_U, mask_W, lengths)
        T, N, D = self.T, self.N, self.D
        self.H, self.Z, self.R = (self.P[..., j * D : (j + 1) * D] for j in range(3))
        self.G = self.G_in = np.empty((T, N, 3 * D), self.dtype)
        self._zr = np.empty((N, 2 * D), self.dtype)
        self._rs = np.empty((N, D), self.dtype)
        self._d = np.empty((N, D), self.dtype)

    def step(self, i):
        S, P, D, d, rs = self.S, self.P, self.D, self._d, self._rs
        Sp, ZR, H, Z, R = S[i], P[i, :, D:], self.H[i], self.Z[i], self.R[i]
        # (1), (2) fused: one product with [Wz | Wr]
        np.matmul(Sp, self.W[:, D:], out=self._zr)
        ZR += self._zr
        sigmoid(ZR, out=ZR)
        # (3)
        np.multiply(R, Sp, out=rs)
        np.matmul(rs, self.W[:, :D], out=d)
        H += d
        np.tanh(H, out=H)
        _update(Sp, Z, H, d, S[i + 1])

    def coefficients(self):
        D, G, Sp = self.D, self.G, self.S[:-1]
        A, B, C = G[..., :D], G[..., D : 2 * D], G[..., 2 * D :]
        _update_coefficients(Sp, self.Z, self.H, A, B, tmp=C)
        RS = np.multiply(self.R, Sp, out=self.H)  # H is no longer needed; dWh needs R ⊙ S_{t-1}
        np.subtract(1, self.R, out=C)
        C *= RS  # C = S_{t-1} ⊙ R ⊙ (1 − R)

    def back(self, i0, i1, dS, prev, out):
        D, K = self.D, self.G[i0:i1]
        dRS, a = self.scratch(i1 - i0, 2)
        np.multiply(_pairs(K[..., : 2 * D]), dS[..., None, :], out=_pairs(out[..., : 2 * D]))  # Gh, Gz
        mm(out[..., :D], self.W[:, :D].T, out=dRS)
        np.multiply(dRS, K[..., 2 * D :], out=out[..., 2 * D :])  # Gr
        if prev is not None:
            mm(out[..., D:], self.W[:, D:].T, out=prev)
            np.multiply(dS, self.Z[i0:i1], out=a)
            prev += a
            np.multiply(dRS, self.R[i0:i1], out=a)
            prev += a
        return prev

    def weight_grads(self, need):
        if "W" not in need:
            return {}
        D = self.D
        dW = np.empty((D, 3 * D), self.dtype)
        dW[:, :D] = self.outer(self.H, self.G[..., :D])  # H's slot holds R ⊙ S_{t-1} now
        dW[:, D:] = self.outer(self.S[:-1], self.G[..., D:])
        return {"W": dW}


class GRUResetAfter(Recurrence):
    """GRU with the reset gate applied after the product, equations (1), (2), (3'), (4).

    Gate order (h, z, r) for U, b and P (which becomes [H | Z | R]), and (z, r, h)
    for W (D, 3D) = [Wz | Wr | Wh], so that the one product S_{t-1} W per step
    serves all three gates and the gradients it takes back, [Gz | Gr | Gq], sit
    next to [Gh | Gz | Gr]: G (T, N, 4D) = [Gh | Gz | Gr | Gq], G_in = G[..., :3D],
    G_rec = G[..., D:]. G first holds the coefficients [A | B | C' | R].
    Cache: P, plus Q = S_{t-1} Wh + bhn.
    """

    gates_in = ("h", "z", "r")
    gates_rec = ("z", "r", "h")

    def __init__(self, X, U, b, W, s0, mask_U=None, mask_W=None, lengths=None, *, bhn):
        super().__init__(X, U, b, W, s0, mask_U, mask_W, lengths)
        T, N, D = self.T, self.N, self.D
        self.bhn = bhn
        self.H, self.Z, self.R = (self.P[..., j * D : (j + 1) * D] for j in range(3))
        self.Q = np.empty((T, N, D), self.dtype)
        self.G = np.empty((T, N, 4 * D), self.dtype)
        self.G_in, self.G_rec = self.G[..., : 3 * D], self.G[..., D:]
        self._a = np.empty((N, 3 * D), self.dtype)
        self._d = np.empty((N, D), self.dtype)

    def step(self, i):
        S, P, D, a, d = self.S, self.P, self.D, self._a, self._d
        Sp, ZR, H, Z, R = S[i], P[i, :, D:], self.H[i], self.Z[i], self.R[i]
        np.matmul(Sp, self.W, out=a)  # [S Wz | S Wr | S Wh], one product
        ZR += a[:, : 2 * D]
        sigmoid(ZR, out=ZR)  # (1), (2)
        np.add(a[:, 2 * D :], self.bhn, out=self.Q[i])
        np.multiply(R, self.Q[i], out=d)
        H += d
        np.tanh(H, out=H)  # (3')
        _update(Sp, Z, H, d, S[i + 1])

    def coefficients(self):
        D, G = self.D, self.G
        A, B, C, R = (G[..., j * D : (j + 1) * D] for j in range(4))
        _update_coefficients(self.S[:-1], self.Z, self.H, A, B, tmp=C)
        np.subtract(1, self.R, out=C)
        C *= self.R
        C *= self.Q
        R[...] = self.R  # becomes Gq = Gh ⊙ R

    def back(self, i0, i1, dS, prev, out):
        D, K = self.D, self.G[i0:i1]
        np.multiply(_pairs(K[..., : 2 * D]), dS[..., None, :], out=_pairs(out[..., : 2 * D]))  # Gh, Gz
        np.multiply(_pairs(K[..., 2 * D :]), out[..., None, :D], out=_pairs(out[..., 2 * D :]))  # Gr, Gq
        if prev is not None:
            a = self.scratch(i1 - i0, 1)[0]
            mm(out[..., D:], self.W.T, out=prev)
            np.multiply(dS, self.Z[i0:i1], out=a)
            prev += a
        return prev

    def weight_grads(self, need):
        out = {}
        if "W" in need:
            out["W"] = self.outer(self.S[:-1], self.G_rec)
        if "bhn" in need:
            out["bhn"] = self.G[..., 3 * self.D :].sum(axis=(0, 1))
        return out
