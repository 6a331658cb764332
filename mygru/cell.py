r"""``mygru.Cell``: the protocol of a recurrent cell that a user writes.

A cell is a small class whose equations are its whole job: one step forward and one step
back, in plain numpy. :func:`mygru.recurrence` runs it over a sequence with everything
:func:`mygru.gru` has (truncated BPTT, dropout, variable lengths, gradients for the
initial state and ``.grad`` of every state), and :class:`mygru.nn.Recurrent` makes a
module of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["Cell"]


class Cell:
    r"""Base class of a recurrent cell: subclass it and write :meth:`step` and
    :meth:`step_backward`.

    The driver makes each gate's input projection for all steps at once,
    :math:`A^g_t = X_t U_g + b_g` (masked by ``dropout``), and hands a step the rows of one
    or more cells; the cell does the rest. A minimal gated unit (Zhou et al. 2016):

    .. math::

        F_t &= \sigma(A^f_t + S_{t-1} W_f) \\
        H_t &= \tanh(A^h_t + (F_t \odot S_{t-1}) W_h) \\
        S_t &= (1 - F_t) \odot S_{t-1} + F_t \odot H_t

    is ``gates = ("f", "h")``, ``weights = ("Wf", "Wh")`` and the two methods below
    (the tutorial "Your own cell" writes it whole).

    Attributes
    ----------
    gates : tuple of str
        The input projections the driver makes, one (n, D) array each: gate ``g`` reads
        the parameters ``"U" + g`` (C, D) and, with ``bias``, ``"b" + g`` (D,). A gate
        named ``""`` reads ``"U"`` and ``"b"``.
    weights : tuple of str
        The cell's own parameters, of any shapes (a module makes them of the shapes
        :meth:`shapes` gives).
    state : tuple of str
        The parts of the state, each an array (n, width); the first is the output (h).
        With one part a state is an array, with several a tuple of arrays in this order.
    bias : bool
        False: the input projections have no biases (no ``"b" + g`` parameters).
    dropconnect : None or tuple of str
        The weights DropConnect masks multiply with ``dropout``; None: every 2-D weight.

    Notes
    -----
    ``step`` and ``step_backward`` see ``n`` rows: the sequences still running, or the
    rows of several cells stacked (truncated BPTT moves many cells' gradients back in one
    call). So they must treat the rows independently, and sum the weights' gradients over
    the rows, which plain numpy code does by itself. The cache ``step`` returns is a tuple
    of arrays with those ``n`` rows first: the driver stores it, and stacks the caches of
    several cells row-wise.

    Neither method may write into its arguments ``p``, ``s``, ``ds`` or into the cache: the
    states are the results, and with ``bp_lim`` a cache goes back through the cell more
    than once. The input projections ``a`` are the step's own to overwrite.
    :func:`mygru.check_cell` checks all of this.
    """

    gates: tuple[str, ...] = ()
    weights: tuple[str, ...] = ()
    state: tuple[str, ...] = ("s",)
    bias: bool = True
    dropconnect: tuple[str, ...] | None = None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"

    def widths(self, D: int, p: Mapping[str, np.ndarray]) -> tuple[int, ...]:
        """Each state part's width, for ``D`` hidden units and the weights ``p`` (by
        name): ``D`` for every part unless a subclass says otherwise."""
        return (D,) * len(self.state)

    def shapes(self, input_size: int, hidden_size: int) -> dict[str, tuple[int, ...]]:
        """The shape of each weight in a module (:class:`mygru.nn.Recurrent`):
        (hidden_size, hidden_size) for every weight unless a subclass says otherwise."""
        return {name: (hidden_size, hidden_size) for name in self.weights}

    def init(
        self, name: str, shape: tuple[int, ...], hidden_size: int, rng: np.random.Generator
    ) -> np.ndarray:
        """The initial value of the parameter ``name`` (an input weight ``"U" + g``, a bias
        ``"b" + g`` or a weight) in a module: uniform in (−1/√H, 1/√H), as torch's
        recurrent layers, unless a subclass says otherwise."""
        k = 1 / np.sqrt(hidden_size)
        return rng.uniform(-k, k, size=shape)

    def step(self, p: Mapping[str, np.ndarray], a: Mapping[str, np.ndarray], s: Any) -> tuple[Any, tuple]:
        """One step forward.

        Parameters
        ----------
        p : dict of ndarray
            The weights by name, as this call uses them (DropConnect masks applied).
        a : dict of ndarray, each (n, D)
            The input projections by gate.
        s : ndarray (n, width), or a tuple of them (one per state part)
            The state S_{t-1}.

        Returns
        -------
        s_new : ndarray, or a tuple of them
            The state S_t, shaped like ``s``.
        cache : tuple of ndarray
            What :meth:`step_backward` needs, each array with the ``n`` rows first.
        """
        raise NotImplementedError(f"{type(self).__name__} must define step(self, p, a, s)")

    def step_backward(self, p: Mapping[str, np.ndarray], ds: Any, cache: tuple) -> tuple[dict, Any, dict]:
        """One step back.

        Parameters
        ----------
        p : dict of ndarray
            The weights, as :meth:`step` saw them.
        ds : ndarray, or a tuple of them
            dL/dS_t, shaped like the state.
        cache : tuple of ndarray
            What :meth:`step` returned for these rows.

        Returns
        -------
        da : dict of ndarray, each (n, D)
            dL/dA^g_t for every gate.
        ds_prev : ndarray, or a tuple of them
            dL/dS_{t-1} through this cell, shaped like the state.
        dp : dict of ndarray
            dL/dp for every weight, summed over the rows, shaped like the weight.
        """
        raise NotImplementedError(f"{type(self).__name__} must define step_backward(self, p, ds, cache)")
