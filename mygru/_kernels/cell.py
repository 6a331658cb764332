"""Any cell of the public protocol (:class:`mygru.Cell`) on the shared drivers.

The cell supplies ``step(p, a, s) -> (s_new, cache)`` and ``step_backward(p, ds, cache) ->
(da, ds_prev, dp)`` in plain numpy; this kernel turns them into the hooks the drivers of
``common.py`` call, so a user's cell gets the same time loop, truncated BPTT, packed
lengths, dropout and state gradients as the built-in cells:

- the input projections A^g = X U{g} (+ b{g}) of every gate, all steps in one product
  (``Recurrence.__init__``), masked by dropout, handed to ``step`` as ``a[g]``;
- each step's state written into the state parts' arrays, and its cache (a tuple of
  arrays with the step's rows first) copied into packed per-step arrays, so that a block
  of cells' caches is their rows stacked: truncated BPTT hands ``step_backward`` several
  cells' rows at once;
- the gradients ``da`` of the input projections land in the per-step array ``A`` (whose
  pre-activations ``step`` has consumed), from which ``input_grads`` makes dU, db and dX;
  the weight gradients ``dp`` are summed over the cells.

Nothing is precomputed for the backward (``coefficients`` is empty): the cell's
``step_backward`` does it all. Its weight gradients are taken from the call that carries
each cell's total state gradient (the sequential loop's, or truncated BPTT's last one),
not from the truncation passes, which only move state gradients back.
"""

import numpy as np

from .common import Recurrence

__all__ = ["CellKernel", "check_step", "check_step_backward"]


def _name(cell):
    return type(cell).__name__


def check_step(cell, result, rows, widths):
    """The result of ``cell.step`` for ``rows`` rows: ``(s_new, cache)``, s_new shaped like
    the state, cache a tuple of arrays with the rows first. Returns (parts, cache)."""
    name = _name(cell)
    if not isinstance(result, tuple) or len(result) != 2:
        raise TypeError(f"{name}.step must return a pair (s_new, cache), got {type(result).__name__}")
    s_new, cache = result
    parts = _state_parts(cell, s_new, "step's s_new", rows, widths)
    if not isinstance(cache, tuple) or not all(isinstance(c, np.ndarray) for c in cache):
        raise TypeError(
            f"{name}.step must return a cache that is a tuple of numpy arrays, got {_describe(cache)}"
        )
    for k, c in enumerate(cache):
        if c.ndim == 0 or c.shape[0] != rows:
            raise ValueError(
                f"{name}.step's cache[{k}] must have the step's {rows} rows first (shape ({rows}, ...)), "
                f"got shape {c.shape}: the driver stacks the caches of several cells row-wise"
            )
    return parts, cache


def check_step_backward(cell, result, rows, D, widths, p):
    """The result of ``cell.step_backward``: ``(da, ds_prev, dp)`` with a (rows, D)
    gradient for every gate, ds_prev shaped like the state and a gradient of each
    weight's shape for every weight."""
    name = _name(cell)
    if not isinstance(result, tuple) or len(result) != 3:
        raise TypeError(
            f"{name}.step_backward must return a triple (da, ds_prev, dp), got {type(result).__name__}"
        )
    da, ds_prev, dp = result
    _named_grads(cell, da, "da", cell.gates, {g: (rows, D) for g in cell.gates}, "gate")
    _state_parts(cell, ds_prev, "step_backward's ds_prev", rows, widths)
    _named_grads(cell, dp, "dp", cell.weights, {w: np.shape(p[w]) for w in cell.weights}, "weight")


def _describe(value):
    if isinstance(value, tuple):
        return "a tuple of " + ", ".join(type(v).__name__ for v in value)
    return type(value).__name__


def _state_parts(cell, value, what, rows, widths):
    name, k = _name(cell), len(widths)
    if k == 1:
        parts = (value,)
        want = "an array"
    else:
        parts = value if isinstance(value, tuple) and len(value) == k else None
        want = f"a tuple of {k} arrays, one per part of {cell.state}"
    if parts is None or not all(isinstance(v, np.ndarray) for v in parts):
        raise TypeError(f"{name}.{what} must be {want}, got {_describe(value)}")
    for part, v, w in zip(cell.state, parts, widths):
        if v.shape != (rows, w):
            raise ValueError(
                f"{name}.{what}: part {part!r} must have shape ({rows}, {w}), got shape {v.shape}"
            )
    return parts


def _named_grads(cell, grads, what, names, shapes, kind):
    name = _name(cell)
    if not isinstance(grads, dict):
        raise TypeError(f"{name}.step_backward's {what} must be a dict, got {type(grads).__name__}")
    missing = [n for n in names if n not in grads]
    if missing:
        raise ValueError(f"{name}.step_backward's {what} has no gradient for the {kind} {missing[0]!r}")
    extra = [n for n in grads if n not in names]
    if extra:
        raise ValueError(
            f"{name}.step_backward's {what} has a gradient for {extra[0]!r}, which is no {kind} of the cell "
            f"({kind}s: {tuple(names)})"
        )
    for n in names:
        if np.shape(grads[n]) != shapes[n]:
            raise ValueError(
                f"{name}.step_backward's {what}[{n!r}] must have shape {shapes[n]}, got shape {np.shape(grads[n])}"
            )


class CellKernel(Recurrence):
    """A :class:`mygru.Cell` on the drivers.

    Parameters (beyond ``Recurrence``'s, which it takes without ``W`` and ``mask_W``)
    ----------
    cell : mygru.Cell
    weights : dict of ndarray
        The cell's weights, by name.
    weight_masks : dict of ndarray
        DropConnect masks of some of the weights, by name: the steps see W ⊙ M, and the
        gradient of W is that of W ⊙ M times M.
    """

    negated = ""  # no built-in sigmoid trick: the cell computes its gates itself
    reads_prev_states = False  # what step_backward reads is in the cell's cache
    gates_rec = ()  # no side-by-side recurrent weights: the cell keeps its own

    def __init__(self, X, U, b, s0, mask_U=None, lengths=None, *, cell, weights, weight_masks=None):
        self.weight_masks = weight_masks or {}
        masked = {
            name: w * self.weight_masks[name] for name, w in weights.items() if name in self.weight_masks
        }
        self.cell, self.p = cell, {**weights, **masked}
        self.gates_in = tuple(cell.gates)
        self.blocks_in = (("A", 0, len(self.gates_in)),)
        super().__init__(X, U, b, None, s0, mask_U, None, lengths)
        D = self.D
        self.G = self.G_in = None  # set when the backward starts
        self._A = tuple(self.A[:, j * D : (j + 1) * D] for j in range(len(self.gates_in)))
        self._cache = None  # the steps' caches, packed: one array per entry of the cache
        self._dp = None  # the weight gradients, summed over the cells

    def forward_cell(self, rows):
        cell, p, gates, k, o = self.cell, self.p, self.gates_in, len(self.widths), self.offsets
        one = k == 1

        def step(*views):
            prev, new, i = views[:k], views[k : 2 * k], views[-1]
            a = dict(zip(gates, views[2 * k : -1]))
            s_new, cache = result = cell.step(p, a, prev[0] if one else prev)
            if self._cache is None:  # the first step: check what the cell returns, keep room
                s_new, cache = check_step(cell, result, rows, self.widths)
                shapes = [(self.T * self.N, *c.shape[1:]) for c in cache] if self.backward_follows else []
                self._cache = [self.empty(shape, c.dtype) for shape, c in zip(shapes, cache)]
            elif one:
                s_new = (s_new,)
            for dst, src in zip(new, s_new):
                np.copyto(dst, src)
            for dst, src in zip(self._cache, cache):  # (none when no backward follows)
                dst[o[i] : o[i + 1]] = src

        return step, (*self._A, range(self.T))

    def empty(self, shape, dtype=None):
        """A work array (see ``Recurrence.empty``), of ``dtype`` if given: a cache entry
        may be of any dtype (a boolean mask, say)."""
        if dtype is None or np.dtype(dtype) == self.dtype:
            return super().empty(shape)
        return np.empty(shape, dtype)

    def prepare_backward(self):
        self.G = (self.A,)  # the pre-activations are spent: their gradients go here
        self.G_in = ((self.A, 0),)
        self._dp = {name: np.zeros(np.shape(w), self.dtype) for name, w in self.p.items()}
        if self._cache is None:  # no step ran (T = 0 or N = 0)
            self._cache = []

    def coefficients(self, cells):
        """Nothing to precompute: ``step_backward`` does it all."""

    def backward_cell(self, cells, out, rows):
        cell, p, gates, k, D = self.cell, self.p, self.gates_in, len(self.widths), self.D
        one, final, dp_total = k == 1, out is self.G, self._dp
        caches = [self.span(c, cells) for c in self._cache]
        n_cache = len(caches)
        G = self.span(out[0], cells)
        da_out = [G[:, j * D : (j + 1) * D] for j in range(len(gates))]

        def back(*views):
            ds, prev = views[:k], views[k : 2 * k]
            cache, da_views = views[2 * k : 2 * k + n_cache], views[2 * k + n_cache :]
            da, ds_prev, dp = cell.step_backward(p, ds[0] if one else ds, cache)
            if prev[0] is not None:
                for dst, src in zip(prev, (ds_prev,) if one else ds_prev):
                    np.copyto(dst, src)
            if final:  # the call that carries the cells' total state gradients
                for dst, g in zip(da_views, gates):
                    np.copyto(dst, da[g])
                for name, total in dp_total.items():
                    total += dp[name]

        return back, (*caches, *da_out)

    def weight_grads(self, need):
        """The cell's weight gradients, summed over the cells (kept apart from the
        input projections' "U", "b" and "X" until ``named``)."""
        self._weight_grads, self._dp = self._dp, None
        self.drop("_cache")  # read by the cells' backward only
        for name, M in self.weight_masks.items():
            self._weight_grads[name] *= M  # W ⊙ M was used: dL/dW = dL/d(W ⊙ M) ⊙ M
        return {}

    def named(self, grads):
        """The input weights' and biases' gradients per gate ("U{g}", "b{g}") and the
        cell's weights' under their own names."""
        return {**super().named(grads), **self._weight_grads}
