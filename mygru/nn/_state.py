"""``detach``: a state carried from one batch to the next, cut from the graph that made it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import overload

import numpy as np
from mygrad import Tensor

__all__ = ["detach"]

State = Tensor | np.ndarray


@overload
def detach(state: State) -> Tensor: ...
@overload
def detach(state: tuple[State, State]) -> tuple[Tensor, Tensor]: ...
@overload
def detach(state: Sequence[State]) -> tuple[Tensor, ...]: ...
def detach(state: State | Sequence[State]) -> Tensor | tuple[Tensor, ...]:
    """A constant copy of a state: torch's ``h.detach()``, for mygrad Tensors.

    Carrying the state across batches (truncated back-propagation through a long text)
    feeds the last state of one batch into the next call. Detached, it is a constant
    starting value: the next backward stops there, and the previous batch's graph can
    be freed. (A state whose graph a backward has already released is read as a
    constant anyway; ``detach`` says so in the code and cuts a graph that is still live.)

    Parameters
    ----------
    state : mygrad.Tensor or numpy.ndarray, or a tuple or list of them
        ``h_n`` of a :class:`GRU` or :class:`RNN`, the pair ``(h_n, c_n)`` of an
        :class:`LSTM`, a cell's ``h`` or ``(h, c)``, or any Tensor.

    Returns
    -------
    mygrad.Tensor, or a tuple of them
        Constant Tensors holding copies of the values, without a graph; a tuple for a
        tuple or list, in the same order.

    Raises
    ------
    TypeError
        If ``state`` (or an element of it) is not a Tensor or an array.

    Examples
    --------
    >>> import numpy as np
    >>> from mygru import nn
    >>> m = nn.LSTM(3, 4, rng=0)
    >>> output, (h, c) = m(np.ones((5, 2, 3), np.float32))
    >>> h, c = nn.detach((h, c))
    >>> h.constant, h.creator is None, c.shape
    (True, True, (1, 2, 4))
    """
    return _detach("state", state)


def _detach(name, state):
    if isinstance(state, (tuple, list)):
        return tuple(_detach(f"{name}[{k}]", part) for k, part in enumerate(state))
    if isinstance(state, Tensor):
        return Tensor(state.data, constant=True, copy=True)
    if isinstance(state, np.ndarray):
        return Tensor(state, constant=True, copy=True)
    raise TypeError(
        f"{name} must be a mygrad Tensor, a numpy array or a tuple or list of them, got {type(state).__name__}"
    )
