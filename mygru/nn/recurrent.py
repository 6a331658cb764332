"""Layers of a recurrence over whole sequences: the machinery every sequence module runs
(layers, directions, lengths, dropout between layers, initial states) and
:class:`Recurrent`, its face for any :class:`mygru.Cell`.

Notation: T steps, a batch of N, C = ``input_size``, H = ``hidden_size``, P = the width of
the state h, L = ``num_layers``, dirs = 2 if ``bidirectional`` else 1.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import mygrad as mg
import numpy as np
import numpy.typing as npt
from mygrad import Tensor

from .._typing import ArrayLike, Seed
from ..cell import Cell
from ..ops import recurrence
from ..ops._base import (
    as_input,
    check_lengths,
    check_probability,
    check_zoneout,
    real_array,
)
from ..ops._base import check_int as _check_int
from ..ops.recurrence import check_cell_class, check_widths
from ._glue import _Finals, _flip, _join, _reversal_index, _reverse, _take_batch
from ._module import _M, _check_flag, _Module

__all__ = ["Recurrent"]

# --------------------------------------------------------------------------- sequence modules


class _Recurrent(_Module):
    """A stack of recurrent layers over whole sequences (the base of :class:`GRU`, :class:`RNN` and :class:`LSTM`)."""

    num_layers: int
    batch_first: bool
    dropout: float
    bidirectional: bool
    variational_dropout: float

    if TYPE_CHECKING:
        # the parameters are attributes named after torch's (weight_ih_l0, ...), set per layer
        def __getattr__(self, name: str) -> Tensor: ...

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int,
        bias: bool,
        batch_first: bool,
        dropout: float,
        bidirectional: bool,
        *,
        dtype: npt.DTypeLike,
        rng: Seed,
        variational_dropout: float,
        zoneout: float | tuple[float, ...] = 0.0,
    ) -> None:
        self.input_size = _check_int("input_size", input_size, 1)
        self.hidden_size = _check_int("hidden_size", hidden_size, 1)
        self.num_layers = _check_int("num_layers", num_layers, 1)
        self.bias = _check_flag("bias", bias)
        self.batch_first = _check_flag("batch_first", batch_first)
        self.dropout = check_probability("dropout", dropout, "1]")
        self.bidirectional = _check_flag("bidirectional", bidirectional)
        self.variational_dropout = check_probability("variational_dropout", variational_dropout, "1)")
        rates = check_zoneout(zoneout, self._states)
        self.zoneout = rates[0] if len(set(rates)) == 1 else rates
        if self.dropout and self.num_layers == 1:
            warnings.warn(  # as torch warns: there is no layer for it to act between
                f"dropout={self.dropout} has no effect with num_layers=1: it acts between layers only",
                UserWarning,
                stacklevel=3,
            )
        self._suffixes = ("", "_reverse") if self.bidirectional else ("",)
        shapes: dict[str, tuple[int, ...]] = {}
        for layer in range(self.num_layers):
            width = self.input_size if layer == 0 else self._state_size * len(self._suffixes)
            for suffix in self._suffixes:
                for kind, shape in self._direction_shapes(width).items():
                    shapes[f"{kind}_l{layer}{suffix}"] = shape
        self._create_parameters(shapes, dtype, rng)

    def _layer_params(self, layer, suffix):
        """The parameters of one layer and direction in the order of ``_kinds``; None for absent ones."""
        return tuple(getattr(self, f"{kind}_l{layer}{suffix}", None) for kind in self._kinds)

    def _run(self, x, state0, lengths):
        """``state0``: one initial value (or None) per part of the state, as ``_states`` names
        them; returns ``output`` and a tuple of the final values, one (L·dirs, N, ·) per part."""
        self._check_parameters()
        a = real_array("x", x)
        batched = a.ndim == 3
        if a.ndim not in (2, 3) or a.shape[-1] != self.input_size:
            layout = "(N, T, C)" if self.batch_first else "(T, N, C)"
            raise ValueError(
                f"x must have shape {layout} or (T, C) with C = input_size = {self.input_size}, got shape {a.shape}"
            )
        x = as_input("x", x, a)
        if not batched:
            x = x[:, None]
        elif self.batch_first:
            x = mg.swapaxes(x, 0, 1)
        T, N = x.shape[:2]
        state0 = tuple(
            self._check_state(self._state_name(k, part), value, part, N, batched)
            for k, (part, value) in enumerate(zip(self._states, state0))
        )
        lengths = self._check_lengths(lengths, T, N, batched)
        p, vp = (self.dropout, self.variational_dropout) if self.training else (0.0, 0.0)
        zone = dict(zoneout=self.zoneout, training=self.training)  # zoneout: its masks, or its expectation
        # The ops order the batch by length, longest first, inside every call unless it
        # is already in that order: sorted once here, for every layer and direction, it
        # is. (Not with the op's own dropout, whose masks are drawn per sequence in the
        # order the op is given.)
        batch = None
        if lengths is not None and not vp and np.any(np.diff(lengths) > 0):
            batch = np.argsort(-lengths, kind="stable")
            lengths = lengths[batch]
            x = _take_batch(x, batch)
            state0 = tuple(None if value is None else _take_batch(value, batch) for value in state0)
        index = None if lengths is None else _reversal_index(lengths, T)
        dirs = len(self._suffixes)

        finals = [[] for _ in state0]  # per part of the state, every layer's and direction's sequence
        inputs = (
            [x] if dirs == 1 else [x, _reverse(x, index)]
        )  # each direction's input, in its own time order
        for layer in range(self.num_layers):
            states = []  # each direction's h, (T+1, N, P)
            for direction, suffix in enumerate(self._suffixes):
                k = layer * dirs + direction
                init = tuple(None if value is None else value[k] for value in state0)
                sequences = self._recurrence(
                    inputs[direction], self._layer_params(layer, suffix), init, lengths, vp, zone
                )
                states.append(sequences[0])
                for final, sequence in zip(finals, sequences):
                    final.append(sequence)
            if layer == self.num_layers - 1:
                break
            # the next layer's input, forward and reversed (the reverse of the reverse
            # direction is its states in order), with torch's dropout between layers
            mask = self._dropout_mask((T, N, dirs * states[0].shape[-1]), states[0].dtype, p) if p else None
            if mask is not None and batch is not None:
                mask = mask[:, batch]  # drawn in the caller's order of the batch
            inputs = [_join(states, index, (False, True)[:dirs], mask)]
            if dirs == 2:
                inputs.append(
                    _join(states, index, (True, False), None if mask is None else _flip(mask, index))
                )
        # finished sequences carry their last state inside the op; the next layer and
        # the reverse direction ignore those steps, so zeroing them once, here, suffices
        alive = (
            None
            if lengths is None
            else (np.arange(T)[:, None, None] < lengths[:, None]).astype(states[0].dtype)
        )
        output = _join(states, index, (False, True)[:dirs], alive)
        finals = tuple(Tensor._op(_Finals, *final) for final in finals)
        if batch is not None:  # back to the caller's order
            inverse = np.argsort(batch)
            output, finals = _take_batch(output, inverse), tuple(_take_batch(f, inverse) for f in finals)
        if not batched:
            return output[:, 0], tuple(final[:, 0] for final in finals)
        return (mg.swapaxes(output, 0, 1) if self.batch_first else output), finals

    def _state_name(self, k, part):
        """The name of the initial value of state part ``part`` (the k-th), in errors."""
        return f"{part}0"

    def _dropout_mask(self, shape, dtype, p):
        """torch's dropout: each element kept with probability 1 - p and scaled by 1/(1 - p)."""
        keep = 1.0 - p
        scale = 1.0 / keep if keep else 0.0  # p = 1 drops everything, as in torch
        return (self._uniform(shape) < keep).astype(dtype) * np.asarray(scale, dtype)

    def _check_state(
        self, name: str, value: ArrayLike | None, part: str, N: int, batched: bool
    ) -> Tensor | np.ndarray | None:
        """The initial value ``name`` of state part ``part`` as (L·dirs, N, ·), or None."""
        if value is None:
            return None
        a = real_array(name, value)
        stacks, (width, size) = self.num_layers * len(self._suffixes), self._part_size(part)
        want = (stacks, N, width) if batched else (stacks, width)
        if a.shape != want:
            spelled = "(num_layers * num_directions, " + ("N, " if batched else "") + f"{size})"
            raise ValueError(f"{name} must have shape {spelled} = {want}, got shape {a.shape}")
        value = as_input(name, value, a)
        return value if batched else value[:, None]

    @staticmethod
    def _check_lengths(lengths: ArrayLike | None, T: int, N: int, batched: bool) -> np.ndarray | None:
        if lengths is None:
            return None
        if not batched:
            raise ValueError("lengths needs batched x of shape (T, N, C); got one unbatched sequence")
        return check_lengths(lengths, T, N, source="x")


class Recurrent(_Recurrent):
    r"""A stack of layers of any :class:`mygru.Cell`: layers, directions, lengths, dropout.

    Every layer and direction runs the cell over the sequence as one
    :func:`mygru.recurrence` operation; layer k > 0 reads layer k − 1's output (the first
    state part of both directions side by side), as in torch's recurrent modules.

    Calling ``m(x, hx=None, lengths=None)`` returns ``(output, h_n)`` for a cell with one
    state part and ``(output, (h_n, c_n, ...))`` (one final state per part) for a cell
    with several: see :meth:`__call__`.

    Parameters
    ----------
    cell : mygru.Cell
        The cell every layer and direction runs.
    input_size : int >= 1
        C, the features of each step of ``x``.
    hidden_size : int >= 1
        H (the cell's D): the width of every gate's input projection.
    num_layers, batch_first, dropout, bidirectional, dtype, rng
        As in :class:`GRU` (``dropout`` is torch's, between layers, in training mode).
    bias : bool
        False leaves the input projections' biases out (zeros); a cell with ``bias = False``
        has none either way.
    variational_dropout : float in [0, 1), keyword-only
        :func:`mygru.recurrence`'s own ``dropout``: masks on each gate's input projection
        and DropConnect on the cell's weights, in training mode.
    zoneout : float in [0, 1), or one per state part, keyword-only
        Zoneout on every layer and direction, in training mode (its expectation in
        evaluation mode): see :func:`mygru.gru`.

    Attributes
    ----------
    U{g}_l{k} : mygrad.Tensor, shape (C, H) for k = 0, else (dirs·W, H)
        Layer k's input weights of gate g (W: the width of the cell's first state part).
    b{g}_l{k} : mygrad.Tensor, shape (H,)
        Its bias (with ``bias`` and the cell's ``bias``).
    {weight}_l{k} : mygrad.Tensor
        Each of the cell's weights, of the shape ``cell.shapes`` gives.
    U{g}_l{k}_reverse, ... : mygrad.Tensor
        The same for the reverse direction (only with ``bidirectional=True``).
    parameters : Tuple[mygrad.Tensor, ...]
        All of them, layer by layer, forward before reverse.
    training : bool
        Set by ``train()`` / ``eval()``; both dropouts act only while True.

    Notes
    -----
    Each parameter starts at ``cell.init(name, shape, hidden_size, rng)``; the default is
    torch's U(−1/√H, 1/√H). The module has no torch counterpart (``from_torch`` and
    ``to_torch`` are for :class:`GRU`, :class:`RNN` and :class:`LSTM`, which run the same
    layers, directions, lengths and dropout with torch's parameter names).

    Examples
    --------
    >>> import numpy as np, mygru
    >>> from mygru import nn
    >>> class Elman(mygru.Cell):
    ...     gates, weights = ("",), ("W",)
    ...     def step(self, p, a, s):
    ...         s_new = np.tanh(a[""] + s @ p["W"])
    ...         return s_new, (s, s_new)
    ...     def step_backward(self, p, ds, cache):
    ...         s, s_new = cache
    ...         da = ds * (1 - s_new**2)
    ...         return {"": da}, da @ p["W"].T, {"W": s.T @ da}
    >>> m = nn.Recurrent(Elman(), 3, 4, num_layers=2, bidirectional=True, rng=0)
    >>> output, h_n = m(np.ones((5, 2, 3)), lengths=[5, 2])
    >>> output.shape, h_n.shape, m.W_l1_reverse.shape, m.U_l1.shape
    ((5, 2, 8), (4, 2, 4), (4, 4), (8, 4))
    """

    cell: Cell

    _torch_name = "Recurrent"
    _torch_args = (
        "input_size",
        "hidden_size",
        "num_layers",
        "bias",
        "batch_first",
        "dropout",
        "bidirectional",
    )

    def __init__(
        self,
        cell: Cell,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        dtype: npt.DTypeLike = np.float32,
        rng: Seed = None,
        variational_dropout: float = 0.0,
        zoneout: float | tuple[float, ...] = 0.0,
    ) -> None:
        gates, weights, self._states, _ = check_cell_class(cell)
        self.cell = cell
        H = _check_int("hidden_size", hidden_size, 1)
        biased = _check_flag("bias", bias) and cell.bias
        self._kinds = (
            *(f"U{g}" for g in gates),
            *(f"b{g}" for g in gates if biased),
            *weights,
        )
        C = _check_int("input_size", input_size, 1)
        made = {w: np.zeros(shape) for w, shape in self._cell_shapes(C, H).items()}
        self._widths = check_widths(cell, H, made)
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            dtype=dtype,
            rng=rng,
            variational_dropout=variational_dropout,
            zoneout=zoneout,
        )

    def _cell_shapes(self, width, H):
        """The cell's weights' shapes for a layer that reads ``width`` features."""
        shapes = self.cell.shapes(width, H)
        owner = type(self.cell).__name__
        if not isinstance(shapes, Mapping) or set(shapes) != set(self.cell.weights):
            raise TypeError(
                f"{owner}.shapes(input_size, hidden_size) must return a dict with a shape for each of "
                f"its weights {self.cell.weights}, got {shapes!r}"
            )
        return {w: tuple(int(n) for n in shapes[w]) for w in self.cell.weights}

    @property
    def _state_size(self):
        return self._widths[0]

    def _part_size(self, state):
        width = self._widths[self._states.index(state)]
        return width, f"the width of the part {state!r}"

    def _direction_shapes(self, width):
        H = self.hidden_size
        shapes = {
            kind: (width, H) if kind[0] == "U" else (H,)
            for kind in self._kinds
            if kind not in self.cell.weights
        }
        shapes.update(self._cell_shapes(width, H))
        return shapes

    def _initial_value(self, name, shape):
        kind = re.fullmatch(r"(.*)_l\d+(?:_reverse)?", name).group(1)
        rng = self._rng if self._rng is not None else np.random.default_rng(np.random.randint(2**31))
        return self.cell.init(kind, shape, self.hidden_size, rng)

    def _recurrence(self, X, params, state0, lengths, dropout, zone=None):
        p = dict(zip(self._kinds, params))
        if self.cell.bias and not self.bias:  # the input projections without biases
            p.update({f"b{g}": np.zeros(self.hidden_size, self.dtype) for g in self.cell.gates})
        one = len(self._states) == 1
        out = recurrence(
            self.cell,
            X,
            p,
            state0[0] if one else state0,
            dropout=dropout,
            rng=self._rng,
            lengths=lengths,
            **(zone or {}),
        )
        return (out,) if one else out

    def __call__(self, x: ArrayLike, hx: Any = None, lengths: ArrayLike | None = None) -> tuple[Tensor, Any]:
        """Runs every layer and direction over the sequence.

        Parameters
        ----------
        x : array_like or mygrad.Tensor, shape (T, N, C), (N, T, C) with ``batch_first``, or (T, C)
            The input sequence; (T, C) is one unbatched sequence.
        hx : None, array_like, or a tuple of them (one per state part)
            The initial state of each layer and direction (index ``layer * dirs + direction``),
            each part of shape (L·dirs, N, width), or (L·dirs, width) unbatched; zeros when
            None (also per part). A non-constant Tensor gets its gradient.
        lengths : None or array_like of int, shape (N,)
            Sequence n is ``x``'s first ``lengths[n]`` steps (1..T, any order), as in :class:`GRU`.

        Returns
        -------
        output : mygrad.Tensor, shape (T, N, dirs·W), (N, T, dirs·W) with ``batch_first``, or (T, dirs·W)
            The last layer's first state part at every step, both directions side by side
            (forward first); zeros past each sequence's length.
        h_n : mygrad.Tensor, shape (L·dirs, N, W), or a tuple of them (one per state part)
            Each layer's and direction's final state.
        """
        k = len(self._states)
        state0: tuple[Any, ...]
        if k == 1:
            state0 = (hx,)
        elif hx is None:
            state0 = (None,) * k
        elif isinstance(hx, (tuple, list)) and len(hx) == k:
            state0 = tuple(hx)
        else:
            raise TypeError(
                f"hx must be None or a tuple of {k} initial states, one per part of {self._states}, "
                f"got {type(hx).__name__}"
            )
        output, finals = self._run(x, tuple(state0), lengths)
        return output, finals[0] if k == 1 else finals

    @classmethod
    def from_torch(cls: type[_M], module: Any, *, rng: Seed = None) -> _M:
        """Not available: torch has no module for a user's cell (see :class:`GRU`,
        :class:`RNN` and :class:`LSTM`)."""
        raise TypeError(f"{cls.__name__} has no torch counterpart: from_torch is for GRU, RNN and LSTM")

    def to_torch(self) -> Any:
        """Not available: torch has no module for a user's cell."""
        raise TypeError(f"{type(self).__name__} has no torch counterpart: to_torch is for GRU, RNN and LSTM")

    def _state_name(self, k, part):
        return "hx" if len(self._states) == 1 else f"hx[{k}] (part {part!r})"

    def __repr__(self) -> str:
        args = [f"{name}={getattr(self, name)!r}" for name in self._torch_args]
        args += [
            f"{name}={getattr(self, name)!r}"
            for name in ("variational_dropout", "zoneout")
            if getattr(self, name)
        ]
        return f"{type(self).__name__}({self.cell!r}, {', '.join(args)}, dtype={self.dtype.name})"
