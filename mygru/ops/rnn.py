"""``mygru.rnn``: the Elman recurrence as one mygrad operation."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from mygrad import Tensor

from .._kernels import Elman
from .._typing import ArrayLike, Nonlinearity, Seed
from ._base import Checked, RecurrentOp, apply, check_nonlinearity

__all__ = ["RNNDropoutMasks", "RNNOp", "rnn"]


class RNNDropoutMasks(NamedTuple):
    """The masks one ``rnn`` call drew: ``U`` (N, D) on X_t U at every step and
    ``W`` (D, D) on W (DropConnect); values 0 or 1/(1 − p)."""

    U: np.ndarray
    W: np.ndarray


class RNNOp(RecurrentOp):
    """The operation behind :func:`rnn`; ``s.creator`` of its output.

    Attributes
    ----------
    dropout_masks : RNNDropoutMasks or None
        The masks this call drew (None without dropout); read them before ``backward``.
    bp_lim : None or int
        The truncation this call's backward uses.
    zoneout_masks : None or tuple of ndarray
        Zoneout's masks while training, one (T, N, width) array per state part (1 where a
        unit keeps its previous value); None without zoneout or out of training.
    """

    dropout_masks: RNNDropoutMasks | None
    names = ("X", "U", "W", "b", "s0")
    mask_fields = RNNDropoutMasks._fields
    masks_type = RNNDropoutMasks


def rnn(
    X: ArrayLike,
    U: ArrayLike,
    W: ArrayLike,
    b: ArrayLike,
    s0: ArrayLike | None = None,
    bp_lim: int | None = None,
    dropout: float = 0.0,
    constant: bool | None = None,
    *,
    nonlinearity: Nonlinearity = "tanh",
    rng: Seed = None,
    lengths: ArrayLike | None = None,
    zoneout: float | tuple[float] = 0.0,
    training: bool = True,
) -> Tensor:
    r"""Runs an Elman recurrent layer over a sequence, returning every hidden state.

    .. math::

        S_t = f(X_t U + S_{t-1} W + b), \quad f = \tanh \text{ or } \mathrm{relu}

    This is the cell of ``torch.nn.RNN`` (with ``b`` = b_ih + b_hh).

    Parameters
    ----------
    X : array_like, shape (T, N, C)
    U : array_like, shape (C, D)
        Input weights.
    W : array_like, shape (D, D)
        Hidden weights.
    b : array_like, shape (D,)
    s0 : None or array_like, shape (N, D)
        Initial state; zeros when None. A non-constant Tensor gets a gradient.
    bp_lim, dropout, constant, rng, lengths
        Exactly as in :func:`mygru.gru`; the dropout masks are
        ``s.creator.dropout_masks``, an :class:`RNNDropoutMasks` (U (N, D), W (D, D)).
    zoneout, training : keyword-only
        As in :func:`mygru.gru`.
    nonlinearity : {"tanh", "relu"}, keyword-only

    Returns
    -------
    s : mygrad.Tensor, shape (T+1, N, D)
        ``s[0]`` is s0, ``s[t]`` is S_t; after ``backward``, ``s.grad`` is the total
        derivative dL/dS_t of every state.

    Examples
    --------
    >>> import mygrad as mg, numpy as np, mygru
    >>> rng = np.random.default_rng(0)
    >>> U, W, b = (mg.tensor(rng.normal(size=shape)) for shape in [(3, 4), (4, 4), (4,)])
    >>> s = mygru.rnn(rng.normal(size=(5, 2, 3)), U, W, b, nonlinearity="relu")
    >>> s.shape
    (6, 2, 4)
    """
    nonlinearity = check_nonlinearity(nonlinearity)
    checked = Checked(
        X,
        dict(U=U, W=W, b=b),
        s0,
        bp_lim=bp_lim,
        dropout=dropout,
        constant=constant,
        rng=rng,
        lengths=lengths,
        zoneout=zoneout,
        training=training,
    )
    return apply(RNNOp, checked, constant, kernel=Elman, nonlinearity=nonlinearity)
