"""The modules' own mygrad operations between the recurrences (reversal within lengths,
batch order, joining directions, final states, torch's parameters as gate arguments)."""

from __future__ import annotations

import numpy as np
from mygrad import Tensor
from mygrad._utils import SkipGradient
from mygrad.operation_base import Operation

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
