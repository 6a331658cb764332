"""The GRU cell, forward and hand-written backward, in both formulations.

Reset before the product (mygrad's and the original GRU; ``GRU``)::

    Z_t = σ(X_t Uz + S_{t-1} Wz + bz)                                (1)
    R_t = σ(X_t Ur + S_{t-1} Wr + br)                                (2)
    H_t = tanh(X_t Uh + (R_t ⊙ S_{t-1}) Wh + bh)                     (3)
    S_t = (1 − Z_t) ⊙ H_t + Z_t ⊙ S_{t-1} = H_t + Z_t ⊙ (S_{t-1} − H_t)   (4)

Reset after the product (PyTorch, cuDNN, Keras' default; ``GRUResetAfter``)::

    H_t = tanh(X_t Uh + bh + R_t ⊙ (S_{t-1} Wh + bhn))               (3')

Backward of one cell, given dS = dL/dS_t (the docs derive each line). With
Gz, Gr, Gh the gradients of the pre-activations of (1), (2), (3) (the docs' dA^z,
dA^r, dA^h) and A, B, C the factors that do not depend on dS (the docs' K^h, K^z,
K^r; C here is not the input width)::

    Gh = dS ⊙ A,   A = (1 − Z) ⊙ (1 − H²)                  from (4) then (3)
    Gz = dS ⊙ B,   B = (S_{t-1} − H) ⊙ Z ⊙ (1 − Z)          from (4) then (1)
    (3):  dRS = Gh Whᵀ,   Gr = dRS ⊙ C,   C = S_{t-1} ⊙ R ⊙ (1 − R)
          dS_{t-1} = dS ⊙ Z + dRS ⊙ R + [Gz | Gr] [Wz | Wr]ᵀ
    (3'): Gq = Gh ⊙ R  (gradient of Q = S_{t-1} Wh + bhn),
          Gr = Gh ⊙ C',  C' = Q ⊙ R ⊙ (1 − R)
          dS_{t-1} = dS ⊙ Z + [Gz | Gr | Gq] [Wz | Wr | Wh]ᵀ

A, B, C (C') do not depend on dS: ``coefficients`` computes them for a chunk
of cells at once before the loop reaches them, so each step is a few
multiplications and two products. Over the whole sequence, after the loop
(S_{t-1} stacked as S[:-1])::

    (3):  d[Wz | Wr] = Σ S_{t-1}ᵀ [Gz | Gr],   dWh = Σ (R ⊙ S_{t-1})ᵀ Gh  (chunk by chunk)
    (3'): d[Wz | Wr | Wh] = Σ S_{t-1}ᵀ [Gz | Gr | Gq],   dbhn = Σ Gq
    dU, db, dX from the input pre-activation gradients (``common.py``).
"""

import numpy as np

from .common import Recurrence, sigmoid_negated_loop

__all__ = ["GRU", "GRUResetAfter"]


def _update(Sp, Z, H, tmp, out):
    """(4): S_t = H + Z ⊙ (S_{t-1} − H)."""
    np.subtract(Sp, H, tmp)
    np.multiply(tmp, Z, tmp)
    np.add(H, tmp, out)


def _update_coefficients(Sp, Z, H, B, tmp):
    """B = (S_{t-1} − H) ⊙ Z ⊙ (1 − Z) from B = Z ⊙ (1 − Z), then A = (1 − Z) ⊙ (1 − H²)
    over H: dS ⊙ A and dS ⊙ B are the gradients of the pre-activations of (3) and (1)
    through (4)."""
    np.subtract(Sp, H, out=tmp)
    B *= tmp
    np.multiply(H, H, out=H)
    np.subtract(1, H, out=H)
    np.subtract(1, Z, out=tmp)
    H *= tmp  # H's array now holds A


def _pairs(block):
    """View a (..., 2D) block as (..., 2, D), so one call scales two gates at once."""
    return block.reshape(*block.shape[:-1], 2, block.shape[-1] // 2)


class GRU(Recurrence):
    """GRU with the reset gate applied before the product, equations (1)-(4).

    Gate order (h, z, r) in every side-by-side array: U (C, 3D) = [Uh | Uz | Ur],
    b = [bh | bz | br], W (D, 3D) = [Wh | Wz | Wr]. The per-step arrays keep the
    candidate apart from the two gates, so that each block a step works on is
    contiguous: H (R, D) and ZR (R, 2D) = [Z | R] (packed, see ``common.py``), which the forward fills
    with the activations. The backward keeps its gradients in the same arrays,
    G = (H, ZR): ``coefficients`` puts A over H, and B, C and contiguous copies
    of Z and R in small chunk arrays (one (J·N, D) array each, so that every
    operand of a step's multiplications but Gz and Gr is contiguous), and
    ``back`` turns them into Gh over A and [Gz | Gr] over [Z | R]. Since R is
    gone after the loop, dWh is summed chunk by chunk in ``finish``, from
    R ⊙ S_{t-1} made from the chunk's copy of R.
    """

    gates_in = gates_rec = ("h", "z", "r")
    negated = "zr"
    blocks_in = (("H", 0, 1), ("ZR", 1, 3))

    def __init__(self, X, U, b, W, s0, mask_U=None, mask_W=None, lengths=None):
        super().__init__(X, U, b, W, s0, mask_U, mask_W, lengths)
        D = self.D
        self.Z, self.R = self.ZR[..., :D], self.ZR[..., D:]
        self.G = (self.H, self.ZR)
        self.G_in = ((self.H, 0), (self.ZR, 1))
        # the forward's operands Wh and −[Wz | Wr] (see sigmoid_negated_loop);
        # prepare_backward makes the backward's Whᵀ and [Wz | Wr]ᵀ
        self.Wh, self.Wzr_neg = self.operands((self.W[:, :D], 1), (self.W[:, D:], -1))
        self.W = self.Wzr = None  # the blocks above are all the cells use

    def forward_cell(self, rows):
        D, Wh, Wzr_neg = self.D, self.Wh, self.Wzr_neg
        zr, rs, d = self.step_scratch(rows, 2 * D, D, D)

        def step(Sp, S, ZR, Z, R, H):
            # (1), (2) fused: one product with the negated [Wz | Wr], one sigmoid
            np.dot(Sp, Wzr_neg, zr)
            np.add(ZR, zr, ZR)
            sigmoid_negated_loop(ZR, ZR)
            # (3)
            np.multiply(R, Sp, rs)
            np.dot(rs, Wh, d)
            np.add(H, d, H)
            np.tanh(H, H)
            _update(Sp, Z, H, d, S)  # (4)

        return step, (self.ZR, self.Z, self.R, self.H)

    def prepare_backward(self):
        # The backward multiplies by Whᵀ and [Wz | Wr]ᵀ, with [Wz | Wr] = −(−[Wz | Wr])
        # exactly: it differentiates the very weights the forward used. In float32 by
        # C-contiguous copies of them (see backward_operands), else by the .T views of
        # C-contiguous Wh and [Wz | Wr].
        if self.backward_copies:
            self.WhT, self.WzrT = self.backward_operands((self.Wh, 1), (self.Wzr_neg, -1))
            self.drop("Wh", "Wzr_neg")
        elif self.transposed:  # the forward's copies are transposed: C-contiguous ones
            Wh, Wzr = self.operands((self.Wh, 1), (self.Wzr_neg, -1), transposed=False)
            self.drop("Wh", "Wzr_neg")
            self.WhT, self.WzrT = Wh.T, Wzr.T
        else:  # the forward's own, [Wz | Wr] negated back in place
            self.WhT, self.WzrT = self.Wh.T, np.negative(self.Wzr_neg, out=self.Wzr_neg).T
            self.Wh = self.Wzr_neg = None  # their buffers live on in WhT and WzrT
        self._dWh = None  # summed by finish

    def coefficients(self, cells):
        Sp, H = self.span(self.Sp[0], cells), self.span(self.H, cells)
        # B, C, and contiguous copies of Z and R (in ZR they are halves of each row,
        # which numpy multiplies about twice as slowly at the small sizes, measured)
        B, C, Z, R = self.chunk_scratch(cells, 1, 1, 1, 1)
        np.copyto(Z, self.span(self.Z, cells))
        np.copyto(R, self.span(self.R, cells))
        np.subtract(1, Z, out=B)
        B *= Z  # Z ⊙ (1 − Z)
        _update_coefficients(Sp, Z, H, B, tmp=C)
        np.subtract(1, R, out=C)
        C *= R
        C *= Sp  # C = S_{t-1} ⊙ R ⊙ (1 − R)

    def backward_cell(self, cells, out, rows):
        D, c = self.D, cells
        B, C, Z, R = (self.span(a, c, base=self._c0) for a in self._chunk[:4])  # the cells' own
        dRS, a = self.scratch(rows, 2)
        WhT, WzrT = self.WhT, self.WzrT

        def back(dS, prev, A, Z, R, B, C, Gh, Gz, Gr, Gzr):
            np.multiply(A, dS, Gh)  # Gh = dS ⊙ A
            np.dot(Gh, WhT, dRS)
            if prev is not None:  # the paths through Z and R ⊙ S
                np.multiply(dS, Z, a)
                np.multiply(dRS, R, prev)
                np.add(a, prev, a)
            np.multiply(B, dS, Gz)  # Gz
            np.multiply(dRS, C, Gr)  # Gr
            if prev is not None:
                np.dot(Gzr, WzrT, prev)
                np.add(prev, a, prev)

        Gh, Gzr = self.span(out[0], c), self.span(out[1], c)  # back gets rows of these, under the same names
        return back, (self.span(self.H, c), Z, R, B, C, Gh, Gzr[..., :D], Gzr[..., D:], Gzr)

    def finish(self, cells, need):
        if "W" in need:  # dWh = Σ (R ⊙ S_{t-1})ᵀ Gh, over the cells whose R is about to go
            B, _C, _Z, R = (self.span(a, cells, base=cells.start) for a in self._chunk)
            RS = np.multiply(R, self.span(self.Sp[0], cells), out=B)  # B is spent: R ⊙ S_{t-1} goes over it
            dWh = self.outer(RS, self.span(self.H, cells))
            if self._dWh is None:  # the first chunk
                self._dWh = dWh
            else:
                self._dWh += dWh

    def weight_grads(self, need):
        if "W" not in need:
            return {}
        D = self.D
        dW = np.empty((D, 3 * D), self.dtype)
        dW[:, :D] = 0 if self._dWh is None else self._dWh  # (None: no cells, T = 0)
        self._dWh = None
        self.outer(self.Sp[0], self.ZR, out=dW[:, D:])  # ZR holds [Gz | Gr]
        return {"W": dW}


class GRUResetAfter(Recurrence):
    """GRU with the reset gate applied after the product, equations (1), (2), (3'), (4).

    Gate order (h, z, r) for U and b, and (z, r, h) for W (D, 3D) = [Wz | Wr | Wh],
    so that one product S_{t-1} W per step serves all three gates, and the
    gradients it takes back, Grec = [Gz | Gr | Gq] (R, 3D), are one contiguous
    block per step. The forward fills H (R, D), ZR (R, 2D) = [Z | R] and
    Q = S_{t-1} Wh + bhn, which it writes into Gr's slot of Grec. ``coefficients``
    puts A in H's array and [B | C' | R] in Grec (C' over Q); the backward turns
    them into Gh and [Gz | Gr | Gq]. G = (Gh, Grec).
    """

    gates_in = ("h", "z", "r")
    gates_rec = ("z", "r", "h")
    negated = "zr"
    blocks_in = (("H", 0, 1), ("ZR", 1, 3))

    def __init__(self, X, U, b, W, s0, mask_U=None, mask_W=None, lengths=None, *, bhn):
        super().__init__(X, U, b, W, s0, mask_U, mask_W, lengths)
        D = self.D
        self.bhn = bhn
        self.Z, self.R = self.ZR[..., :D], self.ZR[..., D:]
        self.Grec = self.per_step(3 * D)
        self.Q = self.Grec[..., D : 2 * D]
        # the forward's operand [−Wz | −Wr | Wh] (see sigmoid_negated_loop); the backward uses W
        (self.Wf,) = self.operands((self.W, self._scales(self.gates_rec)))
        self.G = (self.H, self.Grec)
        self.G_in = ((self.H, 0), (self.Grec[..., : 2 * D], 1))

    def forward_cell(self, rows):
        D, Wf, bhn = self.D, self.Wf, self.bhn
        a, d = self.step_scratch(rows, 3 * D, D)
        a_zr, a_h = a[:, : 2 * D], a[:, 2 * D :]

        def step(Sp, S, ZR, Z, R, H, Q):
            np.dot(Sp, Wf, a)  # [−S Wz | −S Wr | S Wh], one product
            np.add(ZR, a_zr, ZR)
            sigmoid_negated_loop(ZR, ZR)  # (1), (2)
            np.add(a_h, bhn, Q)
            np.multiply(R, Q, d)
            np.add(H, d, H)
            np.tanh(H, H)  # (3')
            _update(Sp, Z, H, d, S)  # (4)

        return step, (self.ZR, self.Z, self.R, self.H, self.Q)

    def prepare_backward(self):
        self.drop("Wf")
        (self.WT,) = self.backward_operands((self.W, 1))  # C-contiguous Wᵀ

    def coefficients(self, cells):
        D, Sp, K = self.D, self.span(self.Sp[0], cells), self.span(self.Grec, cells)
        Z, R = self.span(self.Z, cells), self.span(self.R, cells)
        (tmp,) = self.chunk_scratch(cells, 1)
        B, C, Rk = K[..., :D], K[..., D : 2 * D], K[..., 2 * D :]
        np.subtract(1, R, out=tmp)
        C *= tmp
        C *= R  # C' = Q ⊙ R ⊙ (1 − R), over Q
        Rk[...] = R  # becomes Gq = Gh ⊙ R
        np.subtract(1, Z, out=B)
        B *= Z
        _update_coefficients(Sp, Z, self.span(self.H, cells), B, tmp)

    def backward_cell(self, cells, out, rows):
        D, c = self.D, cells
        (a,) = self.scratch(rows, 1)
        WT = self.WT

        def back(dS, prev, A, Z, B, CR, Gh, Gz, Grq, Grec):
            np.multiply(A, dS, Gh)  # Gh
            np.multiply(B, dS, Gz)  # Gz
            np.multiply(_pairs(CR), Gh[:, None, :], _pairs(Grq))  # Gr, Gq
            if prev is not None:
                np.dot(Grec, WT, prev)
                np.multiply(dS, Z, a)
                np.add(prev, a, prev)

        A, K = self.span(self.G[0], c), self.span(self.G[1], c)  # A over H, [B | C' | R] over Grec
        Gh, Grec = self.span(out[0], c), self.span(out[1], c)  # back gets rows of these, under the same names
        return back, (A, self.span(self.Z, c), K[..., :D], K[..., D:], Gh, Grec[..., :D], Grec[..., D:], Grec)

    def weight_grads(self, need):
        out = {}
        if "W" in need:
            out["W"] = self.outer(self.Sp[0], self.Grec)
        if "bhn" in need:
            out["bhn"] = self.column_sums(self.Grec[..., 2 * self.D :])
        return out
