"""The torch-compatible modules: :class:`GRU`, :class:`RNN`, :class:`LSTM` and their cells.

A module holds torch's parameters and maps them, once per call, onto the arguments of
:func:`mygru.gru` (``reset_after=True``, PyTorch's formulation), :func:`mygru.rnn` or
:func:`mygru.lstm`; the recurrences themselves, variable lengths included, run inside
those operations. The sequence modules run the layers of :mod:`mygru.nn.recurrent`.

Notation: T steps, a batch of N, C = ``input_size``, H = ``hidden_size``, P = the size of
the state h (``proj_size`` for a projected LSTM, else H), L = ``num_layers``, dirs = 2 if
``bidirectional`` else 1.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from mygrad import Tensor

from .._typing import ArrayLike, Nonlinearity, Seed
from ..ops import gru, lstm, rnn
from ..ops._base import (
    as_input,
    check_nonlinearity,
    real_array,
)
from ..ops._base import check_int as _check_int
from ._glue import _gate_arguments
from ._module import _check_flag, _Module
from .recurrent import _Recurrent

__all__ = ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNCell"]

# the LSTM's state argument: (h, c), also as a list of two, as torch takes it
StatePair = tuple[ArrayLike, ArrayLike] | list[ArrayLike]

# --------------------------------------------------------------------------- the three cells

# A math class names the parameters of one layer and direction in the order that its
# ``_recurrence`` takes them (``_kinds``) and the parts of its state (``_states``: h, and
# the LSTM's c); ``_recurrence(X, params, state0, lengths, dropout, zone)`` takes one initial
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

    def _recurrence(self, X, params, state0, lengths, dropout, zone=None):
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
            **(zone or {}),
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

    def _recurrence(self, X, params, state0, lengths, dropout, zone=None):
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
            **(zone or {}),
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

    def _recurrence(self, X, params, state0, lengths, dropout, zone=None):
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
            **(zone or {}),
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
    zoneout : float in [0, 1), or one per state part, keyword-only
        Zoneout on every layer and direction, in training mode (its expectation in
        evaluation mode): see :func:`mygru.gru`.

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
        zoneout: float | tuple[float, ...] = 0.0,
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
            zoneout=zoneout,
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
    zoneout : float in [0, 1), or one per state part, keyword-only
        Zoneout on every layer and direction, in training mode (its expectation in
        evaluation mode): see :func:`mygru.gru`.

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
        zoneout: float | tuple[float, ...] = 0.0,
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
            zoneout=zoneout,
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
    zoneout : float in [0, 1), or one per state part, keyword-only
        Zoneout on every layer and direction, in training mode (its expectation in
        evaluation mode): see :func:`mygru.gru`.

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
        zoneout: float | tuple[float, ...] = 0.0,
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
            zoneout=zoneout,
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
