"""The LSTM cell (torch's ``nn.LSTM``), forward and hand-written backward::

    I_t = σ(A^i_t),    A^i_t = X_t Ui + S_{t-1} Wi + bi                (6)
    F_t = σ(A^f_t),    A^f_t = X_t Uf + S_{t-1} Wf + bf                (7)
    G_t = tanh(A^g_t), A^g_t = X_t Ug + S_{t-1} Wg + bg                (8)
    O_t = σ(A^o_t),    A^o_t = X_t Uo + S_{t-1} Wo + bo                (9)
    c_t = F_t ⊙ c_{t-1} + I_t ⊙ G_t                                    (10)
    V_t = O_t ⊙ tanh(c_t),   S_t = V_t (S_t = V_t Wp with the projection)   (11)

The state has two parts, each its own array: ``S`` = (h, c) with h (T+1, N, P) holding
the S_t and c (T+1, N, D) the c_t.

Backward of one cell, given the totals dS and dc at (S_t, c_t). With Go, Gi,
Gf, Gg the gradients dA^o_t, dA^i_t, dA^f_t, dA^g_t of the pre-activations::

    dV = dS   (dV = dS Wpᵀ)                                     from (11)
    dc += dV ⊙ Kc,   Kc = O ⊙ (1 − tanh² c_t)                     from (11)
    Go = dV ⊙ Ko,    Ko = tanh c_t ⊙ O ⊙ (1 − O)                  from (11), (9)
    Gi = dc ⊙ Ki,    Ki = G ⊙ I ⊙ (1 − I)                         from (10), (6)
    Gf = dc ⊙ Kf,    Kf = c_{t-1} ⊙ F ⊙ (1 − F)                   from (10), (7)
    Gg = dc ⊙ Kg,    Kg = I ⊙ (1 − G²)                            from (10), (8)
    dS_{t-1} = [Go | Gi | Gf | Gg] [Wo | Wi | Wf | Wg]ᵀ,   dc_{t-1} = dc ⊙ F

The factors K do not depend on the gradients: ``coefficients`` computes them for a
chunk of cells at once, so a step is five multiplications and one product (two
with the projection). Over the whole sequence, after the loop::

    dW = Σ S_{t-1}ᵀ [Go | Gi | Gf | Gg],   dWp = Σ V_tᵀ dS_t (the cells that ran)
    dU, db, dX from the input pre-activation gradients (``common.py``).
"""

import numpy as np

from .common import Recurrence, sigmoid_negated_loop

__all__ = ["LSTM"]


def _triples(block):
    """View a (..., 3D) block as (..., 3, D), so one call scales three gates at once."""
    return block.reshape(*block.shape[:-1], 3, block.shape[-1] // 3)


class LSTM(Recurrence):
    """LSTM, equations (6)-(11), optionally with torch's projection ``Wp`` (D, P).

    Gate order (o, i, f, g) in every side-by-side array: U (C, 4D), b (4D,),
    W (P, 4D) = [Wo | Wi | Wf | Wg]. The three sigmoid gates come first, so one
    sigmoid covers them; the three gates that dc (after (11)) scales come last, so one
    multiplication makes their gradients. The per-step array A (R, 4D) holds the
    pre-activations, then [O | I | F | G]; ``coefficients`` puts [Ko | Ki | Kf | Kg]
    over it and Kc and F in two chunk arrays, and ``back`` writes the gradients
    [Go | Gi | Gf | Gg] over the factors (G = (A,)). The forward also keeps
    tanh(c_t) (for the factors) and, with the projection, V_t (for dWp).

    Both state parts are contiguous arrays, so every per-step product is an ``np.dot``
    into a contiguous row block.
    """

    gates_in = gates_rec = ("o", "i", "f", "g")
    negated = "oif"
    blocks_in = (("A", 0, 4),)

    def __init__(self, X, U, b, W, s0, mask_U=None, mask_W=None, lengths=None, *, Wp=None):
        super().__init__(X, U, b, W, s0, mask_U, mask_W, lengths)
        D, A = self.D, self.A
        self.O, self.I, self.F, self.Gc = (A[..., j * D : (j + 1) * D] for j in range(4))
        self.Tc = self.per_step(D)  # tanh(c_t)
        self.Wp = None if Wp is None else np.ascontiguousarray(Wp)
        self.V = None if Wp is None else self.per_step(D)  # V_t = O ⊙ tanh(c_t)
        self.G, self.G_in = (A,), ((A, 0),)
        # the forward's operand [−Wo | −Wi | −Wf | Wg] (see sigmoid_negated_loop)
        (self.Wf,) = self.operands((self.W, self._scales(self.gates_rec)))

    def forward_cell(self, rows):
        D, Wf, Wp = self.D, self.Wf, self.Wp
        a, ig = self.step_scratch(rows, 4 * D, D)

        def step(hp, cp, h, c, A, OIF, O, I, F, G, Tc, V):
            np.dot(hp, Wf, out=a)  # (6)-(9): one product for the four gates
            np.add(A, a, A)
            sigmoid_negated_loop(OIF, OIF)  # (9), (6), (7): accurate in both tails (where σ is normal)
            np.tanh(G, G)  # (8)
            np.multiply(F, cp, c)  # (10)
            np.multiply(I, G, ig)
            np.add(c, ig, c)
            np.tanh(c, Tc)  # (11)
            if V is None:
                np.multiply(O, Tc, h)
            else:
                np.multiply(O, Tc, V)
                np.dot(V, Wp, out=h)

        A, V = self.A, self.V
        return step, (
            A,
            A[..., : 3 * D],
            self.O,
            self.I,
            self.F,
            self.Gc,
            self.Tc,
            [None] * self.T if V is None else V,
        )

    def prepare_backward(self):
        self.drop("Wf")
        # the backward multiplies by C-contiguous Wᵀ (and Wpᵀ), see backward_operands
        self.WT, *WpT = self.backward_operands((self.W, 1), *([] if self.Wp is None else [(self.Wp, 1)]))
        self.WpT = WpT[0] if WpT else None

    def coefficients(self, cells):
        O, I, F, G, Tc = (self.span(a, cells) for a in (self.O, self.I, self.F, self.Gc, self.Tc))
        cp = self.span(self.Sp[1], cells)  # c_{t-1} of the cells
        Kc, Fk, t = self.chunk_scratch(cells, 1, 1, 1)  # apart, so that back reads them contiguous
        np.copyto(Fk, F)  # for dc_{t-1} = dc ⊙ F
        np.multiply(Tc, Tc, out=Kc)
        np.subtract(1, Kc, out=Kc)
        Kc *= O  # Kc = O ⊙ (1 − tanh² c_t)
        np.subtract(1, I, out=t)
        t *= I
        t *= G  # Ki = G ⊙ I ⊙ (1 − I), kept apart until Kg has read I
        G *= G
        np.subtract(1, G, out=G)
        G *= I  # Kg = I ⊙ (1 − G²), over G
        np.copyto(I, t)  # Ki, over I
        np.subtract(1, O, out=t)
        O *= t
        O *= Tc  # Ko = tanh c_t ⊙ O ⊙ (1 − O), over O
        np.subtract(1, F, out=t)
        F *= t
        F *= cp  # Kf = c_{t-1} ⊙ F ⊙ (1 − F), over F

    def backward_cell(self, cells, out, rows):
        D, c = self.D, cells
        Kc, F = (self.span(a, c, base=self._c0) for a in self._chunk[:2])  # the cells' Kc, F
        dct, dV = self.scratch(rows, 2)
        dct3 = dct[:, None, :]
        WT, WpT = self.WT, self.WpT

        def back(dh, dc, dhp, dcp, Ko, K3, Kc, F, Go, G3, Gall):
            # dh, dc: dL/dS_t, dL/dc_t; dhp, dcp receive dL/dS_{t-1}, dL/dc_{t-1}
            if WpT is not None:
                np.dot(dh, WpT, out=dV)  # dV = dS Wpᵀ
                dh = dV
            np.multiply(dh, Kc, dct)
            np.add(dct, dc, dct)  # dc += dV ⊙ Kc, into dct
            np.multiply(dh, Ko, Go)  # Go
            np.multiply(dct3, K3, G3)  # Gi, Gf, Gg
            if dhp is not None:
                np.dot(Gall, WT, out=dhp)  # dS_{t-1}
                np.multiply(dct, F, dcp)  # dc_{t-1}

        K, Gall = (
            self.span(self.G[0], c),
            self.span(out[0], c),
        )  # back gets rows of these, under the same names
        return back, (
            K[..., :D],
            _triples(K[..., D:]),
            Kc,
            F,
            Gall[..., :D],
            _triples(Gall[..., D:]),
            Gall,
        )

    def weight_grads(self, need):
        self.drop("Tc")  # only the factors read it
        return {"W": self.outer(self.Sp[0], self.A)} if "W" in need else {}

    def state_weight_grads(self, dS, need):
        if "Wp" not in need:
            return {}
        # dWp = Σ V_tᵀ dS_t over the cells that ran (cell t sees the totals dS[t])
        return {"Wp": self.outer(self.V, self.through_cell(dS, 0))}
