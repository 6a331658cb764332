"""``mygru.recurrence``: any :class:`mygru.Cell` as one mygrad operation."""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Integral
from typing import Any

import numpy as np

from .._kernels.cell import CellKernel, check_step, check_step_backward
from .._typing import ArrayLike, Seed
from ..cell import Cell
from ._base import (
    Checked,
    RecurrentOp,
    apply,
    real_array,
)

__all__ = ["RecurrenceOp", "recurrence"]


def _names(cell, attr, *, empty_ok):
    """``cell.<attr>``: a tuple of distinct str."""
    value = getattr(cell, attr)
    owner = type(cell).__name__
    if not isinstance(value, tuple) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{owner}.{attr} must be a tuple of str, got {value!r}")
    if len(set(value)) < len(value):
        raise ValueError(f"{owner}.{attr} must not repeat a name, got {value!r}")
    if not value and not empty_ok:
        raise ValueError(f"{owner}.{attr} must name at least one {attr[:-1] if attr != 'state' else 'part'}")
    return value


def check_cell_class(cell):
    """The class attributes of ``cell`` (a :class:`mygru.Cell` instance): gates, weights,
    state, bias and dropconnect, each of the right kind and with no clash of names.
    Returns (gates, weights, state, parameter names)."""
    if isinstance(cell, type):
        raise TypeError(
            f"cell must be a mygru.Cell instance, got the class {cell.__name__}: call it, {cell.__name__}()"
        )
    if not isinstance(cell, Cell):
        raise TypeError(f"cell must be an instance of a mygru.Cell subclass, got {type(cell).__name__}")
    owner = type(cell).__name__
    gates = _names(cell, "gates", empty_ok=False)
    weights = _names(cell, "weights", empty_ok=True)
    state = _names(cell, "state", empty_ok=False)
    if not isinstance(cell.bias, bool):
        raise TypeError(f"{owner}.bias must be True or False, got {cell.bias!r}")
    inputs = [f"U{g}" for g in gates] + ([f"b{g}" for g in gates] if cell.bias else [])
    for w in weights:
        if w in inputs or w == "X" or w.startswith("s0") or (w[:1] in "Ub" and w[1:] in gates):
            raise ValueError(
                f"{owner}.weights must not use the name {w!r}: it is an input projection's parameter "
                f"(U{{g}}, b{{g}} for the gates {gates}), X or an initial state"
            )
    if cell.dropconnect is not None:
        drop = _names(cell, "dropconnect", empty_ok=True)
        unknown = [w for w in drop if w not in weights]
        if unknown:
            raise ValueError(
                f"{owner}.dropconnect names {unknown[0]!r}, which is not one of its weights {weights}"
            )
    return gates, weights, state, inputs + list(weights)


def check_param_names(cell, params, expected):
    """``params`` (a mapping) holds exactly the ``expected`` names of ``cell``'s parameters."""
    owner = type(cell).__name__
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict from parameter names to arrays, got {type(params).__name__}")
    missing = [k for k in expected if k not in params]
    if missing:
        raise ValueError(f"params has no {missing[0]!r}: {owner} takes {tuple(expected)}")
    extra = [k for k in params if k not in expected]
    if extra:
        raise ValueError(f"params has {extra[0]!r}, which {owner} does not take (it takes {tuple(expected)})")


class _CellChecked(Checked):
    """The validated arguments of one :func:`recurrence` call (see :class:`Checked`)."""

    def __init__(self, cell, X, params, s0, *, bp_lim, dropout, constant, rng, lengths, zoneout, training):
        gates, weights, state, expected = check_cell_class(cell)
        self.cell = cell
        self.inputs, self.arrays, self.tracked = {}, {}, False
        x = self.add("X", X)
        if x.ndim != 3:
            raise ValueError(f"X must have shape (T, N, C), got shape {x.shape}")
        self.T, self.N, self.C = x.shape
        check_param_names(cell, params, expected)
        first = f"U{gates[0]}"
        u = real_array(first, params[first])
        if u.ndim != 2 or u.shape[0] != self.C:
            raise ValueError(f"{first} must have shape (C, D) with C = {self.C} from X, got shape {u.shape}")
        self.D = self.P = u.shape[1]
        if not self.D:
            raise ValueError(f"{first} must have at least one column (D >= 1), got shape {u.shape}")
        sizes = {"C": self.C, "D": self.D, "N": self.N}
        why = {"C": "C from X", "D": f"D from {first}", "N": "N from X"}
        for name in expected[: len(expected) - len(weights)]:
            if name[0] == "U":
                self.add(name, params[name], (self.C, self.D), ("C", "D"), sizes, why)
            else:
                self.add(name, params[name], (self.D,), ("D",), sizes, why)
        for name in weights:
            self.add(name, params[name])
        self.widths = check_widths(cell, self.D, {w: self.arrays[w] for w in weights})
        self.state_names = ("s0",) if len(state) == 1 else tuple(f"s0[{k}]" for k in range(len(state)))
        for name, part, value, w in zip(self.state_names, state, _state_values(s0, state), self.widths):
            if value is not None:
                spelled = "N, D" if w == self.D else f"N, {w}"
                sizes["W"], why["W"] = w, f"the width of the part {part!r}"
                letters = ("N", "D") if w == self.D else ("N", "W")
                try:
                    self.add(name, value, (self.N, w), letters, sizes, why)
                except ValueError as e:
                    raise ValueError(f"{e} (s0 part {part!r}: ({spelled}))") from None
        self.every = ("X", *expected, *self.state_names)  # every argument, in order
        self.options(bp_lim, dropout, constant, rng, lengths, zoneout, training, state)
        drop = cell.dropconnect
        if drop is None:
            drop = tuple(w for w in weights if self.arrays[w].ndim == 2)
        self.mask_shapes = {f"U{g}": (self.N, self.D) for g in gates}
        self.mask_shapes.update({w: self.arrays[w].shape for w in drop})

    def every_name(self, op):
        return self.every

    def draw_masks(self, op):
        return self.masks(tuple(self.mask_shapes), self.mask_shapes)

    def zeros(self, name):
        """An initial state part left out: zeros (N, width) in the compute dtype."""
        return np.zeros((self.N, self.widths[self.state_names.index(name)]), self.dtype)


def _state_values(s0, state):
    """s0 as one value (or None) per state part."""
    if len(state) == 1:
        return (s0,)
    if s0 is None:
        return (None,) * len(state)
    if not isinstance(s0, (tuple, list)) or len(s0) != len(state):
        raise TypeError(
            f"s0 must be None or a tuple of {len(state)} initial states, one per part of {state} "
            f"(each None or an array), got {type(s0).__name__}"
        )
    return tuple(s0)


def check_widths(cell, D, weights):
    """``cell.widths(D, weights)``, checked: a tuple of ints >= 1, one per state part."""
    owner = type(cell).__name__
    widths = cell.widths(D, weights)
    if (
        not isinstance(widths, tuple)
        or len(widths) != len(cell.state)
        or not all(isinstance(w, Integral) and not isinstance(w, bool) and w >= 1 for w in widths)
    ):
        raise TypeError(
            f"{owner}.widths(D, p) must return a tuple of {len(cell.state)} ints >= 1, one per part of "
            f"{cell.state}, got {widths!r}"
        )
    return tuple(int(w) for w in widths)


# the cells whose step and step_backward have been tried: (class, instance attributes,
# dtype and sizes) of each, so that a new instance of a cell class tried before, with the
# same settings, is not tried again (a module or a loop may make one per call)
_PROBED: set = set()


def try_cell(cell, p, D, widths, dtype):
    """Run ``cell.step`` and ``cell.step_backward`` once on a few rows of made-up values
    and check what they return (shapes, the cache, a gradient for every gate and weight),
    so that a bad cell fails by name before any work. ``p``: the weights in ``dtype``."""
    # more rows than any size of a weight, so that a weight in the cache is caught
    n = 1 + max([D, *widths, *(d for a in p.values() for d in a.shape)])
    rng = np.random.default_rng(0)
    a = {g: rng.uniform(-0.5, 0.5, (n, D)).astype(dtype) for g in cell.gates}
    parts = tuple(rng.uniform(-0.5, 0.5, (n, w)).astype(dtype) for w in widths)
    one = len(widths) == 1
    with np.errstate(all="ignore"):
        _, cache = check_step(cell, cell.step(p, a, parts[0] if one else parts), n, widths)
        ds = tuple(rng.uniform(-0.5, 0.5, (n, w)).astype(dtype) for w in widths)
        result = cell.step_backward(p, ds[0] if one else ds, cache)
    check_step_backward(cell, result, n, D, widths, p)


def _probe(checked):
    """:func:`try_cell` once per cell class, instance attributes, dtype and set of sizes
    (every call for a cell whose attributes cannot be hashed)."""
    cell, D, dtype, widths = checked.cell, checked.D, checked.dtype, checked.widths
    shapes = tuple((w, checked.arrays[w].shape) for w in cell.weights)
    try:
        key = (type(cell), tuple(sorted(vars(cell).items())), D, widths, dtype, shapes)
        hash(key)
    except TypeError:
        key = None
    if key is not None and key in _PROBED:
        return
    try_cell(cell, {w: checked.arrays[w].astype(dtype) for w in cell.weights}, D, widths, dtype)
    if key is not None:
        if len(_PROBED) > 4096:  # (a bound on what a long session can add)
            _PROBED.clear()
        _PROBED.add(key)


class RecurrenceOp(RecurrentOp):
    """The operation behind :func:`recurrence`; ``.creator`` of its first output.

    Attributes
    ----------
    dropout_masks : None or dict of ndarray
        The masks this call drew (None without dropout): ``"U" + g`` (N, D) for each
        gate's input projection, and each DropConnect weight's name (that weight's shape);
        values 0 or 1/(1 − p). Read them before ``backward``.
    bp_lim : None or int
        The truncation this call's backward uses.
    zoneout_masks : None or tuple of ndarray
        Zoneout's masks while training, one (T, N, width) array per state part (1 where a
        unit keeps its previous value); None without zoneout or out of training.
    """

    dropout_masks: dict[str, np.ndarray] | None  # type: ignore[assignment]  # a dict here
    names: tuple[str, ...] = ()

    def __call__(self, *variables, checked, **kwargs):
        self.state_names = checked.state_names
        self._weights = frozenset(checked.cell.weights)
        return super().__call__(*variables, checked=checked, **kwargs)

    def _expose(self, masks):
        return dict(masks)

    def _need(self):
        need = set()
        for name, v in zip(self.names, self.variables):
            if not v._constant:
                need.add(name if name in self._weights or name == "X" or name.startswith("s0") else name[0])
        return need


def _build(X, params, s0, masks, lengths, *, cell):
    """The kernel of one call, from the named arrays."""
    masks = masks or {}
    D = params[f"U{cell.gates[0]}"].shape[1]
    U = np.concatenate([params[f"U{g}"] for g in cell.gates], axis=1)
    if cell.bias:
        b = np.concatenate([params[f"b{g}"] for g in cell.gates])
    else:
        b = np.zeros(len(cell.gates) * D, U.dtype)
    mask_U = np.concatenate([masks[f"U{g}"] for g in cell.gates], axis=1) if masks else None
    weights = {w: params[w] for w in cell.weights}
    weight_masks = {w: m for w, m in masks.items() if w in weights}
    return CellKernel(X, U, b, s0, mask_U, lengths, cell=cell, weights=weights, weight_masks=weight_masks)


class _Kernel:
    """What :class:`RecurrentOp` calls ``kernel.build`` on."""

    build = staticmethod(_build)


def recurrence(
    cell: Cell,
    X: ArrayLike,
    params: Mapping[str, ArrayLike],
    s0: Any = None,
    bp_lim: int | None = None,
    dropout: float = 0.0,
    constant: bool | None = None,
    *,
    rng: Seed = None,
    lengths: ArrayLike | None = None,
    zoneout: float | tuple[float, ...] = 0.0,
    training: bool = True,
) -> Any:
    r"""Runs any :class:`mygru.Cell` over a sequence as one mygrad operation.

    The cell's :meth:`~mygru.Cell.step` and :meth:`~mygru.Cell.step_backward` on the
    drivers of :func:`mygru.gru`: the input projections of all steps in one product,
    truncated back-propagation through time, dropout, variable lengths, gradients for the
    initial state, and ``.grad`` of every state after ``backward``.

    .. math::

        A^g_t = X_t U_g + b_g \ \text{(every gate } g\text{)}, \qquad
        S_t = \mathrm{cell}(A_t, S_{t-1})

    Parameters
    ----------
    cell : mygru.Cell
        The cell (an instance of a subclass).
    X : array_like, shape (T, N, C)
        The input sequence.
    params : dict of array_like
        ``"U" + g`` (C, D) and, with ``cell.bias``, ``"b" + g`` (D,) for every gate ``g``
        of ``cell.gates``, and every weight of ``cell.weights`` (any shapes). A
        non-constant Tensor gets a gradient.
    s0 : None, array_like (N, width), or a tuple of them (one per state part)
        The initial state; zeros when None (also per part). A non-constant Tensor gets a
        gradient.
    bp_lim, dropout, constant, rng, lengths
        As in :func:`mygru.gru`. ``dropout`` masks each gate's input projection with one
        (N, D) mask shared by all steps and each weight of ``cell.dropconnect`` (default:
        the 2-D weights) with a mask of its shape; the masks are
        ``.creator.dropout_masks``, a dict by parameter name. With ``lengths`` a finished
        sequence keeps every part of its state.
    zoneout, training : keyword-only
        As in :func:`mygru.gru`: a rate for every state part, or a tuple of one per part.

    Returns
    -------
    s : mygrad.Tensor, shape (T+1, N, width), or a tuple of them (one per state part)
        ``s[0]`` is the initial state and ``s[t]`` is S_t. After ``backward`` the ``.grad``
        of every part holds the gradient of the loss with respect to that part of every
        state (step 0 included, within the bp_lim windows): what reaches it from the loss
        and from the cells after t.

    Raises
    ------
    TypeError, ValueError
        Before any work, naming the argument, or the cell's attribute or method, that is
        wrong: the cell's ``step`` and ``step_backward`` are tried on a few rows the first
        time a cell is used with a dtype and set of sizes.

    Examples
    --------
    >>> import mygrad as mg, numpy as np, mygru
    >>> class Elman(mygru.Cell):
    ...     gates, weights = ("",), ("W",)  # S_t = tanh(X_t U + b + S_{t-1} W)
    ...     def step(self, p, a, s):
    ...         s_new = np.tanh(a[""] + s @ p["W"])
    ...         return s_new, (s, s_new)
    ...     def step_backward(self, p, ds, cache):
    ...         s, s_new = cache
    ...         da = ds * (1 - s_new**2)
    ...         return {"": da}, da @ p["W"].T, {"W": s.T @ da}
    >>> rng = np.random.default_rng(0)
    >>> U, W = mg.tensor(rng.normal(size=(3, 4))), mg.tensor(rng.normal(size=(4, 4)))
    >>> params = {"U": U, "b": mg.zeros(4), "W": W}
    >>> s = mygru.recurrence(Elman(), rng.normal(size=(5, 2, 3)), params, bp_lim=2)
    >>> s.shape
    (6, 2, 4)
    >>> s[-1].sum().backward()
    >>> W.grad.shape
    (4, 4)
    """
    checked = _CellChecked(
        cell,
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
    _probe(checked)
    return apply(RecurrenceOp, checked, constant, kernel=_Kernel, cell=cell)
