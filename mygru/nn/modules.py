"""The torch-compatible modules: :class:`GRU`, :class:`RNN`, :class:`LSTM` and their cells.

A module holds torch's parameters and maps them, once per call, onto the arguments of
:func:`mygru.gru` (``reset_after=True``, PyTorch's formulation), :func:`mygru.rnn` or
:func:`mygru.lstm`; the recurrences themselves, variable lengths included, run inside
those operations.

Notation: T steps, a batch of N, C = ``input_size``, H = ``hidden_size``, P = the size of
the state h (``proj_size`` for a projected LSTM, else H), L = ``num_layers``, dirs = 2 if
``bidirectional`` else 1.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Mapping
from numbers import Integral
from typing import TYPE_CHECKING, Any, TypeVar

import mygrad as mg
import numpy as np
import numpy.typing as npt
from mygrad import Tensor
from mygrad._utils import SkipGradient
from mygrad.operation_base import Operation

from .._typing import ArrayLike, Nonlinearity, Seed
from ..cell import Cell
from ..ops import gru, lstm, recurrence, rnn
from ..ops._base import (
    as_input,
    check_lengths,
    check_nonlinearity,
    check_probability,
    check_rng,
    real_array,
)
from ..ops.recurrence import check_cell_class, check_widths

__all__ = ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNCell", "Recurrent"]

# the LSTM's state argument: (h, c), also as a list of two, as torch takes it
StatePair = tuple[ArrayLike, ArrayLike] | list[ArrayLike]


# --------------------------------------------------------------------------- checks


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int >= {minimum}, got {value!r} of type {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    return int(value)


def _check_flag(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r} of type {type(value).__name__}")
    return bool(value)


def _check_dtype(dtype):
    if dtype is None:  # torch's "default dtype"
        return np.dtype(np.float32)
    try:
        d = np.dtype(dtype)
    except TypeError:
        d = None
    if d not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}")
    return d


def _make_rng(rng):
    """None (numpy's global RNG) or a Generator; an int seeds one Generator for the
    module's whole life, so a seeded run is reproducible while masks still differ per call."""
    rng = check_rng(rng)
    return np.random.default_rng(rng) if isinstance(rng, int) else rng


def _cast(key, a, dtype):
    """A new array of ``a``'s values in ``dtype``; a finite value that ``dtype`` cannot
    hold (it would become inf) is a ValueError naming ``key``."""
    with np.errstate(over="ignore"):  # checked just below, by name
        out = np.array(a, dtype=dtype)
    overflow = np.isinf(out) & np.isfinite(a)
    if overflow.any():
        raise ValueError(
            f"{key} holds {a[overflow].flat[0].item()!r}, too large for the module's dtype {dtype} "
            f"(largest {np.finfo(dtype).max:.4g})"
        )
    return out


# --------------------------------------------------------------------------- glue operations

# The module's own mygrad operations between the recurrences. Each replaces a chain of
# mygrad's generic ones (transposes, slices, sums, concatenate, stack, a mask product)
# whose backward passes would each allocate a zero-filled array of their input's full
# shape and accumulate into it; these hand out each gradient once.


def _flip(a, index):
    """``a`` (T, N, ...) reversed in time: as a whole (a view) when ``index`` is None, else
    within each sequence's length, ``a[index]`` (a new array) with ``index`` from
    :func:`_reversal_index`. Either permutation is its own inverse."""
    return a[::-1] if index is None else a[index]


def _reversal_index(lengths, T):
    """``(order, columns)``: ``a[order, columns]`` reverses each sequence n of ``a`` (T, N, ...)
    within its length, ``order[t, n] = lengths[n] - 1 - t`` for t < lengths[n] and t past it."""
    t = np.arange(T)[:, None]
    return np.where(t < lengths, lengths - 1 - t, t), np.arange(len(lengths))


class _ReverseWithin(Operation):
    """``out = a[index]``: each sequence reversed in time within its own length (see
    :func:`_reversal_index`). The permutation is its own inverse, so the backward is the
    same gather. (Indexing a Tensor with the same arrays would scatter its gradient with
    ``np.add.at``, tens of times slower.)"""

    def __call__(self, a, index):
        self.variables = (a,)
        self._index = index
        return a.data[index]

    def backward_var(self, grad, index, **kwargs):
        return grad[self._index]


def _reverse(seq, index):
    """``seq`` (T, N, K) reversed in time: as a whole, or within each length when ``index`` is given."""
    if index is None:
        return seq[::-1]
    return Tensor._op(_ReverseWithin, seq, op_args=(index,))


class _TakeBatch(Operation):
    """``out = a.take(order, axis=1)``: the batch (axis 1) of ``a`` in the order ``order``, a
    permutation; the backward takes the inverse one."""

    def __call__(self, a, order):
        self.variables = (a,)
        self._order = order
        return np.take(a.data, order, axis=1)

    def backward_var(self, grad, index, **kwargs):
        return np.take(grad, np.argsort(self._order), axis=1)


def _take_batch(a, order):
    """The Tensor of :class:`_TakeBatch` (see there)."""
    return Tensor._op(_TakeBatch, a, op_args=(order,))


def _put(dst, src, index, flip):
    """``dst[...] = _flip(src, index) if flip else src``. The reversal within lengths is its
    own inverse, so it is written as a scatter, without the gather's temporary array."""
    if not flip:
        dst[...] = src
    elif index is None:
        dst[...] = src[::-1]
    else:
        dst[index] = src


def _add_to_grad(var, rows, values, index=None, flip=False):
    """``backward_var``'s hand-out of the gradient ``values`` of ``var[rows]`` alone (``rows``
    a slice of the first axis; ``values`` reversed in time first, see :func:`_flip`, where
    ``flip``).

    The first gradient that ``var`` receives in a backward pass is returned as a new
    array, zero outside ``rows``, which mygrad keeps as ``var``'s gradient; a later one is
    added into that gradient in place and ``SkipGradient`` is raised: what mygrad would do
    with a returned full-shape array, without making one. Only for the recurrences'
    outputs, whose every gradient comes through here, so that gradient is mygrad's own array."""
    if var._grad is None:
        start, stop, _ = rows.indices(var.shape[0])
        out = np.empty(var.shape, var.dtype)
        out[:start] = 0
        out[stop:] = 0
        _put(out[rows], values, index, flip)
        return out
    var._grad[rows] += _flip(values, index) if flip else values
    raise SkipGradient


class _Join(Operation):
    """One layer's output, or its reverse, from the states of its directions.

    ``out[..., d·P:(d+1)·P] = s_d[1:]``: the states of steps 1..T of each direction side by
    side, direction d reversed in time (:func:`_flip`) where ``flipped[d]``, the whole
    multiplied by ``scale`` (a mask: dropout, or which steps each sequence has) when given.

    Parameters
    ----------
    *states : mygrad.Tensor, each of shape (T+1, N, P)
    index : None or tuple of arrays, from :func:`_reversal_index`
    flipped : tuple of bool, one per direction
    scale : None or array, broadcasting to (T, N, dirs·P)

    Returns
    -------
    out : numpy.ndarray, shape (T, N, dirs·P)
    """

    def __call__(self, *states, index, flipped, scale):
        self.variables = states
        T1, N, P = states[0].shape
        out = np.empty((T1 - 1, N, P * len(states)), np.result_type(*(s.dtype for s in states)))
        if scale is not None:
            scale = np.broadcast_to(scale, out.shape)  # so that each part can take its columns
        for d, (s, flip) in enumerate(zip(states, flipped)):
            cols = slice(d * P, (d + 1) * P)
            if scale is not None and not flip:
                np.multiply(s.data[1:], scale[..., cols], out=out[..., cols])
                continue
            _put(out[..., cols], s.data[1:], index, flip)
            if scale is not None:
                out[..., cols] *= scale[..., cols]
        self._index, self._flipped, self._scale = index, flipped, scale
        return out

    def backward_var(self, grad, index, **kwargs):
        var = self.variables[index]
        cols = slice(index * var.shape[-1], (index + 1) * var.shape[-1])
        g = grad[..., cols] if self._scale is None else grad[..., cols] * self._scale[..., cols]
        return _add_to_grad(var, slice(1, None), g, self._index, self._flipped[index])


def _join(states, index, flipped, scale=None):
    """The Tensor of :class:`_Join` (see there)."""
    return Tensor._op(_Join, *states, op_kwargs=dict(index=index, flipped=flipped, scale=scale))


class _Finals(Operation):
    """``out[k] = s_k[-1]``: the last of each sequence of states ``s_k`` (T+1, N, ·), stacked
    into (K, N, ·)."""

    def __call__(self, *states):
        self.variables = states
        return np.stack([s.data[-1] for s in states])

    def backward_var(self, grad, index, **kwargs):
        var = self.variables[index]
        return _add_to_grad(var, slice(-1, None), grad[index : index + 1])


class _GateBlocks(Operation):
    """Makes the per-gate arguments of a recurrence from torch's parameters, and the
    parameters' gradients from the gate arguments' gradients.

    ``out = s0`` (a view): the recurrence's initial state passes through. Each gate
    argument ``name`` of ``spec``, ``(kinds, rows)``, is the sum over the parameters of
    those kinds of ``param[rows].T`` (e.g. Uz = weight_ih[H:2H].T, bz = bias_ih[H:2H] +
    bias_hh[H:2H]): a new leaf Tensor (a view for a single weight), put in ``blocks``,
    constant when those parameters are. The recurrence takes them and ``out`` as its s0.

    Why this works: the recurrence's backward sets the leaves' gradients, and mygrad runs
    this operation's backward after it (``out`` is one of its inputs). Each parameter's
    gradient is then written once, block by block, where slicing the parameter Tensors
    would have made each block an index operation whose backward fills a zero array of
    the whole parameter and accumulates them. The gate arguments reading one parameter
    together cover all its rows.

    Parameters
    ----------
    s0 : mygrad.Tensor, shape (N, P)
    *params : mygrad.Tensor
        The parameters present, of the kinds ``kinds`` in that order.
    kinds : tuple of str
    spec : dict of str -> (tuple of str, slice)
    blocks : dict, filled with name -> mygrad.Tensor
    """

    def __call__(self, s0, *params, kinds, spec, blocks):
        self.variables = (s0, *params)
        position = {kind: i for i, kind in enumerate(kinds)}
        self._readers = [[] for _ in params]  # per parameter: its (rows, gate argument) pairs
        for name, (sources, rows) in spec.items():
            read = [position[kind] for kind in sources]
            value = params[read[0]].data[rows].T
            for i in read[1:]:
                value = value + params[i].data[rows].T
            block = Tensor(value, constant=all(params[i].constant for i in read), copy=False)
            blocks[name] = block
            for i in read:
                self._readers[i].append((rows, block))
        return s0.data[...]

    def backward_var(self, grad, index, **kwargs):
        if index == 0:
            return grad
        param = self.variables[index]
        out = np.empty(param.shape, param.dtype)  # every row is written below
        for rows, block in self._readers[index - 1]:
            g = block.grad
            out[rows] = 0 if g is None else g.T
        return out


def _gate_arguments(params, kinds, spec, s0, shape):
    """The gate arguments of a recurrence (name -> Tensor or array) and its initial state,
    made from torch's parameters ``params`` (of ``kinds``; None for absent ones) by
    :class:`_GateBlocks` per ``spec``; ``s0`` zeros of ``shape`` when None."""
    present = [(kind, p) for kind, p in zip(kinds, params) if p is not None]
    if s0 is None:
        s0 = np.zeros(shape, np.result_type(*(p.dtype for _, p in present)))
    blocks: dict[str, Tensor] = {}
    s0 = Tensor._op(
        _GateBlocks,
        s0,
        *(p for _, p in present),
        op_kwargs=dict(kinds=tuple(kind for kind, _ in present), spec=spec, blocks=blocks),
    )
    return blocks, s0


# --------------------------------------------------------------------------- the three cells

# A math class names the parameters of one layer and direction in the order that its
# ``_recurrence`` takes them (``_kinds``) and the parts of its state (``_states``: h, and
# the LSTM's c); ``_recurrence(X, params, state0, lengths, dropout)`` takes one initial
# value or None per part and returns one (T+1, N, ·) sequence per part, h first.
_KINDS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


class _GRUMath:
    """Runs :func:`mygru.gru` on torch's GRU parameters."""

    _gates = 3
    _kinds: tuple[str, ...] = _KINDS
    _states: tuple[str, ...] = ("h",)

    def _gate_spec(self):
        """The :class:`_GateBlocks` spec of :func:`mygru.gru`'s gate arguments (torch's gate
        order r, z, n is the row blocks' order)."""
        H = self.hidden_size
        r, z, n = (slice(k * H, (k + 1) * H) for k in range(3))
        spec = {
            letter + gate: ((kind,), rows)
            for letter, kind in (("U", "weight_ih"), ("W", "weight_hh"))
            for gate, rows in (("r", r), ("z", z), ("h", n))
        }
        if self.bias:
            # the r and z gates only ever see b_i + b_h; the candidate keeps b_hn inside R ⊙ (…)
            both = ("bias_ih", "bias_hh")
            spec.update(br=(both, r), bz=(both, z), bh=(("bias_ih",), n), bhn=(("bias_hh",), n))
        return spec

    def _recurrence(self, X, params, state0, lengths, dropout):
        """``X`` (T, N, C), ``params`` = (weight_ih (3H, C), weight_hh (3H, H), bias_ih (3H,)
        or None, bias_hh (3H,) or None), ``state0`` = (s0 (N, H) or None,) -> (states (T+1, N, H),)."""
        H = self.hidden_size
        g, s0 = _gate_arguments(params, self._kinds, self._gate_spec(), state0[0], (X.shape[1], H))
        zeros = np.zeros(H, self.dtype)  # the biases, with bias=False
        s = gru(
            X,
            g["Uz"],
            g["Wz"],
            g.get("bz", zeros),
            g["Ur"],
            g["Wr"],
            g.get("br", zeros),
            g["Uh"],
            g["Wh"],
            g.get("bh", zeros),
            s0,
            dropout=dropout,
            rng=self._rng,
            reset_after=True,
            bhn=g.get("bhn"),
            lengths=lengths,
        )
        return (s,)


class _ElmanMath:
    """Runs :func:`mygru.rnn` on torch's RNN parameters."""

    _gates = 1
    _kinds: tuple[str, ...] = _KINDS
    _states: tuple[str, ...] = ("h",)

    def _gate_spec(self):
        """The :class:`_GateBlocks` spec of :func:`mygru.rnn`'s arguments: one gate, whose
        bias is the sum b_ih + b_hh."""
        every = slice(None)
        spec = {"U": (("weight_ih",), every), "W": (("weight_hh",), every)}
        if self.bias:
            spec["b"] = (("bias_ih", "bias_hh"), every)
        return spec

    def _recurrence(self, X, params, state0, lengths, dropout):
        """``X`` (T, N, C), ``params`` = (weight_ih (H, C), weight_hh (H, H), bias_ih (H,) or
        None, bias_hh (H,) or None), ``state0`` = (s0 (N, H) or None,) -> (states (T+1, N, H),)."""
        H = self.hidden_size
        g, s0 = _gate_arguments(params, self._kinds, self._gate_spec(), state0[0], (X.shape[1], H))
        s = rnn(
            X,
            g["U"],
            g["W"],
            g.get("b", np.zeros(H, self.dtype)),  # zeros with bias=False
            s0,
            dropout=dropout,
            nonlinearity=self.nonlinearity,
            rng=self._rng,
            lengths=lengths,
        )
        return (s,)


class _LSTMMath:
    """Runs :func:`mygru.lstm` on torch's LSTM parameters."""

    _gates = 4
    _kinds: tuple[str, ...] = (*_KINDS, "weight_hr")
    _states: tuple[str, ...] = ("h", "c")

    def _gate_spec(self):
        """The :class:`_GateBlocks` spec of :func:`mygru.lstm`'s gate arguments (torch's gate
        order i, f, g, o is the row blocks' order); every gate sees only b_i + b_h."""
        H = self.hidden_size
        spec = {}
        for k, gate in enumerate("ifgo"):
            rows = slice(k * H, (k + 1) * H)
            spec["U" + gate] = (("weight_ih",), rows)
            spec["W" + gate] = (("weight_hh",), rows)
            if self.bias:
                spec["b" + gate] = (("bias_ih", "bias_hh"), rows)
        if self._state_size != H:  # the projection h = (o ⊙ tanh(c)) W_hr^T
            spec["Wp"] = (("weight_hr",), slice(None))
        return spec

    def _recurrence(self, X, params, state0, lengths, dropout):
        """``X`` (T, N, C), ``params`` = (weight_ih (4H, C), weight_hh (4H, P), bias_ih (4H,)
        or None, bias_hh (4H,) or None, weight_hr (P, H) or None), ``state0`` = (s0 (N, P) or
        None, c0 (N, H) or None) -> (states (T+1, N, P), cells (T+1, N, H))."""
        s0, c0 = state0
        H = self.hidden_size
        g, s0 = _gate_arguments(params, self._kinds, self._gate_spec(), s0, (X.shape[1], self._state_size))
        zeros = np.zeros(H, self.dtype)  # the biases, with bias=False
        gates = [a for gate in "ifgo" for a in (g["U" + gate], g["W" + gate], g.get("b" + gate, zeros))]
        return lstm(
            X,
            *gates,
            s0,
            c0,
            dropout=dropout,
            rng=self._rng,
            lengths=lengths,
            Wp=g.get("Wp"),
        )


def _check_proj_size(proj_size, hidden_size):
    """torch's rule: 0 (no projection) or an int in 1..hidden_size - 1."""
    hidden_size = _check_int("hidden_size", hidden_size, 1)
    proj_size = _check_int("proj_size", proj_size, 0)
    if proj_size >= hidden_size:
        raise ValueError(
            f"proj_size must be smaller than hidden_size = {hidden_size} (or 0: no projection), got {proj_size}"
        )
    return proj_size


def _one_of(name, value, hx):
    """The initial state given as ``name`` or as torch's ``hx`` (at most one of them)."""
    if hx is None:
        return value
    if value is not None:
        raise TypeError(f"give the initial state as {name} or hx, not both")
    return hx


def _check_pair(name, value, parts):
    """The LSTM's state argument: None, or a tuple or list of two values named ``parts``;
    returns one value (or None) per part."""
    if value is None:
        return (None, None)
    spelled = f"None or a pair ({parts[0]}, {parts[1]})"
    if not isinstance(value, (tuple, list)):
        raise TypeError(f"{name} must be {spelled}, got {type(value).__name__}")
    if len(value) != 2:
        raise ValueError(f"{name} must be {spelled}, got a {type(value).__name__} of length {len(value)}")
    for k, (part, item) in enumerate(zip(parts, value)):
        if item is None:  # torch too takes both or neither
            raise TypeError(
                f"{name}[{k}] ({part}) is None: give both {parts[0]} and {parts[1]}, or {name}=None"
            )
    return tuple(value)


# --------------------------------------------------------------------------- the module base

_M = TypeVar("_M", bound="_Module")  # the class of self: train() returns the same class


class _Module:
    """Parameters under torch's names, ``state_dict``, training mode and torch interop.

    A subclass sets ``_torch_name`` (the ``torch.nn`` class it mirrors) and ``_torch_args``
    (that class's constructor arguments, which it stores as attributes of the same names),
    then calls :meth:`_create_parameters`.
    """

    _torch_name: str
    _torch_args: tuple[str, ...]
    # set by the cell's mixin (_GRUMath, _ElmanMath, _LSTMMath) with _recurrence
    _gates: int
    _kinds: tuple[str, ...]
    _states: tuple[str, ...]
    _recurrence: Callable[..., tuple[Tensor, ...]]

    input_size: int
    hidden_size: int
    bias: bool
    dtype: np.dtype
    training: bool

    if TYPE_CHECKING:  # the subclasses' constructors, for from_torch's cls(...)

        def __init__(self, *args: Any, **kwargs: Any) -> None: ...

    def _create_parameters(self, shapes, dtype, rng):
        """``shapes``: name -> shape, in torch's order; each drawn from U(-1/√H, 1/√H) as torch does."""
        self.dtype = _check_dtype(dtype)
        self._rng = _make_rng(rng)
        self.training = True
        for name, shape in shapes.items():
            setattr(self, name, mg.tensor(np.asarray(self._initial_value(name, shape), dtype=self.dtype)))
        self._shapes = shapes

    def _initial_value(self, name, shape):
        """The initial value of parameter ``name``: U(-1/√H, 1/√H), as torch's."""
        return (2.0 * self._uniform(shape) - 1.0) / math.sqrt(self.hidden_size)

    @property
    def _state_size(self):
        """P, the size of the state h: ``proj_size`` for a projected LSTM, else H."""
        return getattr(self, "proj_size", 0) or self.hidden_size

    def _direction_shapes(self, width):
        """kind -> shape of the parameters of one layer and direction that reads ``width`` features."""
        rows = self._gates * self.hidden_size
        shapes = {"weight_ih": (rows, width), "weight_hh": (rows, self._state_size)}
        if self.bias:
            shapes.update(bias_ih=(rows,), bias_hh=(rows,))
        if self._state_size != self.hidden_size:  # the LSTM's projection h = (o ⊙ tanh(c)) W_hr^T
            shapes["weight_hr"] = (self._state_size, self.hidden_size)
        return shapes

    def _part_size(self, state):
        """The size of state part ``state`` ("h" or "c") and the constructor argument that sets it."""
        name = "proj_size" if state == "h" and self._state_size != self.hidden_size else "hidden_size"
        return getattr(self, name), name

    def _uniform(self, shape):
        """U[0, 1) draws from the module's generator, or numpy's global RNG (so that
        ``np.random.seed`` reproduces a run) when there is none."""
        if self._rng is None:
            return np.random.random_sample(shape)
        return self._rng.random(shape)

    def _check_parameters(self):
        """Every parameter attribute as the module made it: a Tensor of its shape holding
        real numbers (one assigned by hand is named here, before any work)."""
        for name, shape in self._shapes.items():
            value = getattr(self, name, None)
            if not isinstance(value, Tensor):
                raise TypeError(
                    f"{name} must be a mygrad Tensor of shape {shape} (a parameter of {self!r}), "
                    f"got {type(value).__name__}: assign mg.tensor(values) or use load_state_dict"
                )
            if value.shape != shape:
                raise ValueError(
                    f"{name} must have shape {shape} (a parameter of {self!r}), got shape {value.shape}"
                )
            real_array(name, value)

    @property
    def parameters(self) -> tuple[Tensor, ...]:
        """Tuple[mygrad.Tensor, ...]: every parameter, in torch's order (that of ``state_dict``)."""
        return tuple(getattr(self, name) for name in self._shapes)

    def state_dict(self) -> dict[str, np.ndarray]:
        """The parameters as a dict of numpy arrays (copies) under torch's names, in torch's order.

        Returns
        -------
        Dict[str, numpy.ndarray]
            ``weight_ih_l{k}`` (G·H, C or dirs·H), ``weight_hh_l{k}`` (G·H, H),
            ``bias_ih_l{k}``, ``bias_hh_l{k}`` (G·H,) with ``_reverse`` for the backward
            direction (cells: no suffix); G = 3 for a GRU, 1 for an RNN.
        """
        self._check_parameters()
        return {name: np.array(getattr(self, name).data) for name in self._shapes}

    def load_state_dict(self: _M, state_dict: Mapping[str, ArrayLike]) -> _M:
        """Copies parameters from ``state_dict`` into this module's parameter Tensors.

        The Tensors stay the same objects (so an optimizer built on ``m.parameters`` keeps
        working) and take the module's dtype. Every entry is converted and checked first:
        nothing is written unless every entry fits.

        Parameters
        ----------
        state_dict : Mapping[str, array_like]
            Exactly the keys of :meth:`state_dict`, each of that key's shape: numpy arrays,
            mygrad Tensors or torch tensors (also ones that require grad).

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Naming every missing and unexpected key, or the key of a ragged or wrongly shaped
            value, or of one too large for the module's dtype (float64 1e300 into float32).
        TypeError
            If ``state_dict`` is not a mapping or a value does not hold real numbers of a
            dtype mygru computes in (see the conventions page).
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"state_dict must be a mapping of names to arrays, got {type(state_dict).__name__}"
            )
        missing = [name for name in self._shapes if name not in state_dict]
        unexpected = [name for name in state_dict if name not in self._shapes]
        if missing or unexpected:
            raise ValueError(
                f"state_dict does not fit {self!r}: missing keys {missing}, unexpected keys {unexpected}"
            )
        values = {}  # everything converted and checked before anything is written
        for name, shape in self._shapes.items():
            key = f"state_dict[{name!r}]"
            a = real_array(key, state_dict[name])
            if a.shape != shape:
                raise ValueError(f"{key} must have shape {shape}, got shape {a.shape}")
            values[name] = _cast(key, a, self.dtype)
        for name, a in values.items():
            # a fresh array rather than an in-place write: the old one may still be
            # read-only, held by a graph that mygrad has not yet released
            getattr(self, name).data = a
        return self

    def train(self: _M, mode: bool = True) -> _M:
        """Sets training mode (dropout on) or, with ``mode=False``, evaluation mode; returns self."""
        self.training = _check_flag("mode", mode)
        return self

    def eval(self: _M) -> _M:
        """Sets evaluation mode (no dropout); returns self. Same as ``train(False)``."""
        return self.train(False)

    @classmethod
    def from_torch(cls: type[_M], module: Any, *, rng: Seed = None) -> _M:
        """A module with the configuration, dtype, parameters and training mode of a torch module.

        Parameters
        ----------
        module : torch.nn.GRU, torch.nn.RNN, torch.nn.GRUCell or torch.nn.RNNCell
            The torch class of the same name as ``cls``, float32 or float64.
        rng : None, int or numpy.random.Generator, keyword-only
            The new module's source of dropout masks (see the class).

        Returns
        -------
        An instance of ``cls``.
        """
        import torch

        torch_cls = getattr(torch.nn, cls._torch_name)
        if not isinstance(module, torch_cls):
            raise TypeError(f"module must be a torch.nn.{cls._torch_name}, got {type(module).__name__}")
        dtypes = {str(p.dtype).removeprefix("torch.") for p in module.parameters()}
        if not dtypes <= {"float32", "float64"} or len(dtypes) != 1:
            raise TypeError(f"module's parameters must all be float32 or all float64, got {sorted(dtypes)}")
        args = {name: getattr(module, name) for name in cls._torch_args}
        for flag in ("bias", "batch_first", "bidirectional"):  # torch's cells take bias=1
            if flag in args:
                args[flag] = bool(args[flag])
        new = cls(**args, dtype=dtypes.pop(), rng=rng)
        new.load_state_dict(module.state_dict())
        return new.train(module.training)

    def to_torch(self) -> Any:
        """The equivalent torch module: same class name, configuration, dtype, parameters
        and training mode (on the CPU; the op's ``variational_dropout`` has no torch counterpart).

        Returns
        -------
        torch.nn.GRU, torch.nn.RNN, torch.nn.GRUCell or torch.nn.RNNCell
        """
        import torch

        torch_cls = getattr(torch.nn, self._torch_name)
        module = torch_cls(
            **{name: getattr(self, name) for name in self._torch_args}, dtype=getattr(torch, self.dtype.name)
        )
        module.load_state_dict({name: torch.from_numpy(a) for name, a in self.state_dict().items()})
        return module.train(self.training)

    def __getstate__(self) -> dict[str, Any]:
        # each parameter as a Tensor of its own, without the graph of a call not yet
        # back-propagated (mygrad's graph holds weak references, which cannot be pickled)
        state = self.__dict__.copy()
        for name in self._shapes:
            if isinstance(state.get(name), Tensor):
                state[name] = state[name].copy()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        # numpy unpickles a large array onto a bytes buffer, which mygrad's memory
        # guard cannot lock: each parameter gets memory of its own
        for name in state["_shapes"]:
            if isinstance(state.get(name), Tensor):
                state[name] = state[name].copy()
        self.__dict__.update(state)

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._torch_args)
        return f"{type(self).__name__}({args}, dtype={self.dtype.name})"


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
    ) -> None:
        self.input_size = _check_int("input_size", input_size, 1)
        self.hidden_size = _check_int("hidden_size", hidden_size, 1)
        self.num_layers = _check_int("num_layers", num_layers, 1)
        self.bias = _check_flag("bias", bias)
        self.batch_first = _check_flag("batch_first", batch_first)
        self.dropout = check_probability("dropout", dropout, "1]")
        self.bidirectional = _check_flag("bidirectional", bidirectional)
        self.variational_dropout = check_probability("variational_dropout", variational_dropout, "1)")
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
            self._check_state(f"{part}0", value, part, N, batched)
            for part, value in zip(self._states, state0)
        )
        lengths = self._check_lengths(lengths, T, N, batched)
        p, vp = (self.dropout, self.variational_dropout) if self.training else (0.0, 0.0)
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
                    inputs[direction], self._layer_params(layer, suffix), init, lengths, vp
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


class _SingleStateRecurrent(_Recurrent):
    """A stack of layers whose state is h alone (the base of :class:`GRU` and :class:`RNN`)."""

    def __call__(
        self,
        x: ArrayLike,
        h0: ArrayLike | None = None,
        lengths: ArrayLike | None = None,
        *,
        hx: ArrayLike | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Runs every layer and direction over the sequence.

        Parameters
        ----------
        x : array_like or mygrad.Tensor, shape (T, N, C), (N, T, C) with ``batch_first``, or (T, C)
            The input sequence; (T, C) is one unbatched sequence (``batch_first`` does not apply).
        h0 : None or array_like or mygrad.Tensor, shape (L·dirs, N, H), or (L·dirs, H) unbatched
            Initial state of each layer and direction (index ``layer * dirs + direction``);
            zeros when None. A non-constant Tensor gets its gradient; one whose graph a
            backward pass has released (``h_n`` of the previous batch) is read as a constant,
            as :func:`mygru.nn.detach` makes it.
        lengths : None or array_like of int, shape (N,)
            Sequence n is ``x``'s first ``lengths[n]`` steps (1..T, any order): what torch
            gives for ``pack_padded_sequence(x, lengths, enforce_sorted=False)`` and
            ``pad_packed_sequence(..., total_length=T)``. Batched input only.

        Returns
        -------
        output : mygrad.Tensor, shape (T, N, dirs·H), (N, T, dirs·H) with ``batch_first``, or (T, dirs·H)
            The last layer's states at every step, both directions side by side (forward
            first); zeros past each sequence's length.
        h_n : mygrad.Tensor, shape (L·dirs, N, H), or (L·dirs, H) unbatched
            Each layer's and direction's final state: the forward direction's at step
            ``lengths[n]``, the reverse direction's after it reached step 1.

        Other Parameters
        ----------------
        hx : keyword-only
            torch's name of ``h0``: give one or the other.
        """
        output, (h_n,) = self._run(x, (_one_of("h0", h0, hx),), lengths)
        return output, h_n


class GRU(_GRUMath, _SingleStateRecurrent):
    r"""A multi-layer gated recurrent unit: torch.nn.GRU's arguments, parameters and results.

    Every layer and direction runs, for t = 1..T, torch's equations (gate order r, z, n)::

        r_t = σ(x_t W_ir^T + b_ir + h_{t-1} W_hr^T + b_hr)
        z_t = σ(x_t W_iz^T + b_iz + h_{t-1} W_hz^T + b_hz)
        n_t = tanh(x_t W_in^T + b_in + r_t ⊙ (h_{t-1} W_hn^T + b_hn))
        h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t-1}

    as one :func:`mygru.gru` operation (``reset_after=True``): a hand-written backward,
    variable lengths inside the kernel.

    Calling ``m(x, h0=None, lengths=None)`` returns ``(output, h_n)``: see :meth:`__call__`.

    Parameters
    ----------
    input_size : int >= 1
        C, the features of each step of ``x``.
    hidden_size : int >= 1
        H, the state size of every layer and direction.
    num_layers : int >= 1
        L stacked layers; layer k > 0 reads layer k − 1's output (dirs·H features).
    bias : bool
        False: no ``bias_ih_l*`` / ``bias_hh_l*`` parameters.
    batch_first : bool
        ``x`` and ``output`` are (N, T, ·) instead of (T, N, ·); ``h0`` and ``h_n`` are not.
    dropout : float in [0, 1]
        torch's dropout: on each layer's output but the last, element-wise, training mode only.
    bidirectional : bool
        Add a reverse direction to every layer (parameters suffixed ``_reverse``).
    dtype : float32 or float64, keyword-only
        The parameters' dtype (None: float32, torch's default).
    rng : None, int or numpy.random.Generator, keyword-only
        Source of the initial values and of every dropout mask: None is numpy's global RNG
        (``np.random.seed`` reproduces a run), an int seeds one Generator for the module's life.
    variational_dropout : float in [0, 1), keyword-only
        :func:`mygru.gru`'s own ``dropout``: variational masks on the input projections,
        shared by all steps, and DropConnect on the hidden weights; new masks for every
        layer, direction and call, in training mode only. No torch counterpart.

    Attributes
    ----------
    weight_ih_l{k} : mygrad.Tensor, shape (3H, C) for k = 0, else (3H, dirs·H)
        Layer k's input weights, row blocks [W_ir; W_iz; W_in].
    weight_hh_l{k} : mygrad.Tensor, shape (3H, H)
        Layer k's hidden weights, [W_hr; W_hz; W_hn].
    bias_ih_l{k}, bias_hh_l{k} : mygrad.Tensor, shape (3H,)
        [b_ir; b_iz; b_in] and [b_hr; b_hz; b_hn] (only with ``bias=True``).
    weight_ih_l{k}_reverse, ... : mygrad.Tensor
        The same for the reverse direction (only with ``bidirectional=True``).
    parameters : Tuple[mygrad.Tensor, ...]
        All of them, in torch's order (layer by layer, forward before reverse).
    training : bool
        Set by :meth:`train` / :meth:`eval`; both dropouts act only while True.

    Examples
    --------
    >>> import numpy as np
    >>> from mygru import nn
    >>> m = nn.GRU(3, 4, num_layers=2, bidirectional=True, rng=0)
    >>> output, h_n = m(np.ones((5, 2, 3), np.float32), lengths=[5, 2])
    >>> output.shape, h_n.shape
    ((5, 2, 8), (4, 2, 4))
    >>> m.weight_ih_l1_reverse.shape
    (12, 8)
    """

    _torch_name = "GRU"
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
    ) -> None:
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
        )


class RNN(_ElmanMath, _SingleStateRecurrent):
    r"""A multi-layer Elman RNN: torch.nn.RNN's arguments, parameters and results.

    Every layer and direction runs ``h_t = f(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``,
    f = tanh or relu, as one :func:`mygru.rnn` operation.

    Calling ``m(x, h0=None, lengths=None)`` returns ``(output, h_n)``: see :meth:`__call__`.

    Parameters
    ----------
    input_size : int >= 1
        C, the features of each step of ``x``.
    hidden_size : int >= 1
        H, the state size of every layer and direction.
    num_layers : int >= 1
        L stacked layers; layer k > 0 reads layer k − 1's output (dirs·H features).
    nonlinearity : {"tanh", "relu"}
        f.
    bias, batch_first, dropout, bidirectional, dtype, rng
        As in :class:`GRU`.
    variational_dropout : float in [0, 1), keyword-only
        :func:`mygru.rnn`'s own ``dropout`` (see :class:`GRU`).

    Attributes
    ----------
    weight_ih_l{k} : mygrad.Tensor, shape (H, C) for k = 0, else (H, dirs·H)
    weight_hh_l{k} : mygrad.Tensor, shape (H, H)
    bias_ih_l{k}, bias_hh_l{k} : mygrad.Tensor, shape (H,)
        Only with ``bias=True``.
    weight_ih_l{k}_reverse, ... : mygrad.Tensor
        The same for the reverse direction (only with ``bidirectional=True``).
    parameters : Tuple[mygrad.Tensor, ...]
        All of them, in torch's order.
    training : bool
        Set by :meth:`train` / :meth:`eval`; both dropouts act only while True.

    Examples
    --------
    >>> import numpy as np
    >>> from mygru import nn
    >>> m = nn.RNN(3, 4, nonlinearity="relu", batch_first=True, rng=0)
    >>> output, h_n = m(np.ones((2, 5, 3), np.float32))
    >>> output.shape, h_n.shape
    ((2, 5, 4), (1, 2, 4))
    """

    _torch_name = "RNN"
    _torch_args = (
        "input_size",
        "hidden_size",
        "num_layers",
        "nonlinearity",
        "bias",
        "batch_first",
        "dropout",
        "bidirectional",
    )

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: Nonlinearity = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        dtype: npt.DTypeLike = np.float32,
        rng: Seed = None,
        variational_dropout: float = 0.0,
    ) -> None:
        self.nonlinearity = check_nonlinearity(nonlinearity)
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
        )


class LSTM(_LSTMMath, _Recurrent):
    r"""A multi-layer long short-term memory: torch.nn.LSTM's arguments, parameters and results.

    Every layer and direction runs, for t = 1..T, torch's equations (gate order i, f, g, o)::

        i_t = σ(x_t W_ii^T + b_ii + h_{t-1} W_hi^T + b_hi)
        f_t = σ(x_t W_if^T + b_if + h_{t-1} W_hf^T + b_hf)
        g_t = tanh(x_t W_ig^T + b_ig + h_{t-1} W_hg^T + b_hg)
        o_t = σ(x_t W_io^T + b_io + h_{t-1} W_ho^T + b_ho)
        c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
        h_t = o_t ⊙ tanh(c_t)                    (h_t = (o_t ⊙ tanh(c_t)) W_hr^T with proj_size)

    as one :func:`mygru.lstm` operation: a hand-written backward, variable lengths inside
    the kernel.

    Calling ``m(x, hx=None, lengths=None)`` returns ``(output, (h_n, c_n))``: see :meth:`__call__`.

    Parameters
    ----------
    input_size : int >= 1
        C, the features of each step of ``x``.
    hidden_size : int >= 1
        H, the size of the cell state c of every layer and direction.
    num_layers : int >= 1
        L stacked layers; layer k > 0 reads layer k − 1's output (dirs·P features).
    bias, batch_first, dropout, bidirectional
        As in :class:`GRU`.
    proj_size : int in 0..H − 1
        P, the size of h: 0 (no projection, P = H) or torch's projection ``weight_hr_l{k}``.
    dtype, rng
        As in :class:`GRU`.
    variational_dropout : float in [0, 1), keyword-only
        :func:`mygru.lstm`'s own ``dropout`` (see :class:`GRU`).

    Attributes
    ----------
    weight_ih_l{k} : mygrad.Tensor, shape (4H, C) for k = 0, else (4H, dirs·P)
        Layer k's input weights, row blocks [W_ii; W_if; W_ig; W_io].
    weight_hh_l{k} : mygrad.Tensor, shape (4H, P)
        Layer k's hidden weights, [W_hi; W_hf; W_hg; W_ho].
    bias_ih_l{k}, bias_hh_l{k} : mygrad.Tensor, shape (4H,)
        [b_ii; b_if; b_ig; b_io] and [b_hi; b_hf; b_hg; b_ho] (only with ``bias=True``).
    weight_hr_l{k} : mygrad.Tensor, shape (P, H)
        The projection (only with ``proj_size > 0``).
    weight_ih_l{k}_reverse, ... : mygrad.Tensor
        The same for the reverse direction (only with ``bidirectional=True``).
    parameters : Tuple[mygrad.Tensor, ...]
        All of them, in torch's order (layer by layer, forward before reverse).
    training : bool
        Set by :meth:`train` / :meth:`eval`; both dropouts act only while True.

    Examples
    --------
    >>> import numpy as np
    >>> from mygru import nn
    >>> m = nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2, rng=0)
    >>> output, (h_n, c_n) = m(np.ones((5, 2, 3), np.float32), lengths=[5, 2])
    >>> output.shape, h_n.shape, c_n.shape
    ((5, 2, 4), (4, 2, 2), (4, 2, 4))
    >>> m.weight_ih_l1_reverse.shape, m.weight_hr_l1_reverse.shape
    ((16, 4), (2, 4))
    """

    proj_size: int

    _torch_name = "LSTM"
    _torch_args = (
        "input_size",
        "hidden_size",
        "num_layers",
        "bias",
        "batch_first",
        "dropout",
        "bidirectional",
        "proj_size",
    )

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        *,
        dtype: npt.DTypeLike = np.float32,
        rng: Seed = None,
        variational_dropout: float = 0.0,
    ) -> None:
        self.proj_size = _check_proj_size(proj_size, hidden_size)
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
        )

    def __call__(
        self, x: ArrayLike, hx: StatePair | None = None, lengths: ArrayLike | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Runs every layer and direction over the sequence.

        Parameters
        ----------
        x : array_like or mygrad.Tensor, shape (T, N, C), (N, T, C) with ``batch_first``, or (T, C)
            The input sequence; (T, C) is one unbatched sequence (``batch_first`` does not apply).
        hx : None or the pair (h0, c0)
            The initial states of each layer and direction (index ``layer * dirs + direction``),
            a tuple or list of two; zeros when None. Non-constant Tensors get their gradients.

            - h0: array_like or mygrad.Tensor, shape (L·dirs, N, P), or (L·dirs, P) unbatched
            - c0: array_like or mygrad.Tensor, shape (L·dirs, N, H), or (L·dirs, H) unbatched
        lengths : None or array_like of int, shape (N,)
            Sequence n is ``x``'s first ``lengths[n]`` steps (1..T, any order), as in :class:`GRU`:
            torch's ``pack_padded_sequence(..., enforce_sorted=False)``. Batched input only.

        Returns
        -------
        output : mygrad.Tensor, shape (T, N, dirs·P), (N, T, dirs·P) with ``batch_first``, or (T, dirs·P)
            The last layer's h at every step, both directions side by side (forward first);
            zeros past each sequence's length.
        (h_n, c_n) : mygrad.Tensor, shapes (L·dirs, N, P) and (L·dirs, N, H), or unbatched (L·dirs, ·)
            Each layer's and direction's final h and c: the forward direction's at step
            ``lengths[n]``, the reverse direction's after it reached step 1.
        """
        output, (h_n, c_n) = self._run(x, _check_pair("hx", hx, ("h0", "c0")), lengths)
        return output, (h_n, c_n)


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
        Set by :meth:`train` / :meth:`eval`; both dropouts act only while True.

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

    def _recurrence(self, X, params, state0, lengths, dropout):
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

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._torch_args)
        return f"{type(self).__name__}({type(self.cell).__name__}(), {args}, dtype={self.dtype.name})"


# --------------------------------------------------------------------------- cells


class _Cell(_Module):
    """One recurrent step (the base of :class:`GRUCell`, :class:`RNNCell` and :class:`LSTMCell`)."""

    weight_ih: Tensor
    weight_hh: Tensor
    bias_ih: Tensor  # bias_ih and bias_hh only with bias=True
    bias_hh: Tensor

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool, *, dtype: npt.DTypeLike, rng: Seed
    ) -> None:
        self.input_size = _check_int("input_size", input_size, 1)
        self.hidden_size = _check_int("hidden_size", hidden_size, 1)
        self.bias = _check_flag("bias", bias)
        self._create_parameters(self._direction_shapes(self.input_size), dtype, rng)

    def _step(self, x, state):
        """``state``: one value (or None) per part of the state, as ``_states`` names them;
        returns the next value of every part."""
        self._check_parameters()
        a = real_array("x", x)
        if a.ndim not in (1, 2) or a.shape[-1] != self.input_size:
            raise ValueError(
                f"x must have shape (N, C) or (C,) with C = input_size = {self.input_size}, "
                f"got shape {a.shape}"
            )
        batched = a.ndim == 2
        x = as_input("x", x, a)
        X = x[None] if batched else x[None, None]  # one step: (1, N, C)
        state = tuple(self._check_state(part, value, a.shape) for part, value in zip(self._states, state))
        params = tuple(getattr(self, kind, None) for kind in self._kinds)
        states = self._recurrence(X, params, state, None, 0.0)
        return tuple(s[1] if batched else s[1, 0] for s in states)

    def _check_state(self, name, value, x_shape):
        """The state part ``name`` for input ``x`` of shape ``x_shape``, as (N, H), or None."""
        if value is None:
            return None
        b = real_array(name, value)
        batched = len(x_shape) == 2
        want = (x_shape[0], self.hidden_size) if batched else (self.hidden_size,)
        if b.shape != want:
            spelled = "(N, hidden_size)" if batched else "(hidden_size,)"
            raise ValueError(
                f"{name} must have shape {spelled} = {want} for x of shape {x_shape}, got shape {b.shape}"
            )
        value = as_input(name, value, b)
        return value if batched else value[None]


class _SingleStateCell(_Cell):
    """One step of a cell whose state is h alone (the base of :class:`GRUCell` and :class:`RNNCell`)."""

    def __call__(self, x: ArrayLike, h: ArrayLike | None = None, *, hx: ArrayLike | None = None) -> Tensor:
        """One step from state ``h`` on input ``x``.

        Parameters
        ----------
        x : array_like or mygrad.Tensor, shape (N, C), or (C,) unbatched
        h : None or array_like or mygrad.Tensor, shape (N, H), or (H,) unbatched
            The previous state; zeros when None. A non-constant Tensor gets its gradient;
            one whose graph a backward pass has released is read as a constant.

        Returns
        -------
        h' : mygrad.Tensor, shape (N, H), or (H,) unbatched

        Other Parameters
        ----------------
        hx : keyword-only
            torch's name of ``h``: give one or the other.
        """
        return self._step(x, (_one_of("h", h, hx),))[0]


class GRUCell(_GRUMath, _SingleStateCell):
    r"""One step of :class:`GRU`: torch.nn.GRUCell's arguments, parameters and results.

    ``cell(x, h)`` is torch's GRU step (gate order r, z, n) as a one-step :func:`mygru.gru`.

    Calling ``cell(x, h=None)`` returns the next state: see :meth:`__call__`.

    Parameters
    ----------
    input_size : int >= 1
        C, the features of ``x``.
    hidden_size : int >= 1
        H, the state size.
    bias : bool
        False: no ``bias_ih`` / ``bias_hh`` parameters.
    dtype : float32 or float64, keyword-only
        The parameters' dtype (None: float32, torch's default).
    rng : None, int or numpy.random.Generator, keyword-only
        Source of the initial values: None is numpy's global RNG, an int seeds a Generator.

    Attributes
    ----------
    weight_ih : mygrad.Tensor, shape (3H, C)
        Row blocks [W_ir; W_iz; W_in].
    weight_hh : mygrad.Tensor, shape (3H, H)
        [W_hr; W_hz; W_hn].
    bias_ih, bias_hh : mygrad.Tensor, shape (3H,)
        Only with ``bias=True``.
    parameters : Tuple[mygrad.Tensor, ...]
        All of them, in torch's order.

    Examples
    --------
    >>> import numpy as np
    >>> from mygru import nn
    >>> cell = nn.GRUCell(3, 4, rng=0)
    >>> h = cell(np.ones((2, 3), np.float32))
    >>> cell(np.ones((2, 3), np.float32), h).shape
    (2, 4)
    """

    _torch_name = "GRUCell"
    _torch_args = ("input_size", "hidden_size", "bias")

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        dtype: npt.DTypeLike = np.float32,
        rng: Seed = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, dtype=dtype, rng=rng)


class RNNCell(_ElmanMath, _SingleStateCell):
    r"""One step of :class:`RNN`: torch.nn.RNNCell's arguments, parameters and results.

    ``cell(x, h) = f(x W_ih^T + b_ih + h W_hh^T + b_hh)`` as a one-step :func:`mygru.rnn`.

    Parameters
    ----------
    input_size, hidden_size, bias, dtype, rng
        As in :class:`GRUCell`.
    nonlinearity : {"tanh", "relu"}
        f.

    Attributes
    ----------
    weight_ih : mygrad.Tensor, shape (H, C)
    weight_hh : mygrad.Tensor, shape (H, H)
    bias_ih, bias_hh : mygrad.Tensor, shape (H,)
        Only with ``bias=True``.
    parameters : Tuple[mygrad.Tensor, ...]
        All of them, in torch's order.

    Examples
    --------
    >>> import numpy as np
    >>> from mygru import nn
    >>> nn.RNNCell(3, 4, nonlinearity="relu", rng=0)(np.ones(3, np.float32)).shape
    (4,)
    """

    _torch_name = "RNNCell"
    _torch_args = ("input_size", "hidden_size", "bias", "nonlinearity")

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: Nonlinearity = "tanh",
        *,
        dtype: npt.DTypeLike = np.float32,
        rng: Seed = None,
    ) -> None:
        self.nonlinearity = check_nonlinearity(nonlinearity)
        super().__init__(input_size, hidden_size, bias, dtype=dtype, rng=rng)


class LSTMCell(_LSTMMath, _Cell):
    r"""One step of :class:`LSTM`: torch.nn.LSTMCell's arguments, parameters and results.

    ``cell(x, (h, c))`` is torch's LSTM step (gate order i, f, g, o) as a one-step
    :func:`mygru.lstm`::

        i, f, g, o = σ(·), σ(·), tanh(·), σ(·) of x W_i*^T + b_i* + h W_h*^T + b_h*
        c' = f ⊙ c + i ⊙ g        h' = o ⊙ tanh(c')

    Calling ``cell(x, hx=None)`` returns the next pair ``(h, c)``: see :meth:`__call__`.

    Parameters
    ----------
    input_size, hidden_size, bias, dtype, rng
        As in :class:`GRUCell`.

    Attributes
    ----------
    weight_ih : mygrad.Tensor, shape (4H, C)
        Row blocks [W_ii; W_if; W_ig; W_io].
    weight_hh : mygrad.Tensor, shape (4H, H)
        [W_hi; W_hf; W_hg; W_ho].
    bias_ih, bias_hh : mygrad.Tensor, shape (4H,)
        Only with ``bias=True``.
    parameters : Tuple[mygrad.Tensor, ...]
        All of them, in torch's order.

    Examples
    --------
    >>> import numpy as np
    >>> from mygru import nn
    >>> cell = nn.LSTMCell(3, 4, rng=0)
    >>> h, c = cell(np.ones((2, 3), np.float32))
    >>> [a.shape for a in cell(np.ones((2, 3), np.float32), (h, c))]
    [(2, 4), (2, 4)]
    """

    _torch_name = "LSTMCell"
    _torch_args = ("input_size", "hidden_size", "bias")

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        dtype: npt.DTypeLike = np.float32,
        rng: Seed = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, dtype=dtype, rng=rng)

    def __call__(self, x: ArrayLike, hx: StatePair | None = None) -> tuple[Tensor, Tensor]:
        """One step from the state ``hx = (h, c)`` on input ``x``.

        Parameters
        ----------
        x : array_like or mygrad.Tensor, shape (N, C), or (C,) unbatched
        hx : None or the pair (h, c)
            A tuple or list of two: h and c, each array_like or mygrad.Tensor of shape
            (N, H), or (H,) unbatched; zeros when None. Non-constant Tensors get their gradients.

        Returns
        -------
        (h', c') : mygrad.Tensor, each of shape (N, H), or (H,) unbatched
        """
        return self._step(x, _check_pair("hx", hx, ("h", "c")))
