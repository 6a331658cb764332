"""``mygru.lstm``: the long short-term memory as one mygrad operation."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from mygrad import Tensor

from .._kernels import LSTM
from .._typing import ArrayLike, Seed
from ._base import Checked, RecurrentOp, apply

__all__ = ["LSTMDropoutMasks", "LSTMOp", "lstm"]


class LSTMDropoutMasks(NamedTuple):
    """The masks one ``lstm`` call drew: ``s.creator.dropout_masks``.

    ``Ui``, ``Uf``, ``Ug``, ``Uo`` (N, D) multiply X_t Ui, ... at every step;
    ``Wi``, ``Wf``, ``Wg``, ``Wo`` (P, D) multiply the hidden weights (DropConnect,
    AWD-LSTM's weight drop). Values are 0 or 1/(1 − p)."""

    Ui: np.ndarray
    Uf: np.ndarray
    Ug: np.ndarray
    Uo: np.ndarray
    Wi: np.ndarray
    Wf: np.ndarray
    Wg: np.ndarray
    Wo: np.ndarray


class LSTMOp(RecurrentOp):
    """The operation behind :func:`lstm`; ``s.creator`` of its output ``s``.

    The kernel's state has two parts, S and c; this op's output is ``s``, and the cell
    states ``c`` are the output of a second, small operation of ``s`` (a
    ``StatePartOp``), which mygrad therefore runs first in
    ``backward``: it hands dL/dc to this op, whose one backward then takes both
    gradients.

    Attributes
    ----------
    dropout_masks : LSTMDropoutMasks or None
        The masks this call drew (None without dropout); read them before ``backward``.
    bp_lim : None or int
        The truncation this call's backward uses.
    zoneout_masks : None or tuple of ndarray
        Zoneout's masks while training, one (T, N, width) array per state part (1 where a
        unit keeps its previous value); None without zoneout or out of training.
    """

    dropout_masks: LSTMDropoutMasks | None
    names: tuple[str, ...] = (
        "X",
        "Ui",
        "Wi",
        "bi",
        "Uf",
        "Wf",
        "bf",
        "Ug",
        "Wg",
        "bg",
        "Uo",
        "Wo",
        "bo",
        "s0",
        "c0",
    )
    mask_fields = LSTMDropoutMasks._fields
    masks_type = LSTMDropoutMasks

    state_names = ("s0", "c0")


class LSTMProjOp(LSTMOp):
    """:class:`LSTMOp` with the projection: one more variable, ``Wp``."""

    names = LSTMOp.names + ("Wp",)


def lstm(
    X: ArrayLike,
    Ui: ArrayLike,
    Wi: ArrayLike,
    bi: ArrayLike,
    Uf: ArrayLike,
    Wf: ArrayLike,
    bf: ArrayLike,
    Ug: ArrayLike,
    Wg: ArrayLike,
    bg: ArrayLike,
    Uo: ArrayLike,
    Wo: ArrayLike,
    bo: ArrayLike,
    s0: ArrayLike | None = None,
    c0: ArrayLike | None = None,
    bp_lim: int | None = None,
    dropout: float = 0.0,
    constant: bool | None = None,
    *,
    rng: Seed = None,
    lengths: ArrayLike | None = None,
    Wp: ArrayLike | None = None,
    zoneout: float | tuple[float, float] = 0.0,
    training: bool = True,
) -> tuple[Tensor, Tensor]:
    r"""Runs a long short-term memory over a sequence, returning every hidden and cell state.

    The cell of ``torch.nn.LSTM`` (gate order i, f, g, o), in mygrad's naming: U the
    input weights, W the hidden weights, with ``b`` = b_ih + b_hh.

    .. math::

        I_t &= \sigma(X_t U_i + S_{t-1} W_i + b_i) \\
        F_t &= \sigma(X_t U_f + S_{t-1} W_f + b_f) \\
        G_t &= \tanh(X_t U_g + S_{t-1} W_g + b_g) \\
        O_t &= \sigma(X_t U_o + S_{t-1} W_o + b_o) \\
        c_t &= F_t \odot c_{t-1} + I_t \odot G_t \\
        S_t &= O_t \odot \tanh(c_t) \qquad (S_t = (O_t \odot \tanh(c_t))\, W_p \text{ with } W_p)

    Parameters
    ----------
    X : array_like, shape (T, N, C)
        The input sequence: T steps of a batch of N vectors of C features.
    Ui, Uf, Ug, Uo : array_like, shape (C, D)
        Input weights of the input gate, forget gate, candidate and output gate.
    Wi, Wf, Wg, Wo : array_like, shape (P, D)
        Hidden (recurrent) weights, same order; P = D without ``Wp``.
    bi, bf, bg, bo : array_like, shape (D,)
        Biases, same order.
    s0 : None or array_like, shape (N, P)
        Initial hidden state; zeros when None. A non-constant Tensor gets a gradient;
        None, an array or a constant Tensor do not.
    c0 : None or array_like, shape (N, D)
        Initial cell state, the same way.
    bp_lim : None or int >= 0
        Truncated back-propagation through time, as in :func:`mygru.gru`; the state
        that a window treats as a constant is the pair (S, c).
    dropout : float in [0, 1)
        As for :func:`mygru.gru`: one (N, D) mask per gate on the input projection
        X_t U, shared by all steps, and DropConnect on Wi, Wf, Wg, Wo (one (P, D) mask
        each, AWD-LSTM's weight drop), all scaled by 1/(1 - dropout). The masks are
        ``s.creator.dropout_masks``, an :class:`LSTMDropoutMasks`.
    constant : None or bool
        As in mygrad: None makes the results constant iff every tensor input is.
    rng, lengths : keyword-only
        As in :func:`mygru.gru`; a finished sequence keeps both its S and its c.
    Wp : None or array_like, shape (D, P), keyword-only
        The projection of torch's ``proj_size``: S_t = (O_t ⊙ tanh(c_t)) Wp.
    zoneout, training : keyword-only
        As in :func:`mygru.gru`; ``zoneout`` a rate for both parts or the pair (for S, for c)
        (the paper's LSTMs zone out c and h at different rates, e.g. (0.05, 0.5)).

    Returns
    -------
    s : mygrad.Tensor, shape (T+1, N, P)
        ``s[0]`` is s0 and ``s[t]`` is S_t; ``s.creator`` is the :class:`LSTMOp`.
    c : mygrad.Tensor, shape (T+1, N, D)
        ``c[0]`` is c0 and ``c[t]`` is c_t. A loss may use s, c or both: every
        gradient reaches X, the parameters, s0 and c0. After ``backward``,
        ``s.grad`` and ``c.grad`` hold the total derivatives dL/dS_t and dL/dc_t of
        every state, step 0 included, within the bp_lim windows, with the pair
        (S_t, c_t) as the state: ``c.grad[t]`` is what reaches c_t from the loss and
        from the cells after t, not the path from c_t into S_t inside cell t (see the
        conventions page).

    Notes
    -----
    T: sequence length, N: batch size, C: input features, D: hidden units, P: the
    width of S (D, or the projection's). The computation uses the floating result
    type of the inputs, as in :func:`mygru.gru`.

    Examples
    --------
    >>> import mygrad as mg, numpy as np, mygru
    >>> T, N, C, D = 5, 2, 3, 4
    >>> rng = np.random.default_rng(0)
    >>> params = [mg.tensor(rng.normal(size=shape)) for shape in [(C, D), (D, D), (D,)] * 4]
    >>> s, c = mygru.lstm(rng.normal(size=(T, N, C)), *params)
    >>> s.shape, c.shape
    ((6, 2, 4), (6, 2, 4))
    >>> c[-1].sum().backward()  # a loss on the last cell state alone
    >>> params[0].grad.shape, s.grad.shape
    ((3, 4), (6, 2, 4))
    """
    params = dict(Ui=Ui, Wi=Wi, bi=bi, Uf=Uf, Wf=Wf, bf=bf, Ug=Ug, Wg=Wg, bg=bg, Uo=Uo, Wo=Wo, bo=bo)
    checked = Checked(
        X,
        params,
        s0,
        bp_lim=bp_lim,
        dropout=dropout,
        constant=constant,
        rng=rng,
        lengths=lengths,
        c0=c0,
        Wp=Wp,
        zoneout=zoneout,
        training=training,
        parts=("s", "c"),
    )
    s, c = apply(LSTMOp if Wp is None else LSTMProjOp, checked, constant, kernel=LSTM)
    return s, c
