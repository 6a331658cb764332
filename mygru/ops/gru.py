"""``mygru.gru``: a gated recurrent unit as one mygrad operation."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from mygrad import Tensor

from .._kernels import GRU, GRUResetAfter
from .._typing import ArrayLike, Seed
from ._base import Checked, RecurrentOp, apply

__all__ = ["DropoutMasks", "GRUOp", "gru"]


class DropoutMasks(NamedTuple):
    """The masks one ``gru`` call drew: ``s.creator.dropout_masks``.

    ``Uz``, ``Ur``, ``Uh`` (N, D) multiply X_t Uz, X_t Ur, X_t Uh at every step;
    ``Wz``, ``Wr``, ``Wh`` (D, D) multiply the hidden weights (DropConnect).
    Values are 0 or 1/(1 − p)."""

    Uz: np.ndarray
    Ur: np.ndarray
    Uh: np.ndarray
    Wz: np.ndarray
    Wr: np.ndarray
    Wh: np.ndarray


class GRUOp(RecurrentOp):
    """The operation behind :func:`gru`; ``s.creator`` of its output.

    Attributes
    ----------
    dropout_masks : DropoutMasks or None
        The masks this call drew (None without dropout). mygrad releases the graph,
        and with it ``s.creator``, during ``backward``: read them before.
    bp_lim : None or int
        The truncation this call's backward uses.
    zoneout_masks : None or tuple of ndarray
        Zoneout's masks while training, one (T, N, width) array per state part (1 where a
        unit keeps its previous value); None without zoneout or out of training.
    """

    dropout_masks: DropoutMasks | None
    names: tuple[str, ...] = ("X", "Uz", "Wz", "bz", "Ur", "Wr", "br", "Uh", "Wh", "bh", "s0")
    mask_fields = DropoutMasks._fields
    masks_type = DropoutMasks


class GRUResetAfterOp(GRUOp):
    """:class:`GRUOp` for ``reset_after=True``: one more variable, ``bhn``."""

    names = GRUOp.names + ("bhn",)


def gru(
    X: ArrayLike,
    Uz: ArrayLike,
    Wz: ArrayLike,
    bz: ArrayLike,
    Ur: ArrayLike,
    Wr: ArrayLike,
    br: ArrayLike,
    Uh: ArrayLike,
    Wh: ArrayLike,
    bh: ArrayLike,
    s0: ArrayLike | None = None,
    bp_lim: int | None = None,
    dropout: float = 0.0,
    constant: bool | None = None,
    *,
    rng: Seed = None,
    reset_after: bool = False,
    bhn: ArrayLike | None = None,
    lengths: ArrayLike | None = None,
    zoneout: float | tuple[float] = 0.0,
    training: bool = True,
) -> Tensor:
    r"""Runs a gated recurrent unit over a sequence, returning every hidden state.

    A drop-in replacement for ``mygrad.nnet.layers.gru``: the same arguments, the
    same numbers, a hand-written backward in numpy (no numba), and a gradient for
    ``s0`` when it is a non-constant tensor.

    .. math::

        Z_t &= \sigma(X_t U_z + S_{t-1} W_z + b_z) \\
        R_t &= \sigma(X_t U_r + S_{t-1} W_r + b_r) \\
        H_t &= \tanh(X_t U_h + (R_t \odot S_{t-1}) W_h + b_h) \\
        S_t &= (1 - Z_t) \odot H_t + Z_t \odot S_{t-1}

    With ``reset_after=True`` (PyTorch's formulation) the candidate is
    :math:`H_t = \tanh(X_t U_h + b_h + R_t \odot (S_{t-1} W_h + b_{hn}))`.

    Parameters
    ----------
    X : array_like, shape (T, N, C)
        The input sequence: T steps of a batch of N vectors of C features.
    Uz, Ur, Uh : array_like, shape (C, D)
        Input weights of the update gate, reset gate and candidate.
    Wz, Wr, Wh : array_like, shape (D, D)
        Hidden (recurrent) weights, same order.
    bz, br, bh : array_like, shape (D,)
        Biases, same order.
    s0 : None or array_like, shape (N, D)
        Initial state; zeros when None. A non-constant Tensor gets a gradient;
        None, an array or a constant Tensor do not.
    bp_lim : None or int >= 0
        Truncated back-propagation through time: the loss term at output t crosses
        at most the bp_lim cells t, ..., t - bp_lim + 1, so it reaches the weights of
        the cells t, ..., max(1, t - bp_lim); the state entering that window counts
        as a constant, except that a window reaching past the start
        (t - bp_lim <= 0) flows on into ``s0``. None (full BPTT) and any
        bp_lim >= T are the same. See the docs' page on bp_lim.
    dropout : float in [0, 1)
        mygrad's scheme: one (N, D) mask per gate on the input projection X_t U,
        shared by all steps (the idea of [1], applied after the product rather than
        to X_t), and DropConnect on Wz, Wr, Wh (one (D, D) mask each, as in [2]), all
        scaled by 1/(1 - dropout). The masks are ``s.creator.dropout_masks``.
    constant : None or bool
        As in mygrad: None makes the result constant iff every tensor input is.
    rng : None, int or numpy.random.Generator, keyword-only
        Source of the dropout masks: None draws from numpy's global RNG (so
        ``np.random.seed`` reproduces a run), an int seeds a fresh
        ``np.random.default_rng``, a Generator is used as given.
    reset_after : bool, keyword-only
        Apply the reset gate after the hidden product, as PyTorch does.
    bhn : None or array_like, shape (D,), keyword-only
        The candidate's recurrent bias b_hn (PyTorch's ``b_hn``); only with
        ``reset_after=True``, zeros when None.
    lengths : None or array_like of int, shape (N,), keyword-only
        Sequence n runs for ``lengths[n]`` steps (1..T); its later states repeat its
        last one and pass gradients straight through (whatever zoneout's masks say).
    zoneout : float in [0, 1), or a tuple of one per state part, keyword-only
        Zoneout (Krueger et al. 2016): while ``training``, each unit of each state part
        keeps its previous value with this probability, a fresh mask every step,
        S_t = M_t ⊙ S_{t-1} + (1 − M_t) ⊙ cell(...); the masks are
        ``.creator.zoneout_masks``, one (T, N, width) array per part. Gradients flow
        through both terms. Out of training the expectation,
        S_t = z S_{t-1} + (1 − z) cell(...).
    training : bool, keyword-only
        False: evaluation, as a module's ``eval()`` does: no dropout masks, and zoneout's
        expectation instead of its masks.

    Returns
    -------
    s : mygrad.Tensor, shape (T+1, N, D)
        ``s[0]`` is s0 and ``s[t]`` is S_t. The computation uses the floating result
        type of the inputs (float64 for integer-only input, float16 as float32; other
        dtypes, longdouble among them, are a TypeError naming the argument).
        After ``backward``, ``s.grad`` holds the total derivative dL/dS_t of every
        state, S_0 included, within the bp_lim windows.

    Notes
    -----
    T: sequence length, N: batch size, C: input features, D: hidden units.

    References
    ----------
    .. [1] Y. Gal, Z. Ghahramani, "A Theoretically Grounded Application of Dropout
           in Recurrent Neural Networks", arXiv:1512.05287, 2016.
    .. [2] S. Merity, N. S. Keskar, R. Socher, "Regularizing and Optimizing LSTM
           Language Models", arXiv:1708.02182, 2017.

    Examples
    --------
    >>> import mygrad as mg, numpy as np, mygru
    >>> T, N, C, D = 5, 2, 3, 4
    >>> rng = np.random.default_rng(0)
    >>> params = [mg.tensor(rng.normal(size=shape)) for shape in [(C, D), (D, D), (D,)] * 3]
    >>> s = mygru.gru(rng.normal(size=(T, N, C)), *params)
    >>> s.shape
    (6, 2, 4)
    >>> s[-1].sum().backward()
    >>> params[0].grad.shape
    (3, 4)
    """
    if not isinstance(reset_after, bool):
        raise TypeError(f"reset_after must be True or False, got {reset_after!r}")
    if bhn is not None and not reset_after:
        raise ValueError("bhn (the candidate's recurrent bias) is only used with reset_after=True")
    params = dict(Uz=Uz, Wz=Wz, bz=bz, Ur=Ur, Wr=Wr, br=br, Uh=Uh, Wh=Wh, bh=bh)
    if bhn is not None:
        params["bhn"] = bhn
    checked = Checked(
        X,
        params,
        s0,
        bp_lim=bp_lim,
        dropout=dropout,
        constant=constant,
        rng=rng,
        lengths=lengths,
        zoneout=zoneout,
        training=training,
    )
    if not reset_after:
        return apply(GRUOp, checked, constant, kernel=GRU)
    return apply(GRUResetAfterOp, checked, constant, kernel=GRUResetAfter)
