"""``check_cell``: is a :class:`mygru.Cell`'s backward right, and does the driver agree?"""

from __future__ import annotations

from collections.abc import Mapping

import mygrad as mg
import numpy as np

from .cell import Cell
from .gradcheck import check_tolerances
from .ops._base import check_int
from .ops.recurrence import check_cell_class, check_param_names, check_widths, recurrence, try_cell
from .plain import cell as plain
from .plain.cell import as_parts, from_parts

__all__ = ["check_cell"]


def _compare(what: str, got: object, want: object, atol: float, rtol: float) -> None:
    if got is None:
        raise AssertionError(f"{what}: None (no gradient reached it), expected an array")
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        raise AssertionError(f"{what}: shape {got.shape}, expected {want.shape}")
    err = np.abs(got - want)
    bad = err > atol + rtol * np.abs(want)
    if bad.any():
        worst = np.unravel_index(np.argmax(err - rtol * np.abs(want)), err.shape)
        raise AssertionError(
            f"{what} disagrees: {float(got[worst]):.6g} against {float(want[worst]):.6g} "
            f"at {tuple(int(i) for i in worst)} "
            f"(max abs err {err.max():.3g}; pass: |a - r| <= {atol:g} + {rtol:g}*|r|)"
        )


def _unchanged(what: str, before: list, after: list) -> None:
    """The arrays ``after`` still hold the values ``before`` (copies): the driver reads a
    state, a weight, a gradient and a cache again after the cell has seen them."""
    for (name, old), new in zip(before, after):
        if not np.array_equal(old, new, equal_nan=True):
            raise AssertionError(
                f"{what} wrote into {name}: a cell must not write into its arguments or its cache "
                "(the driver reads them again: the states are the results, and with bp_lim a cache "
                "goes back through the cell more than once); work on new arrays"
            )


def _step_backward_against_differences(
    cell: Cell, p: dict, D: int, widths: tuple, rng: np.random.Generator, eps: float, atol: float, rtol: float
) -> None:
    """step_backward of a random step against central differences of L = Σ ds ⊙ step, and
    neither writing into what the driver reads again."""
    n = 3
    a = {g: rng.uniform(-1, 1, (n, D)) for g in cell.gates}
    s = [rng.uniform(-1, 1, (n, w)) for w in widths]
    ds = [rng.normal(size=(n, w)) for w in widths]

    def loss(p: dict, a: dict, s: list) -> float:
        # ``a`` is the cell's to overwrite (the driver does not read it again): a copy each time
        new = as_parts(cell, cell.step(p, {g: v.copy() for g, v in a.items()}, from_parts(cell, s))[0])
        return float(sum((d * x).sum() for d, x in zip(ds, new)))

    kept = [(f"p[{w!r}]", v.copy()) for w, v in p.items()]
    kept += [(f"s (part {part!r})", v.copy()) for part, v in zip(cell.state, s)]
    _, cache = cell.step(p, {g: v.copy() for g, v in a.items()}, from_parts(cell, s))
    _unchanged(f"{type(cell).__name__}.step", kept, [*p.values(), *s])
    kept = [(f"p[{w!r}]", v.copy()) for w, v in p.items()]
    kept += [(f"ds (part {part!r})", v.copy()) for part, v in zip(cell.state, ds)]
    kept += [(f"its cache[{k}]", np.array(v, copy=True)) for k, v in enumerate(cache)]
    da, ds_prev, dp = cell.step_backward(p, from_parts(cell, ds), cache)
    _unchanged(f"{type(cell).__name__}.step_backward", kept, [*p.values(), *ds, *cache])
    checks = [(f"step_backward's da[{g!r}]", da[g], a[g]) for g in cell.gates]
    checks += [
        (f"step_backward's ds_prev (part {part!r})", d, x)
        for part, d, x in zip(cell.state, as_parts(cell, ds_prev), s)
    ]
    checks += [(f"step_backward's dp[{w!r}]", dp[w], p[w]) for w in cell.weights]
    for what, analytic, x in checks:
        numeric = np.zeros(np.shape(x))
        for i in np.ndindex(numeric.shape):
            old = x[i]
            x[i] = old + eps
            up = loss(p, a, s)
            x[i] = old - eps
            down = loss(p, a, s)
            x[i] = old
            numeric[i] = (up - down) / (2 * eps)
        _compare(what + " (against finite differences of step)", analytic, numeric, atol, rtol)


def check_cell(
    cell: Cell,
    input_size: int = 3,
    hidden_size: int = 4,
    *,
    params: Mapping[str, np.ndarray] | None = None,
    steps: int = 5,
    batch: int = 3,
    seed: int = 0,
    eps: float = 1e-6,
    atol: float = 1e-6,
    rtol: float = 1e-5,
) -> None:
    """Checks a cell's backward, and :func:`mygru.recurrence` on it, in float64.

    First the cell's ``step_backward`` against central finite differences of its
    ``step`` (every gate's ``da``, every part of ``ds_prev``, every weight's ``dp``), then
    the whole operation against the plain reference driver (``mygru.plain.cell``, a
    Python loop over the cell's own steps): the states, ``.grad`` of every state part,
    and the gradients of X, every parameter and the initial state, with full BPTT,
    ``bp_lim``, ``lengths``, ``dropout`` and the three together.

    Parameters
    ----------
    cell : mygru.Cell
        The cell to check.
    input_size, hidden_size : int
        C and D of the problem it is checked on.
    params : None or dict of ndarray, keyword-only
        The parameters to check at (``"U" + g``, ``"b" + g``, the weights); None draws
        them from a normal distribution of scale 0.5, the weights of the shapes
        ``cell.shapes(input_size, hidden_size)`` gives.
    steps, batch : int, keyword-only
        T and N of the problem.
    seed : int, keyword-only
        Seeds the problem's values and the dropout masks.
    eps : float, keyword-only
        The finite-difference step.
    atol, rtol : float, keyword-only
        A value a passes against the reference r if abs(a − r) <= atol + rtol·abs(r).

    Raises
    ------
    AssertionError
        Naming the first gradient (or state) that disagrees, and where.
    TypeError, ValueError
        For a bad argument or a cell that breaks the protocol (as :func:`mygru.recurrence`).

    Examples
    --------
    >>> import numpy as np, mygru
    >>> class Elman(mygru.Cell):
    ...     gates, weights = ("",), ("W",)
    ...     def step(self, p, a, s):
    ...         s_new = np.tanh(a[""] + s @ p["W"])
    ...         return s_new, (s, s_new)
    ...     def step_backward(self, p, ds, cache):
    ...         s, s_new = cache
    ...         da = ds * (1 - s_new**2)
    ...         return {"": da}, da @ p["W"].T, {"W": s.T @ da}
    >>> mygru.check_cell(Elman())  # silent: the backward is right
    """
    gates, weights, _state, expected = check_cell_class(cell)
    C, D = check_int("input_size", input_size, 1), check_int("hidden_size", hidden_size, 1)
    T, N = check_int("steps", steps, 2), check_int("batch", batch, 2)
    seed = check_int("seed", seed, 0)
    check_tolerances(eps, atol, rtol)
    rng = np.random.default_rng(seed)
    made = None  # the weights' shapes, when check_cell makes the parameters
    if params is None:
        made = cell.shapes(C, D)
        shapes: dict[str, tuple[int, ...]] = {f"U{g}": (C, D) for g in gates}
        shapes.update({f"b{g}": (D,) for g in gates if cell.bias})
        shapes.update(made)
        params = {name: 0.5 * rng.normal(size=shapes[name]) for name in expected}
    else:
        check_param_names(cell, params, expected)
    p = {name: np.array(v, dtype=np.float64) for name, v in params.items()}
    for name, v in p.items():
        if not np.all(np.isfinite(v)):
            raise ValueError(f"params[{name!r}] must hold finite numbers")
    w = {name: p[name] for name in weights}
    widths = check_widths(cell, D, w)
    if made is not None:  # a cell whose weights do not have the default shapes fails here
        try:
            zeros = [np.zeros((2, k)) for k in widths]
            cell.step(w, {g: np.zeros((2, D)) for g in gates}, from_parts(cell, zeros))
        except (ValueError, IndexError, KeyError) as e:
            owner = type(cell).__name__
            raise ValueError(
                f"{owner}'s step failed on weights of the shapes {owner}.shapes({C}, {D}) gives, {made} "
                f"({type(e).__name__}: {e}): give {owner} a shapes() method that returns its weights' "
                "shapes, or pass params="
            ) from e
    try_cell(cell, w, D, widths, np.float64)  # what step and step_backward return, by name
    X = rng.normal(size=(T, N, C))
    s0 = [0.5 * rng.normal(size=(N, k)) for k in widths]
    _step_backward_against_differences(cell, w, D, widths, rng, eps, atol, rtol)

    lengths = rng.integers(1, T + 1, size=N)
    lengths[0] = T
    for bp_lim, lens, dropout in [
        (None, None, 0.0),
        (1, None, 0.0),
        (None, lengths, 0.0),
        (None, None, 0.4),
        (1, lengths, 0.4),
    ]:
        setting = f"bp_lim={bp_lim}, lengths={'None' if lens is None else list(lens)}, dropout={dropout}"
        tensors = {name: mg.tensor(v) for name, v in p.items()}
        t0 = [mg.tensor(v) for v in s0]
        Xt = mg.tensor(X)
        out = recurrence(
            cell,
            Xt,
            tensors,
            from_parts(cell, t0),
            bp_lim,
            dropout,
            rng=seed,
            lengths=None if lens is None else lens,
        )
        out = as_parts(cell, out)
        masks = out[0].creator.dropout_masks or {}
        grads = [rng.normal(size=o.shape) for o in out]
        sum((o * g).sum() for o, g in zip(out, grads)).backward()
        states, caches = plain.forward(cell, p, X, from_parts(cell, s0), masks, lens)
        dS, dX, dW = plain.backward(cell, p, grads, caches, masks, bp_lim)
        where = f"recurrence ({setting}) against the plain driver:"
        for part, o, want in zip(cell.state, out, states):
            _compare(f"{where} the states (part {part!r})", o.data, want, atol, rtol)
        for part, o, want in zip(cell.state, out, dS):
            _compare(f"{where} .grad of the part {part!r}", o.grad, want, atol, rtol)
        for name in expected:
            _compare(f"{where} the gradient of {name}", tensors[name].grad, dW[name], atol, rtol)
        _compare(f"{where} the gradient of X", Xt.grad, dX, atol, rtol)
        for part, t, want in zip(cell.state, t0, dS):
            _compare(
                f"{where} the gradient of the initial state (part {part!r})", t.grad, want[0], atol, rtol
            )
