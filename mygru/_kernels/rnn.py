"""The Elman cell, forward and hand-written backward::

    S_t = f(X_t U + S_{t-1} W + b),   f = tanh or relu                 (5)

Backward of one cell, given dS = dL/dS_t, with G the gradient of the pre-activation
(the docs' dA_t)::

    G = dS ⊙ f',  f' = 1 − S_t² (tanh) or [S_t > 0] (relu)   (f' for all t before the loop)
    dS_{t-1} = G Wᵀ

and after the loop dW = Σ S_{t-1}ᵀ G; dU, db, dX as in ``common.py``.
Nothing but S itself is cached: f' is read off the output (under zoneout's expectation,
which blends the output with S_{t-1}, off the cell's own output, kept in the spent input
projections).
"""

from typing import ClassVar

import numpy as np

from .common import Recurrence

__all__ = ["Elman"]


def _relu(x, out):
    return np.maximum(x, 0, out=out)


class Elman(Recurrence):
    """Elman recurrence (5). Layouts: U (C, D), b (D,), W (D, D); P (R, D) holds
    the input pre-activations during the forward only; G = (G,) with G (R, D)
    first holds f', which the backward turns into dL/d(pre-activation) in place."""

    activations: ClassVar[dict] = {"tanh": np.tanh, "relu": _relu}

    def __init__(self, X, U, b, W, s0, mask_U=None, mask_W=None, lengths=None, *, nonlinearity):
        super().__init__(X, U, b, W, s0, mask_U, mask_W, lengths)
        self.f = self.activations[nonlinearity]
        self.nonlinearity = nonlinearity
        # the forward's operand: W itself, or a transposed copy (see operands)
        self.Wf = self.operands((self.W, 1))[0] if self.transposed else self.W

    def forward(self):
        S = super().forward()
        if not self._keeps_output():
            self.drop("P")  # the backward reads f' off S alone
        return S

    def _keeps_output(self):
        """Under zoneout's expectation, S_t = z S_{t-1} + (1 − z) S'_t, f' is not that of
        S_t: the cells keep their own outputs S'_t. (With masks of 0 and 1 S_t is S'_t
        wherever the cell gets a gradient, (1 − M_t) ⊙ dS_t.)"""
        return self.zone is not None and any(m.ndim == 0 for m in self.zone)

    def forward_cell(self, rows):
        Wf, f = self.Wf, self.f

        def step(Sp, S, P):
            np.dot(Sp, Wf, S)
            np.add(S, P, S)
            f(S, S)

        def step_kept(Sp, S, P):  # zoneout blends S next: P, spent, keeps the cell's own S_t
            step(Sp, S, P)
            np.copyto(P, S)

        return step_kept if self._keeps_output() else step, (self.P,)

    def prepare_backward(self):
        self.drop("Wf")
        (self.WT,) = self.backward_operands((self.W, 1))  # C-contiguous Wᵀ
        F = self.per_step(self.D)  # f', then G
        self.G, self.G_in = (F,), ((F, 0),)
        # the cells' outputs S_t, in the packed layout (see _keeps_output)
        self.St = self.P if self._keeps_output() else self.pack(self.S[0][1:])

    def coefficients(self, cells):
        """f' at the cells, read off the output: 1 − S_t² (tanh) or [S_t > 0] (relu)."""
        St, F = self.span(self.St, cells), self.span(self.G[0], cells)
        if self.nonlinearity == "tanh":
            np.multiply(St, St, out=F)
            np.subtract(1, F, out=F)
        else:
            np.greater(St, 0, out=F)

    def backward_cell(self, cells, out, rows):
        WT = self.WT

        def back(dS, prev, F, G):
            np.multiply(F, dS, G)  # G = dS ⊙ f'
            if prev is not None:
                np.dot(G, WT, prev)

        return back, (self.span(self.G[0], cells), self.span(out[0], cells))

    def weight_grads(self, need):
        return {"W": self.outer(self.Sp[0], self.G[0])} if "W" in need else {}
