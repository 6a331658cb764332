"""``gradcheck``: compare mygrad's backward with central finite differences."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from numbers import Real
from typing import NamedTuple

import mygrad as mg
import numpy as np

__all__ = ["GradcheckError", "GradcheckReport", "InputCheck", "gradcheck"]


class InputCheck(NamedTuple):
    """The verdict on one input of :func:`gradcheck`.

    ``max_abs_err`` is max |a - n| over the elements (a: backward, n: finite
    differences); ``max_rel_err`` is max |a - n| / max(|n|, atol), so elements
    smaller than ``atol`` are judged by the absolute error; ``worst`` is the index
    of the element furthest from passing (closest to failing if all pass). For a
    constant input, which is skipped, all three and ``ok`` are None."""

    name: str
    shape: tuple[int, ...]
    max_abs_err: float | None
    max_rel_err: float | None
    worst: tuple[int, ...] | None
    ok: bool | None


class GradcheckReport(NamedTuple):
    """What :func:`gradcheck` found: one :class:`InputCheck` per input, the settings,
    and ``ok`` (every checked input passed). ``str(report)`` is a table."""

    inputs: tuple[InputCheck, ...]
    eps: float
    atol: float
    rtol: float

    @property
    def ok(self) -> bool:
        return all(check.ok is not False for check in self.inputs)

    def __str__(self) -> str:
        rows = [("input", "shape", "max abs err", "max rel err", "worst at", "result")]
        for c in self.inputs:
            if c.ok is None:
                rows.append((c.name, str(c.shape), "-", "-", "-", "skipped (constant)"))
            else:
                rows.append(
                    (
                        c.name,
                        str(c.shape),
                        f"{c.max_abs_err:.2e}",
                        f"{c.max_rel_err:.2e}",
                        "-" if c.worst is None else str(c.worst),
                        "ok" if c.ok else "FAILED",
                    )
                )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        settings = f"(eps={self.eps:g}; pass: |a - n| <= {self.atol:g} + {self.rtol:g}*|n|)"
        return "\n".join(lines + [settings])


class GradcheckError(AssertionError):
    """Raised by :func:`gradcheck` when an input's gradient is wrong; ``.report``
    holds the :class:`GradcheckReport`."""

    def __init__(self, report: GradcheckReport) -> None:
        failed = ", ".join(c.name for c in report.inputs if c.ok is False)
        super().__init__(f"gradient check failed for {failed}\n{report}")
        self.report = report


def check_tolerances(eps: float, atol: float, rtol: float) -> None:
    """The finite-difference step ``eps`` (finite, > 0) and the tolerances ``atol`` and
    ``rtol`` (finite, >= 0) of :func:`gradcheck` and :func:`mygru.check_cell`, by name."""
    for name, value in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        if isinstance(value, bool) or not isinstance(value, Real):
            raise TypeError(f"{name} must be a real number, got {value!r}")
    for name, value in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        if math.isinf(value):
            raise ValueError(f"{name} must be finite, got {value}")
    if not eps > 0:  # written so that NaN fails too
        raise ValueError(f"eps must be > 0, got {eps}")
    for name, value in (("atol", atol), ("rtol", rtol)):
        if not value >= 0:
            raise ValueError(f"{name} must be >= 0, got {value}")


def gradcheck(
    f: Callable[..., mg.Tensor],
    *tensors: mg.Tensor,
    eps: float = 1e-6,
    atol: float = 1e-6,
    rtol: float = 1e-5,
) -> GradcheckReport:
    """Checks mygrad's backward of ``f`` against central finite differences.

    Every input is copied to float64; the copies go through ``f`` and back through
    mygrad's backward, and each element of each non-constant copy is nudged by
    ``±eps`` to get the numerical derivative (f(x + eps) - f(x - eps)) / (2 eps).
    The output, of any shape, is reduced to the scalar ``sum(w * f(*tensors))``
    with fixed weights w ~ N(0, 1) drawn from ``numpy.random.default_rng(0)``: a plain
    sum would hide errors in directions that sum to zero (a softmax's outputs, for
    instance, always sum to 1). The inputs themselves are never written to and
    their ``grad`` is left alone.

    Parameters
    ----------
    f : callable
        Takes mygrad Tensors (as many as given) and returns a Tensor of any shape.
        It must be deterministic: seed any randomness (e.g. ``rng=3`` for dropout),
        and keep away from kinks such as relu at 0, where finite differences lie.
    *tensors : mygrad.Tensor
        The inputs of ``f``, finite (NaN or inf in any of them is refused, by name).
        Constant tensors (integer ones are always constant) are passed on but not
        checked; the report says they were skipped.
    eps : float > 0, finite
        The finite-difference step.
    atol, rtol : float >= 0, finite
        An element passes when ``|a - n| <= atol + rtol * |n|``, with a the backward's
        gradient and n the numerical one.

    Returns
    -------
    GradcheckReport
        Per input (named after ``f``'s parameters when it has them): shape, max
        absolute and relative error and where the worst one is. ``print`` it.

    Raises
    ------
    GradcheckError
        (an AssertionError) when any input fails, with the table in the message.
    TypeError, ValueError
        Before any work, for a bad argument, named: a non-finite ``eps``, ``atol`` or
        ``rtol``, or an input holding NaN or inf (with the index of the first one).

    Examples
    --------
    >>> import mygrad as mg, numpy as np
    >>> from mygru.gradcheck import gradcheck
    >>> x = mg.tensor([0.5, -1.0, 2.0])
    >>> w = mg.tensor([1.0, 2.0, 3.0], constant=True)
    >>> report = gradcheck(lambda x, w: mg.tanh(x) * w, x, w)
    >>> report.ok
    True
    >>> print(report)  # doctest: +NORMALIZE_WHITESPACE +ELLIPSIS
    input  shape  max abs err  max rel err  worst at  result
    -----  -----  -----------  -----------  --------  ------------------
    x      (3,)   ...e-...     ...e-...     (...,)    ok
    w      (3,)   -            -            -         skipped (constant)
    (eps=1e-06; pass: |a - n| <= 1e-06 + 1e-05*|n|)
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    if not tensors:
        raise ValueError("gradcheck needs at least one input tensor after f")
    for i, t in enumerate(tensors):
        if not isinstance(t, mg.Tensor):
            raise TypeError(
                f"tensors[{i}] must be a mygrad Tensor (wrap it: mg.tensor(x)), got {type(t).__name__}"
            )
    if all(t.constant for t in tensors):
        raise ValueError("every input tensor is constant: there is no gradient to check")
    check_tolerances(eps, atol, rtol)
    names = _names(f, len(tensors))
    for name, t in zip(names, tensors):
        bad = ~np.isfinite(t.data)
        if bad.any():
            where = tuple(int(k) for k in np.argwhere(bad)[0])
            raise ValueError(
                f"{name} holds {float(t.data[where])} at {where}: gradcheck needs finite inputs "
                "(a finite difference through NaN or inf says nothing about the backward)"
            )

    arrays = [t.data.astype(np.float64) for t in tensors]  # astype copies
    constant = [t.constant for t in tensors]
    copies = [mg.tensor(a, constant=c) for a, c in zip(arrays, constant)]
    out = f(*copies)
    if not isinstance(out, mg.Tensor):
        raise TypeError(f"f must return a mygrad Tensor, got {type(out).__name__}")
    weights = np.random.default_rng(0).normal(size=out.shape)
    mg.sum(out * weights).backward()

    def loss(values: list[np.ndarray]) -> float:
        """sum(w * f(*values)), without building a graph."""
        with mg.no_autodiff:
            out = f(*(mg.tensor(v, constant=c) for v, c in zip(values, constant)))
        return float(np.sum(out.data * weights))

    checks = []
    for i, (a, copy) in enumerate(zip(arrays, copies)):
        if copy.constant:
            checks.append(InputCheck(names[i], a.shape, None, None, None, None))
            continue
        # a graph that never reaches this input leaves grad None: its gradient is 0
        analytic = np.zeros_like(a) if copy.grad is None else copy.grad
        numeric = np.empty_like(a)
        values, nudged = list(arrays), a.copy()
        values[i] = nudged
        for idx in np.ndindex(a.shape):
            nudged[idx] = a[idx] + eps
            hi = loss(values)
            nudged[idx] = a[idx] - eps
            lo = loss(values)
            nudged[idx] = a[idx]
            numeric[idx] = (hi - lo) / (2 * eps)
        err = np.abs(analytic - numeric)
        margin = err - (atol + rtol * np.abs(numeric))  # > 0 where an element fails
        rel = err / np.maximum(np.abs(numeric), max(atol, np.finfo(np.float64).tiny))
        worst = None if not a.size else tuple(int(k) for k in np.unravel_index(np.argmax(margin), a.shape))
        checks.append(
            InputCheck(
                names[i],
                a.shape,
                float(err.max(initial=0.0)),
                float(rel.max(initial=0.0)),
                worst,
                bool(np.all(margin <= 0)),
            )
        )
    report = GradcheckReport(tuple(checks), eps, atol, rtol)
    if not report.ok:
        raise GradcheckError(report)
    return report


def _names(f: Callable[..., object], n: int) -> list[str]:
    """Name each input after f's positional parameters (``args[k]`` for ``*args``),
    or by position ("input 0") when f's signature says nothing."""
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):  # builtins and some C functions have no signature
        params = []
    names: list[str] = []
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            names += [f"{p.name}[{k}]" for k in range(n - len(names))]
        elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
        if len(names) >= n:
            break
    return names[:n] + [f"input {k}" for k in range(len(names), n)]
