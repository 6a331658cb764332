"""What every module shares: argument checks and :class:`_Module` (parameters as Tensor
attributes, ``state_dict``, training mode, torch interop, pickling)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import mygrad as mg
import numpy as np
from mygrad import Tensor

from .._typing import ArrayLike, Seed
from ..ops._base import (
    check_rng,
    own_memory,
    real_array,
    unlockable_message,
)

# --------------------------------------------------------------------------- checks


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
            if not own_memory(value.data):
                raise TypeError(unlockable_message(name))

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
