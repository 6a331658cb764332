"""Machinery shared by every recurrence: input projection, the time loop, the
truncation driver and the whole-sequence gradient products.

Pure numpy; nothing here knows about mygrad. A recurrence (see ``gru.py`` and
``rnn.py``) subclasses :class:`Recurrence` and supplies only its cell:

- ``forward_cell(rows)``: the forward of one cell as ``(step, arrays)``, for the first
  ``rows`` rows of the batch (N, or fewer with ``lengths``, see below). The loop calls
  ``step(Sp, S, *views)`` for cell t (t = 1..T, block ``i = t - 1`` of every per-step
  array) with ``Sp`` = S_{t-1}, ``S`` = S_t (to be written; one argument per state part,
  see below) and
  ``views`` the cell's rows of ``arrays`` (the input pre-activations of cell t, which it
  overwrites with what its backward needs), each cut to its first ``rows`` rows: a
  per-step array (2-D, packed, see below) gives its block i, a view of the states
  (3-D, (T, N, ·)) its row i, and a list its item i.
  ``step`` is a closure over this call's operands and work arrays (``step_scratch``),
  so a step is its numpy calls and little else: at the tiny size the calls and the
  Python around them are the cost;
- ``prepare_backward()``: once, when the backward starts (work arrays, weights
  in the form the backward multiplies by);
- ``coefficients(cells)``: for a block of cells (a slice) at once, the factors
  of the cell's Jacobian that do not depend on the incoming gradient (a few
  vectorized numpy calls per block instead of many small ones per step), over the
  cells' rows of the per-step arrays (``span``) and of ``Sp``, the states S_{t-1}
  in the same packed layout. The full BPTT loop asks for them a chunk of cells at a
  time (``chunks``), just before it needs them, so they are still in cache and their
  work arrays are small; truncated BPTT asks for all cells at once;
- ``backward_cell(cells, out, rows)``: the backward of one cell as ``(back,
  arrays)``, for the ``cells`` (a slice) whose factors ``coefficients`` made last.
  ``arrays`` are the cells' rows (``span``) of factors, cached values and the blocks
  of ``out`` that receive the gradients (``out`` may be ``G`` itself, whose blocks
  overwrite the factors: each is read before it is overwritten).
  ``back(*dS, *prev, *views)`` (one dS and one prev per state part) takes 2-D views of
  ``rows`` rows: one cell's rows of ``arrays`` (the sequential loop, which cuts them
  cell by cell) or all of them (truncated BPTT, a block of cells in one go). Given
  ``dS``, dL/dS at the states those rows produce (only what reaches them through the
  cells themselves), it writes the gradients of the cells' pre-activations and, when
  ``prev`` is given (not None), dL/dS at the states the rows read into ``prev``;
- ``finish(cells, need)``: after ``back`` has run over a block of cells, what
  must be taken from it before later blocks overwrite it (the GRU's dWh);
- ``weight_grads(need)``: the recurrent weight gradients from ``G``.

Every per-step array is packed, as torch's packed sequences are: a 2-D array whose
block i, rows ``offsets[i]:offsets[i + 1]``, holds the ``counts[i]`` rows cell i + 1 works
on (``span`` cuts the rows of a slice of cells). Without ``lengths`` every count is N and
the packed array is the padded (T, N, ·) one, flattened. With ``lengths`` the kernel sorts
the batch once, longest sequence first (``order``), and works in that order throughout:
cell t touches only the first ``counts[t - 1]`` rows, the sequences still running, and
the per-step arrays hold only those rows, so the input projections, the factors and the
whole-sequence products run over Σ lengths rows, not T·N. The cells come in runs with
the same count (``segments``). The states ``S`` and their gradients ``dS`` stay padded
(T+1, N, width): the finished sequences' states repeat (copied once per run) and their
state gradients pass straight back (one call per cell); the backward reads S_{t-1} in
the packed layout (``Sp``, gathered once). ``forward`` returns the states, and
``backward`` dS and dX, in the caller's order.

The state is made of parts (``widths``: one per part), each its own contiguous array
``S[k]`` (T+1, N, width_k): for the GRU and the Elman cell one part of width D; the LSTM's
h (width P) and c (width D). The loop passes a step the parts of S_{t-1} and then those of
S_t (``step(*Sp, *S, *views)``), and a backward step the parts of dS and then the arrays
that receive the parts of dS_{t-1} (``back(*dS, *prev, *views)``; all None when not
wanted). The drivers never look inside a state: they only need the cell's map from
dL/dS_t to dL/dS_{t-1} to be linear, which holds for every cell.

``G`` is a tuple of per-step arrays of shape (R, w*D), w gates each (R = Σ counts): the pre-activation gradients
split into blocks so that every block a step reads or writes as a whole is
contiguous at that step (for the GRU: the candidate's, and the two gates'
side by side).

Notation (the docs' page on the kernels uses the same): ``T`` steps, batch ``N``,
``C`` input features, ``D`` hidden units, ``ng`` gate blocks (3 for the GRU, 1 for the
Elman RNN, 4 for the LSTM), ``P`` the width of the state the recurrent weights read
(D, or the LSTM's projection size), ``J`` cells in a chunk, ``R`` rows of a per-step
array (T·N without ``lengths``); cell t = 1..T reads S_{t-1} and writes S_t, and block
``i = t - 1`` of every per-step array is its.
"""

import contextlib
import functools
import itertools
from itertools import repeat

import numpy as np

from .workspace import aligned_empty, workspace

__all__ = ["Recurrence", "sigmoid_negated", "sigmoid_negated_loop", "unflat"]


# per dtype: the largest argument whose exponential is finite (with a margin), 1
_SIGMOID = {
    np.dtype(t): (np.array(limit, t), np.array(1, t))
    for t, limit in ((np.float32, 88.7), (np.float64, 709.7))
}


def sigmoid_negated(m, out):
    """σ(x) = 1 / (1 + exp(−x)) from ``m`` = −x, written into ``out`` (which may be ``m``).

    Within 3 ulps of the exact value in both tails, float32 and float64 alike (against
    mpmath, tests/test_sigmoid.py), wherever σ(x) is a normal number. exp(−x) is taken of
    min(−x, 88.7) (float32; 709.7 in float64), so it never overflows and no input raises
    a RuntimeWarning: below x = −88.7 the result stays at σ(−88.7) ≈ 3.0e−39 (6.0e−309),
    a subnormal number, instead of falling further to 0. The kernels compute the sigmoid
    gates' pre-activations already negated (their recurrent weights are negated once per
    call and their input projections taken as −b − X U, which is exact in floating point,
    as is every sum and product of negated numbers), so the formula needs no
    multiplication: four ufunc calls, no temporary array. The forward loops call
    :func:`sigmoid_negated_loop`, the same without the clamp."""
    limit, one = _SIGMOID[out.dtype]
    np.minimum(m, limit, out=out)
    np.exp(out, out)
    np.add(out, one, out)
    np.divide(one, out, out)
    return out


def sigmoid_negated_loop(m, out):
    """:func:`sigmoid_negated` as the forward loops call it, inside
    ``np.errstate(over="ignore")`` (``Recurrence.forward``): without the clamp, three
    ufunc calls instead of four. The same numbers wherever σ(x) is a normal number
    (tests/test_sigmoid.py); they differ only where it is subnormal: below x ≈ −88.72
    (float32; −709.78 in float64) exp(−x) overflows to inf, silently, and the gate is 0
    instead of the clamped form's σ(−88.7) ≈ 3.0e−39."""
    one = _SIGMOID[out.dtype][1]
    np.exp(m, out)
    np.add(out, one, out)
    np.divide(one, out, out)
    return out


@functools.lru_cache(maxsize=64)
def _gate_scales(gates, negated, D, dtype):
    """Per column of a side-by-side array of ``gates``: −1 for the ``negated`` gates, else 1
    (read-only: one array per shape, shared by every call)."""
    scales = np.repeat([-1.0 if g and g in negated else 1.0 for g in gates], D).astype(dtype)
    scales.flags.writeable = False
    return scales


@functools.lru_cache(maxsize=16)
def _block_signs(blocks, gates, negated):
    """Per block of ``blocks`` (name, first gate, end gate) of ``gates``: True if all its
    gates are ``negated``, False if none is, None if some are."""
    out = []
    for _name, g0, g1 in blocks:
        flags = {bool(g) and g in negated for g in gates[g0:g1]}
        out.append(flags.pop() if len(flags) == 1 else None)
    return tuple(out)


def unflat(a, cells, rows):
    """A packed array's span ``a`` (cells·rows, ...) as (cells, rows, ...), one row of
    ``rows`` per cell: always a view (splitting the first axis never needs a copy, for
    any strides), so what is written into it lands in ``a``."""
    return a.reshape((cells, rows) + a.shape[1:])


class Recurrence:
    """Forward and backward of ``S_t = cell(X_t, S_{t-1})`` over a sequence.

    Parameters
    ----------
    X : ndarray, shape (T, N, C)
    U : ndarray, shape (C, ng*D)
        Input weights of all gates side by side, in the cell's order.
    b : ndarray, shape (ng*D,)
        Biases of the input pre-activations, same order.
    W : None or ndarray, shape (P, ng*D)
        Recurrent weights side by side, in the order the cell multiplies them (None for
        a cell that keeps its weights itself).
    s0 : tuple of ndarray, one (N, width) per state part
        The initial state.
    mask_U : None or ndarray, shape (N, ng*D)
        Dropout mask on the input projections X_t U (the same for every t).
    mask_W : None or ndarray, shape (P, ng*D)
        DropConnect mask on W.
    lengths : None or ndarray of int, shape (N,)
        Sequence n stops after ``lengths[n]`` steps: its later states repeat its
        last one, and nothing flows back through those steps.

    All arrays share one floating dtype; none of them is written to.
    """

    gates_in: tuple[str, ...] = ("",)  # order of the gate blocks in U, b and the input gradients
    gates_rec: tuple[str, ...] = ("",)  # order of the gate blocks in W
    negated = ""  # the sigmoid gates, whose pre-activations are computed negated
    # (attribute, first gate, end gate): one array per block
    blocks_in: tuple[tuple[str, int, int], ...] = (("P", 0, 1),)
    chunk_rows = 256  # the full BPTT loop takes the cells about this many rows (J·N) at a time
    reads_prev_states = True  # the backward reads S_{t-1} packed (``Sp``)
    backward_follows = True  # False: forward only (a kernel may then keep less)

    def __init__(self, X, U, b, W, s0, mask_U=None, mask_W=None, lengths=None):
        T, N, C = X.shape
        D = U.shape[1] // len(self.gates_in)
        s0 = tuple(s0)
        self._taken = []  # buffers from the workspace, given back by release()
        self.order = self.counts = None  # counts: the sequences running in each cell
        if lengths is not None and N and lengths.min() < T:  # the batch, longest first
            order = np.argsort(-lengths, kind="stable")
            if np.any(order != np.arange(N)):  # (a batch already in that order stays as it is)
                s0, lengths = tuple(part[order] for part in s0), lengths[order]
                mask_U = None if mask_U is None else mask_U[order]
                self.order, self.inverse = order, np.argsort(order)
            self.counts = (lengths > np.arange(T)[:, None]).sum(axis=1)
        self.packed_rows = self.counts is not None  # some sequence stops early
        self._sequence = None  # the sequence (kernel's order) of each packed row, and its row
        if self.packed_rows:  # in a (T·N, ...) array in the kernel's and in the caller's order
            offsets = np.concatenate([[0], np.cumsum(self.counts)])
            self.offsets = offsets.tolist()  # of each cell's block
            self._sequence = np.arange(self.offsets[-1]) - np.repeat(offsets[:-1], self.counts)
            start = np.repeat(np.arange(T) * N, self.counts)
            self._rows = start + self._sequence
            self._rows_caller = self._rows if self.order is None else start + self.order[self._sequence]
            self._runs = None  # the runs of equal counts, made by segments
        else:
            self.counts = [N] * T
            self.offsets = list(range(0, (T + 1) * N, N)) if N else [0] * (T + 1)
        self.T, self.N, self.C, self.D = T, N, C, D
        self.widths = tuple(part.shape[1] for part in s0)
        self.U, self.mask_U, self.mask_W = U, mask_U, mask_W
        self.dtype = U.dtype
        # the weights the cells see, C-contiguous; each cell makes its forward's operands
        # with ``operands`` and its backward's with ``backward_operands``
        if W is not None:
            self.W = np.ascontiguousarray(W) if mask_W is None else W * mask_W
        # the per-step products multiply by transposed views from here up (see operands)
        self.transposed = self.dtype == np.float64 and N >= 4 and D >= 128
        # the backward's per-step products multiply by copies of Wᵀ (see backward_operands)
        self.backward_copies = self.dtype == np.float32 and N >= 4  # N: the batch size

        # the inputs, packed: block i holds the rows of X_{i+1} that cell i+1 works on
        self.X = self.pack(X, self.order)
        # the input projections, one product per block: P[t] = (X_t U) ⊙ mask_U + b, negated
        # for the sigmoid gates: a block of such gates only takes −b − P instead of P + b
        # (exact: negating is), a block that mixes them multiplies its columns of U and b
        signs = _block_signs(self.blocks_in, self.gates_in, self.negated)
        for (name, g0, g1), negate in zip(self.blocks_in, signs):
            cols = slice(g0 * D, g1 * D)
            Ub, bb = U[:, cols], b[cols]
            if negate is None:  # some of its gates are negated
                scales = self._scales(self.gates_in)[cols]
                Ub, bb = Ub * scales, bb * scales
            P = np.dot(self.X, Ub, out=self.per_step((g1 - g0) * D))
            if mask_U is not None:
                self.each_sequence(np.multiply, P, mask_U[:, cols])
            if negate:
                np.subtract(-bb, P, out=P)
            else:
                P += bb
            setattr(self, name, P)

        # the states, one array per part (with lengths the kernel's own, sorted: forward
        # returns new copies)
        make = aligned_empty if self.order is None else lambda shape, dtype: self.empty(shape)
        self.S = tuple(make((T + 1, N, w), self.dtype) for w in self.widths)
        for S, part in zip(self.S, s0):
            S[0] = part
        self._scratch = self._chunk = self._step_scratch = self.zone = None
        self._c0 = 0  # the first cell of the current chunk

    def per_step(self, width):
        """A per-step work array (R, width), packed (see the module docstring): the first
        R rows of a (T·N, width) work array, so that batches of any lengths reuse the
        same workspace buffer."""
        return self.empty((self.T * self.N, width))[: self.offsets[-1]]

    def span(self, a, cells, base=0):
        """The rows of the ``cells`` (a slice) in the packed array ``a``, whose first row
        is that of cell ``base`` (a chunk's own arrays start at its first cell)."""
        o = self.offsets
        return a[o[cells.start] - o[base] : o[cells.stop] - o[base]]

    def pack(self, a, order=None, out=None):
        """The packed rows (R, ...) of ``a`` (T, N, ...): the rows of cell i of a[i], in
        the kernel's order (``order`` given: from a batch in the caller's order), written
        into ``out`` if given. Else, without ``lengths``, a view of ``a`` when its layout
        allows (read it only), and otherwise a new work array. One gather (``take``)."""
        whole = a.reshape(self.T * self.N, *a.shape[2:])  # not -1: a dimension may be 0
        if not self.packed_rows:
            if out is None:
                return whole
            np.copyto(out, whole)
            return out
        if out is None:
            out = self.empty((self.T * self.N, *a.shape[2:]))[: self.offsets[-1]]
        return np.take(whole, self._rows if order is None else self._rows_caller, axis=0, out=out)

    def unpack(self, a):
        """A new padded (T, N, ...) array from the packed ``a``, in the caller's order:
        zeros in the finished sequences' rows."""
        if not self.packed_rows:
            return a.reshape(self.T, self.N, *a.shape[1:])
        out = np.zeros((self.T * self.N, *a.shape[1:]), a.dtype)
        out[self._rows_caller] = a
        return out.reshape(self.T, self.N, *a.shape[1:])

    def each_sequence(self, ufunc, a, per_row):
        """``ufunc(a, per_row, out=a)`` with ``per_row`` (N, ...) applied to every cell's
        rows of the packed ``a`` (a dropout mask, the same at every step)."""
        if self._sequence is None:  # every cell has the whole batch
            block = unflat(a, self.T, self.N)
            ufunc(block, per_row, out=block)
        else:
            ufunc(a, per_row[self._sequence], out=a)

    def operands(self, *blocks, transposed=None):
        """Copies ``scale * block`` of (block, scale) pairs for the per-step products
        S @ block, each a new work array, contiguous: C-contiguous or, when
        ``transposed`` (default: ``self.transposed``), the ``.T`` view of a
        C-contiguous copy of its transpose. Same values either way; single-threaded
        OpenBLAS multiplies by the second 1.3 times faster in float64 at the course
        size, and by the first faster at small sizes (measured, docs/kernels.md).
        ``scale`` is 1, −1 or a vector over the block's columns."""
        transposed = self.transposed if transposed is None else transposed
        out = []
        for block, scale in blocks:
            # written in the copy's order (3.5 times faster than writing through .T)
            src = block.T if transposed else block
            dst = self.empty(src.shape)
            if isinstance(scale, np.ndarray):
                np.multiply(src, scale[:, None] if transposed else scale, out=dst)
            elif scale == 1:
                np.copyto(dst, src)
            else:
                np.multiply(src, np.asarray(scale, self.dtype), out=dst)
            out.append(dst.T if transposed else dst)
        return out

    def backward_operands(self, *blocks):
        """The operands of the backward's per-step products G @ (scale * block)ᵀ for
        (block, scale) pairs: C-contiguous copies of the transposes, made once per call
        (``operands(..., transposed=True)``, transposed back). BLAS packs
        its weight operand in every call; single-threaded OpenBLAS does so faster from
        this layout than from the view block.T: in float32 2.5 times at 32 × 128 by
        128 × 128 and 1.4 times at 32 × 256 by 256 × 128 (the course size), and at half
        the rows 2.5–3.5 times (measured, docs/benchmarks.md). So ``backward_copies``: in
        float32, for batches of N ≥ 4. For smaller batches (matrix-vector products at
        N = 1, which the copies barely speed up) and in float64 (faster at some shapes,
        slower at others) the views block.T are returned instead, when every scale is 1
        (a block to be scaled is copied either way)."""
        if not self.backward_copies and all(np.all(np.asarray(scale) == 1) for _, scale in blocks):
            return [block.T for block, _ in blocks]
        return [a.T for a in self.operands(*blocks, transposed=True)]

    def take_grad(self, grad):
        """New C-contiguous arrays dS, one per state part, holding ``grad`` (the caller's,
        one array per part or None for zeros, never written to, in any layout: the
        truncated passes view dS's cells as stacked rows)."""
        out = tuple(aligned_empty(S.shape, self.dtype) for S in self.S)  # (see workspace.py)
        for d, g in zip(out, grad):
            if g is None:
                d.fill(0)
            else:
                np.copyto(d, g, casting="unsafe")
        return out

    def _scales(self, gates):
        """Per column of a side-by-side array: −1 for the sigmoid gates, else 1."""
        return _gate_scales(gates, self.negated, self.D, self.dtype)

    def forward(self):
        """Run every cell; returns the states, one array (T+1, N, width) per part, with
        row 0 the initial state (in the caller's order; the kernel keeps its own, sorted
        with ``lengths``)."""
        N = self.N
        # each run of cells with the same sequences still running (the first ``rows``);
        # the others' states repeat. The sigmoid gates' exponentials may overflow to inf,
        # which gives the gate 0 (see sigmoid_negated_loop): once per call, not per step.
        # (It silences any overflow in the loop: docs/conventions.md, non-finite values)
        with np.errstate(over="ignore") if self.negated else contextlib.nullcontext():
            for part, rows in self.segments(slice(0, self.T)):
                if rows:
                    step, arrays = self.forward_cell(rows)
                    if self.zone is not None:
                        step = self._zoned_step(step, rows)
                        arrays = (*arrays, *self.zone)
                    live = [S[part.start : part.stop + 1, :rows] for S in self.S]
                    prev, new = (S[:-1] for S in live), (S[1:] for S in live)
                    for views in zip(*prev, *new, *(self.cut(a, part, rows) for a in arrays)):
                        step(*views)
                if rows < N:
                    for S in self.S:
                        S[part.start + 1 : part.stop + 1, rows:] = S[part.start, rows:]
        return self.S if self.order is None else tuple(S.take(self.inverse, axis=1) for S in self.S)

    def set_zoneout(self, masks):
        """Zoneout (Krueger et al. 2016) on every state part: each cell's new state is
        S_t = M_t ⊙ S_{t-1} + (1 − M_t) ⊙ S'_t, S'_t what the cell computes. ``masks``: one
        entry per part, an array (T, N, width) in the caller's order (M_t of 0 and 1 while
        training) or a number z (the expectation, M_t = z everywhere). The driver blends
        after each step and, back, hands the cell (1 − M_t) ⊙ dS_t and S_{t-1} the rest
        (``_zoned_step``, ``_zoned_back``), so every cell gets it."""
        self.zone = [
            np.asarray(m, self.dtype) if np.ndim(m) == 0 else self.pack(np.asarray(m, self.dtype), self.order)
            for m in masks
        ]
        self._zone_tmp = [self.empty((self.N, w)) for w in self.widths]  # the forward's
        self._zone_back = None  # the backward's, made when it starts (rows of all cells)

    def _zoned_step(self, step, rows):
        """``step`` followed by zoneout's blend, S_t = S'_t + M_t ⊙ (S_{t-1} − S'_t), for
        each part (the masks come as the last views)."""
        k, tmps = len(self.widths), [t[:rows] for t in self._zone_tmp]

        def zoned(*views):
            step(*views[:-k])
            for Sp, S, M, tmp in zip(views[:k], views[k : 2 * k], views[-k:], tmps):
                np.subtract(Sp, S, tmp)
                np.multiply(tmp, M, tmp)
                np.add(S, tmp, S)

        return zoned

    def _backward_cell(self, cells, out, rows):
        """The cell's ``backward_cell``, under zoneout wrapped by ``_zoned_back`` with the
        ``cells``' masks as the last views: what every backward loop calls."""
        back, arrays = self.backward_cell(cells, out, rows)
        if self.zone is None:
            return back, arrays
        masks = (self.span(m, cells) if m.ndim else m for m in self.zone)
        return self._zoned_back(back, rows), (*arrays, *masks)

    def _zoned_back(self, back, rows):
        """``back`` under zoneout: the cell gets (1 − M_t) ⊙ dS_t, and what it sends back to
        S_{t-1} gains M_t ⊙ dS_t (the masks come as the last views)."""
        k = len(self.widths)
        if self._zone_back is None or len(self._zone_back[0][0]) < rows:  # (truncated BPTT: all cells' rows)
            self._zone_back = [[self.empty((max(rows, self.N), w)) for w in self.widths] for _ in range(2)]
        tmps, cell_grads = ([t[:rows] for t in pair] for pair in self._zone_back)

        def zoned(*views):
            dS, prev, masks = views[:k], views[k : 2 * k], views[-k:]
            for d, M, kept, g in zip(dS, masks, tmps, cell_grads):
                np.multiply(d, M, kept)  # M_t ⊙ dS_t: what passes S'_t by
                np.subtract(d, kept, g)
            back(*cell_grads, *views[k:-k])
            if prev[0] is not None:
                for p, kept in zip(prev, tmps):
                    np.add(p, kept, p)

        return zoned

    def through_cell(self, dS, k):
        """The packed gradient (R, width) of part ``k`` of what the cells compute, from the
        totals ``dS`` of their output states: dS itself, or (1 − M_t) ⊙ dS_t under zoneout."""
        g = self.pack(dS[k][1:])
        if self.zone is None:
            return g
        return g - g * self.zone[k]

    def cut(self, a, part, rows):
        """The cells ``part``'s own rows of ``a``, one item per cell, each ``rows`` rows:
        a per-step array (2-D, packed) as (J, rows, ...), a view of the states (3-D,
        (T, N, ...)) as its rows ``part`` cut to ``rows``, a list as its items ``part``,
        a number (0-d) as itself for every cell."""
        if a.__class__ is not np.ndarray:
            return a[part]
        if a.ndim == 0:
            return repeat(a, part.stop - part.start)
        if a.ndim == 3:
            return a[part, :rows]
        o = self.offsets
        return a[o[part.start] : o[part.stop]].reshape(part.stop - part.start, rows, a.shape[1])

    def segments(self, cells):
        """The runs of ``cells`` (a slice) in which the same sequences run: pairs
        (part, rows), ``part`` a slice of cells and ``rows`` the number of sequences
        running in them (the first ``rows`` of the sorted batch), in order of time."""
        if not self.packed_rows:
            return [(cells, self.N)]
        if self._runs is None:  # the runs of the whole sequence, once (with lengths)
            counts = self.counts
            edges = [0, *(np.flatnonzero(np.diff(counts)) + 1).tolist(), len(counts)] if len(counts) else []
            self._runs = [(a, b, int(counts[a])) for a, b in itertools.pairwise(edges)]
        lo, hi = cells.start, cells.stop
        return [(slice(max(a, lo), min(b, hi)), rows) for a, b, rows in self._runs if a < hi and b > lo]

    def _back_cells(self, cells, dS, carry):
        """The full BPTT loop over ``cells`` from the last, run by run (``segments``):
        each cell adds its dL/dS_{t-1} into ``dS`` (every part), for the sequences still
        running."""
        for part, rows in reversed(self.segments(cells)):
            if not rows:
                continue
            live = [d[part.start : part.stop + 1, :rows] for d in dS]
            back, arrays = self._backward_cell(part, self.G, rows)
            J, c = part.stop - part.start, [a[:rows] for a in carry]
            views = zip(*[unflat(a, J, rows)[::-1] if a.ndim else repeat(a, J) for a in arrays])
            if len(live) == 1:  # one part: no tuples of parts in the loop (a microsecond a step)
                (d,), (ci,) = live, c
                for dSt, dSp, v in zip(d[1:][::-1], d[:-1][::-1], views):
                    back(dSt, ci, *v)
                    np.add(dSp, ci, dSp)
                continue
            steps = zip(zip(*(d[1:][::-1] for d in live)), zip(*(d[:-1][::-1] for d in live)), views)
            for dSt, dSp, v in steps:
                back(*dSt, *c, *v)
                for d, ci in zip(dSp, c):
                    np.add(d, ci, d)

    def _finished_totals(self, dS, bp_lim=None):
        """The totals of each finished sequence's states from its last one on, S_L to S_T.
        Those states repeat S_L, so a term at one passes back unchanged: each total is the
        sum of the loss terms (in ``dS``, one array per part) from that state to the end,
        or to ``bp_lim`` steps after it; one call per state and part, over the rows that
        have stopped there."""
        for d in dS:
            self._finished_part(d, bp_lim)

    def _finished_part(self, dS, bp_lim):
        """:meth:`_finished_totals` for one part's array ``dS``."""
        T, N, counts = self.T, self.N, self.counts
        first = [*counts.tolist(), int(counts[-1])]  # state j: the rows from first[j] on have stopped
        if bp_lim is None:  # from the end: each state adds the total of the one after it
            for j in range(T - 1, -1, -1):
                if first[j] < N:
                    np.add(dS[j, first[j] :], dS[j + 1, first[j] :], out=dS[j, first[j] :])
            return
        m = first[T]  # the rows of the sequences that run to the end have no such states
        g = dS[:, m:]
        total = g.copy()
        for k in range(1, min(bp_lim, T) + 1):
            total[:-k] += g[k:]
        for j in range(T + 1):
            if first[j] < N:
                dS[j, first[j] :] = total[j, first[j] - m :]

    def _add_packed(self, dS, B, cells):
        """``dS[i][:counts[i]] += B``'s block i for the ``cells`` i (B packed), for each
        part's pair of arrays."""
        for part, rows in self.segments(cells):
            for d, b in zip(dS, B):
                block = d[part, :rows]
                block += self.cut(b, part, rows)

    def _truncated(self, dS, bp_lim):
        """Truncated BPTT in ``bp_lim`` passes over the whole sequence (see state_grads).

        In pass p, ``A`` (one array per state part) holds the terms that sit at each cell's output state after going
        back p − 1 steps (packed, the cell's rows) and ``back`` moves them all one cell
        back at once, into ``B``. With ``lengths`` a finished sequence's states past its
        last cell only repeat: a term there moves back unchanged, so the loss term of
        output L + p reaches the sequence's last state S_L after p passes, and enters the
        cells then (``inject``); the totals of S_L and the states after it are the sums
        of the loss terms within the window (``_finished_totals``)."""
        T, o, counts = self.T, self.offsets, self.counts
        self.coefficients(slice(0, T))
        if not o[T]:  # no rows (N = 0): nothing moves back, and no cell has a gradient
            return
        work = [self.empty(g.shape) for g in self.G]  # G keeps the coefficients
        A, B = ([self.per_step(w) for w in self.widths] for _ in range(2))
        for a, d in zip(A, dS):
            self.pack(d[1:], out=a)
        # the cells after which some sequence stops, i.e. counts[i + 1] < counts[i]
        drops = [part.stop - 1 for part, _ in self.segments(slice(0, T))[:-1]]
        for p in range(1, bp_lim + 1):
            n = T - p + 1  # cells 1 .. n (blocks 0 .. n-1) still carry such terms
            back, arrays = self._backward_cell(slice(0, n), work, o[n])
            # block i: terms at state i, p steps back
            back(*(a[: o[n]] for a in A), *(b[: o[n]] for b in B), *arrays)
            self._add_packed(dS, B, slice(0, n))
            if p == bp_lim:
                break
            # the next pass's terms: block i gets block i + 1 of B (the same rows, or fewer
            # where sequences stop after cell i + 1: those rows ``inject``)
            start = 0
            for i in [d for d in drops if d < n - 1] + [n - 1]:
                stop = o[i] + (counts[i + 1] if i < n - 1 else 0)
                for a, b, d in zip(A, B, dS):
                    np.copyto(a[o[start] : stop], b[o[start + 1] : o[start + 1] + stop - o[start]])
                    if i < n - 1:  # inject: the sequences whose last cell is i + 1
                        inject = a[stop : o[i + 1]]
                        if i + 1 + p <= T:  # (dS there is still the loss term: no pass adds to it)
                            np.copyto(inject, d[i + 1 + p, counts[i + 1] : counts[i]])
                        else:
                            inject[...] = 0
                start = i + 1
        if self.packed_rows:
            self._finished_totals(dS, bp_lim)
        # the gate gradients, from the truncated totals of the states the cells produce
        back, arrays = self._backward_cell(slice(0, T), self.G, o[T])
        back(*(self.pack(d[1:], out=a) for d, a in zip(dS, A)), *(None for _ in A), *arrays)

    def state_grads(self, grad, bp_lim=None, need=frozenset()):
        """Total derivative dL/dS_t of every state, leaving the cells' gate gradients in G.

        Parameters
        ----------
        grad : tuple of (None or ndarray, shape (T+1, N, width)), one per state part
            What arrives at each output state from outside (the loss terms); None: zeros.
        bp_lim : None or int >= 0
            None is full BPTT. Otherwise the loss term at output t flows back through
            the cells t, t-1, ..., max(1, t-bp_lim) only, so that

                dS[j] = sum over t in j .. j+bp_lim of dL_t/dS_j   (within the window),

            and the parameters of cell t see exactly dS[t].
        need : set of str
            The gradients :meth:`backward` will ask for (passed on to ``finish``).

        Returns
        -------
        dS : tuple of ndarray, shape (T+1, N, width), one per state part
        """
        T, N = self.T, self.N
        # S_{t-1}, in the cells' packed layout (for the kernels that read it)
        self.Sp = tuple(self.pack(S[:-1]) for S in self.S) if self.reads_prev_states else None
        self.prepare_backward()
        dS = self.take_grad(grad)
        if self.order is not None:  # the kernel's order; the caller's arrays get the result
            self._dS_out = dS
            dS = tuple(np.take(d, self.order, axis=1, out=self.empty(d.shape)) for d in dS)
        if bp_lim is None or bp_lim >= T:
            # full BPTT: by the time we reach cell i, dS[i+1] holds all of its terms
            if self.packed_rows:
                self._finished_totals(dS)
            carry = [self.empty((N, w)) for w in self.widths]
            for cells in self.chunks():
                self.coefficients(cells)
                self._back_cells(cells, dS, carry)
                self.finish(cells, need)
        else:
            # truncated: pass p moves every term exactly one more cell back, whole
            # sequence at once; after bp_lim passes each term has gone back bp_lim steps.
            self._truncated(dS, bp_lim)
            self.finish(slice(0, T), need)
        self.drop("_chunk")  # the chunk's work arrays go before the whole-sequence products
        return dS

    def empty(self, shape):
        """A work array of this kernel's dtype, from the workspace (see ``release``)."""
        return workspace.empty(shape, self.dtype, self._taken)

    def drop(self, *names):
        """Set these attributes (arrays, lists of arrays or None) to None and free their
        work arrays now, as a plain ``del`` would. They do not go back to the workspace,
        which would keep them allocated through the rest of the call and so raise its
        peak (``release`` gives back what the kernel holds to the end)."""
        roots = set()
        for name in names:
            value = getattr(self, name)
            if self._taken:  # else nothing here came from the workspace
                for a in value if isinstance(value, (list, tuple)) else [value]:
                    if a is not None:
                        roots.add(id(a if a.base is None else a.base))
            setattr(self, name, None)
        if roots:  # (a large taken buffer is an aligned view: its base owns the memory)
            self._taken = [
                buf for buf in self._taken if id(buf if buf.base is None else buf.base) not in roots
            ]

    def release(self):
        """Give the work arrays back to the workspace, for the next call to reuse.
        Nothing outside the kernel sees them (the states and every gradient are
        new arrays), and the kernel is unusable afterwards."""
        taken = self._taken
        self.__dict__.clear()
        workspace.give(taken)

    def prepare_backward(self):
        """Nothing to set up between the forward and the backward (see the cells)."""

    def chunks(self):
        """The cells in the order the full BPTT loop visits them: slices of J cells
        (J·N about ``chunk_rows``; ``L`` below) from the end, the shorter remainder last."""
        L = -(-self.chunk_rows // max(self.N, 1))
        return [slice(max(0, stop - L), stop) for stop in range(self.T, 0, -L)]

    def chunk_scratch(self, cells, *widths):
        """Work arrays of shapes (rows, w*D) for the rows of the ``cells``, packed, one
        per width, allocated once for the most rows a chunk can have (J·N) and reused
        for the rest (``_chunk``, released after the loop). Their first row belongs to
        cell ``cells.start`` (``span(a, c, base=cells.start)`` cuts them)."""
        rows = self.offsets[cells.stop] - self.offsets[cells.start]
        if self._chunk is None or len(self._chunk[0]) < rows:
            most = max(rows, (cells.stop - cells.start) * self.N)
            self._chunk = [self.empty((most, w * self.D)) for w in widths]
        self._c0 = cells.start
        return [a[:rows] for a in self._chunk]

    def finish(self, cells, need):
        """Nothing to take from ``cells`` before the loop goes on (see the GRU)."""

    def input_grads(self, blocks, need):
        """Whole-sequence gradients of U, b and X from the input pre-activation grads.

        ``blocks`` are pairs (G, g0): G (R, w*D), packed, is dL/dP for the w gates from
        ``gates_in[g0]`` on, i.e. for some columns ``cols`` of U; G is overwritten.
        With P = (X U) ⊙ mask_U + b, per block: db = Σ_t Σ_n G,
        dU = Xᵀ (G ⊙ mask_U), and dX sums (G ⊙ mask_U) Uᵀ over the blocks."""
        out, D = {}, self.D
        k, X, C = len(self.gates_in), self.X, self.C
        spans = [(G, slice(g0 * D, g0 * D + G.shape[-1])) for G, g0 in blocks]
        if "b" in need:
            out["b"] = np.empty(k * D, self.dtype)
            for G, cols in spans:
                self.column_sums(G, out=out["b"][cols])
        if self.mask_U is not None:
            for G, cols in spans:
                self.each_sequence(np.multiply, G, self.mask_U[:, cols])  # now the gradient of X U
        if "U" in need:
            out["U"] = np.empty((C, k * D), self.dtype)
            for G, cols in spans:
                out["U"][:, cols] = self.outer(X, G)
        if "X" in need:
            (G, cols), *rest = spans
            dX = np.dot(G, self.U[:, cols].T)
            if rest:  # the first block is spent: its memory is the temporary if large enough
                tmp = (
                    G.reshape(-1)[: dX.size].reshape(dX.shape) if G.size >= dX.size else self.empty(dX.shape)
                )
            for G, cols in rest:
                dX += np.dot(G, self.U[:, cols].T, out=tmp)
            out["X"] = self.unpack(dX)
        return out

    def scratch(self, rows, count):
        """``count`` work arrays of shape (rows, D), the first ``rows`` rows of arrays
        kept for the rest of the call (so the loop allocates nothing, and the truncated
        passes, whose blocks shrink, allocate once)."""
        if self._scratch is None or len(self._scratch[0]) < rows or len(self._scratch) < count:
            # at least the whole batch: with lengths the loop's runs grow to it
            self._scratch = [self.empty((max(rows, self.N), self.D)) for _ in range(count)]
        return [a[:rows] for a in self._scratch[:count]]

    def step_scratch(self, rows, *widths):
        """Work arrays of shapes (rows, w) for a forward step, one per width, the first
        ``rows`` rows of arrays allocated for the whole batch once per call."""
        if self._step_scratch is None:
            self._step_scratch = [self.empty((self.N, w)) for w in widths]
        return [a[:rows] for a in self._step_scratch]

    def column_sums(self, G, out=None):
        """Σ over the rows of ``G`` (R, ·), as one product with a row of ones: 4–6 times
        faster than ``G.sum(axis=0)`` at the small sizes, 2–3 times at the course size
        (numpy reduces the first axis one row at a time). The same sum to rounding: BLAS
        adds in another order than numpy's pairwise sum, and its rounding error, like that
        of the weight gradients' products over the same rows, grows with R."""
        return np.dot(np.ones(len(G), self.dtype), G, out=out)

    @staticmethod
    def outer(A, B, out=None):
        """Σ_t A_tᵀ B_t for packed A and B (R, ·): the whole-sequence product behind
        every weight gradient, written into ``out`` if given (``np.matmul`` hands a
        row-strided block of a larger array to BLAS as it is)."""
        return np.matmul(A.T, B, out=out)

    # -- packing: named per-gate arrays <-> the side-by-side arrays used above --

    @classmethod
    def build(cls, X, params, s0, masks=None, lengths=None, **extra):
        """Construct from named per-gate arrays: params["Uz"], params["Wz"], ... (or
        "U", "W", "b" for a single-gate cell) and masks with the same keys; any
        other entry of ``params`` (e.g. "bhn") is passed on as a keyword."""
        params = dict(params)
        U = np.concatenate([params.pop("U" + g) for g in cls.gates_in], axis=1)
        b = np.concatenate([params.pop("b" + g) for g in cls.gates_in])
        W = np.concatenate([params.pop("W" + g) for g in cls.gates_rec], axis=1)
        extra.update(params)
        mask_U = mask_W = None
        if masks is not None:
            mask_U = np.concatenate([masks["U" + g] for g in cls.gates_in], axis=1)
            mask_W = np.concatenate([masks["W" + g] for g in cls.gates_rec], axis=1)
        return cls(X, U, b, W, s0, mask_U, mask_W, lengths, **extra)

    def named(self, grads):
        """Split the side-by-side gradients back into per-gate names."""
        out = dict(grads)
        D = self.D
        for key, gates in (("U", self.gates_in), ("b", self.gates_in), ("W", self.gates_rec)):
            if key in out:
                whole = out.pop(key)
                for j, g in enumerate(gates):
                    out[key + g] = whole[..., j * D : (j + 1) * D]
        return out

    def backward(self, grad, bp_lim=None, need=frozenset()):
        """All gradients in one go.

        Returns ``(dS, grads)``: dS, one array (T+1, N, width) per state part, is the total
        derivative of every state (row 0: the gradient of the initial state); ``grads`` maps each name in ``need`` among
        "X", "U", "b", "W" (and the cell's own extras, e.g. "bhn") to its gradient,
        split per gate as in :meth:`build` ("Uz", "Wz", ...).
        """
        dS = self.state_grads(grad, bp_lim, need)
        grads = self.weight_grads(need)
        if "W" in grads and self.mask_W is not None:
            grads["W"] *= self.mask_W  # W ⊙ M was used, so dL/dW = dL/d(W ⊙ M) ⊙ M
        grads.update(self.state_weight_grads(dS, need))
        grads.update(self.input_grads(self.G_in, need))  # last: it overwrites G
        if self.order is not None:  # back to the caller's order (dX is, see unpack)
            dS = tuple(np.take(d, self.inverse, axis=1, out=out) for d, out in zip(dS, self._dS_out))
        return dS, self.named(grads)

    def state_weight_grads(self, dS, need):
        """Gradients of weights that read the state gradients ``dS`` directly (the
        LSTM's projection); none here."""
        return {}
