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

    Gh = dS ⊙ (1 − Z) ⊙ (1 − H²)                      from (4) then (3)
    Gz = dS ⊙ (S_{t-1} − H) ⊙ Z ⊙ (1 − Z)             from (4) then (1)
    (3):  dRS = Gh Whᵀ,   Gr = dRS ⊙ S_{t-1} ⊙ R ⊙ (1 − R)
          dS_{t-1} = dS ⊙ Z + dRS ⊙ R + Gz Wzᵀ + Gr Wrᵀ
    (3'): Gq = Gh ⊙ R  (gradient of Q = S_{t-1} Wh + bhn),  Gr = Gh ⊙ Q ⊙ R ⊙ (1 − R)
          dS_{t-1} = dS ⊙ Z + Gz Wzᵀ + Gr Wrᵀ + Gq Whᵀ

and over the whole sequence, after the loop (S_{t-1} stacked as S[:-1])::

    (3):  dWz = Σ S_{t-1}ᵀ Gz,  dWr = Σ S_{t-1}ᵀ Gr,  dWh = Σ (R ⊙ S_{t-1})ᵀ Gh
    (3'): dWh = Σ S_{t-1}ᵀ Gq,  dbhn = Σ Gq
    dU, db, dX from (Gz, Gr, Gh) as for any input projection (``common.py``).
"""

import numpy as np

from .common import Recurrence, mm, sigmoid

__all__ = ["GRU", "GRUResetAfter"]


def _update(Sp, Z, H, tmp, out):
    """(4): S_t = H + Z ⊙ (S_{t-1} − H)."""
    np.subtract(Sp, H, out=tmp)
    tmp *= Z
    np.add(H, tmp, out=out)


def _update_back(dS, Sp, Z, H, Gz, Gh, a, c):
    """Gh = dS ⊙ (1 − Z) ⊙ (1 − H²) and Gz = dS ⊙ (S_{t-1} − H) ⊙ Z ⊙ (1 − Z)."""
    np.multiply(H, H, out=a)
    np.subtract(1, a, out=a)  # 1 − H²
    np.subtract(1, Z, out=c)  # 1 − Z
    c *= dS
    np.multiply(a, c, out=Gh)
    np.subtract(Sp, H, out=a)
    a *= dS
    np.subtract(1, Z, out=c)
    c *= Z  # Z ⊙ (1 − Z)
    np.multiply(a, c, out=Gz)


class GRU(Recurrence):
    """GRU with the reset gate applied before the product, equations (1)-(4).

    Layouts: U (C, 3D) = [Uz | Ur | Uh], b = [bz | br | bh], W (D, 3D) = [Wz | Wr | Wh].
    Cache for backward: P becomes [Z | R | H] in place, plus RS = R ⊙ S_{t-1}.
    G (T, N, 3D) = [Gz | Gr | Gh].
    """

    gates_in = gates_rec = ("z", "r", "h")

    def __init__(self, X, U, b, W, s0, mask_U=None, mask_W=None, lengths=None):
        super().__init__(X, U, b, W, s0, mask_U, mask_W, lengths)
        T, N, D = self.T, self.N, self.D
        self.Z, self.R, self.H = (self.P[..., j * D : (j + 1) * D] for j in range(3))
        self.RS = np.empty((T, N, D), self.dtype)
        self.G = self.G_in = np.empty((T, N, 3 * D), self.dtype)
        self._zr = np.empty((N, 2 * D), self.dtype)
        self._d = np.empty((N, D), self.dtype)

    def step(self, i):
        S, P, D, d = self.S, self.P, self.D, self._d
        Sp, ZR, Z, R, H = S[i], P[i, :, : 2 * D], self.Z[i], self.R[i], self.H[i]
        # (1), (2) fused: one product with [Wz | Wr]
        np.matmul(Sp, self.W[:, : 2 * D], out=self._zr)
        ZR += self._zr
        sigmoid(ZR, out=ZR)
        # (3)
        np.multiply(R, Sp, out=self.RS[i])
        np.matmul(self.RS[i], self.W[:, 2 * D :], out=d)
        H += d
        np.tanh(H, out=H)
        _update(Sp, Z, H, d, S[i + 1])

    def back(self, i0, i1, dS, prev):
        D = self.D
        G = self.G[i0:i1]
        Gz, Gr, Gh = G[..., :D], G[..., D : 2 * D], G[..., 2 * D :]
        Sp, Z, R, H = self.S[i0:i1], self.Z[i0:i1], self.R[i0:i1], self.H[i0:i1]
        a, c, dRS = self.scratch(i1 - i0, 3)
        _update_back(dS, Sp, Z, H, Gz, Gh, a, c)
        mm(Gh, self.W[:, 2 * D :].T, out=dRS)
        np.subtract(1, R, out=a)
        a *= R
        a *= Sp
        np.multiply(a, dRS, out=Gr)
        if prev is not None:
            mm(G[..., : 2 * D], self.W[:, : 2 * D].T, out=prev)
            np.multiply(dS, Z, out=a)
            prev += a
            np.multiply(dRS, R, out=a)
            prev += a
        return prev

    def weight_grads(self, need):
        if "W" not in need:
            return {}
        D = self.D
        dW = np.empty((D, 3 * D), self.dtype)
        dW[:, : 2 * D] = self.outer(self.S[:-1], self.G[..., : 2 * D])
        dW[:, 2 * D :] = self.outer(self.RS, self.G[..., 2 * D :])
        return {"W": dW}


class GRUResetAfter(Recurrence):
    """GRU with the reset gate applied after the product, equations (1), (2), (3'), (4).

    Layouts: U (C, 3D) = [Uz | Ur | Uh], b = [bz | br | bh], but W (D, 3D) =
    [Wh | Wz | Wr] so that one product S_{t-1} W per step serves all three gates
    and the gradients it takes back, [Gq | Gz | Gr], sit next to [Gz | Gr | Gh]:
    G (T, N, 4D) = [Gq | Gz | Gr | Gh], G_in = G[..., D:], G_rec = G[..., :3D].
    Cache: P becomes [Z | R | H], plus Q = S_{t-1} Wh + bhn.
    """

    gates_in = ("z", "r", "h")
    gates_rec = ("h", "z", "r")

    def __init__(self, X, U, b, W, s0, mask_U=None, mask_W=None, lengths=None, *, bhn):
        super().__init__(X, U, b, W, s0, mask_U, mask_W, lengths)
        T, N, D = self.T, self.N, self.D
        self.bhn = bhn
        self.Z, self.R, self.H = (self.P[..., j * D : (j + 1) * D] for j in range(3))
        self.Q = np.empty((T, N, D), self.dtype)
        self.G = np.empty((T, N, 4 * D), self.dtype)
        self.G_in, self.G_rec = self.G[..., D:], self.G[..., : 3 * D]
        self._a = np.empty((N, 3 * D), self.dtype)
        self._d = np.empty((N, D), self.dtype)

    def step(self, i):
        S, P, D, a, d = self.S, self.P, self.D, self._a, self._d
        Sp, ZR, Z, R, H = S[i], P[i, :, : 2 * D], self.Z[i], self.R[i], self.H[i]
        np.matmul(Sp, self.W, out=a)  # [S Wh | S Wz | S Wr], one product
        ZR += a[:, D:]
        sigmoid(ZR, out=ZR)  # (1), (2)
        np.add(a[:, :D], self.bhn, out=self.Q[i])
        np.multiply(R, self.Q[i], out=d)
        H += d
        np.tanh(H, out=H)  # (3')
        _update(Sp, Z, H, d, S[i + 1])

    def back(self, i0, i1, dS, prev):
        D = self.D
        G = self.G[i0:i1]
        Gq, Gz, Gr, Gh = (G[..., j * D : (j + 1) * D] for j in range(4))
        Sp, Z, R, H, Q = (A[i0:i1] for A in (self.S, self.Z, self.R, self.H, self.Q))
        a, c = self.scratch(i1 - i0, 2)
        _update_back(dS, Sp, Z, H, Gz, Gh, a, c)
        np.multiply(Gh, R, out=Gq)
        np.subtract(1, R, out=a)
        a *= R
        a *= Q
        np.multiply(a, Gh, out=Gr)
        if prev is not None:
            mm(G[..., : 3 * D], self.W.T, out=prev)
            np.multiply(dS, Z, out=a)
            prev += a
        return prev

    def weight_grads(self, need):
        out = {}
        if "W" in need:
            out["W"] = self.outer(self.S[:-1], self.G_rec)
        if "bhn" in need:
            out["bhn"] = self.G[..., : self.D].sum(axis=(0, 1))
        return out
