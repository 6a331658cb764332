"""Central finite differences in float64 against the hand-written backward."""

import re
import warnings
from pathlib import Path

import mygrad as mg
import numpy as np
import pytest

import mygru


def numerical_grads(f, arrays, eps=1e-6):
    """d f(*arrays) / d arrays[i] for a scalar function f of numpy arrays."""
    out = []
    for a in arrays:
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            old = a[idx]
            a[idx] = old + eps
            hi = f(*arrays)
            a[idx] = old - eps
            lo = f(*arrays)
            a[idx] = old
            g[idx] = (hi - lo) / (2 * eps)
        out.append(g)
    return out


CASES = [
    ("gru", {}),
    ("gru", {"dropout": 0.4, "rng": 3}),  # a seeded rng draws the same masks each call
    ("gru", {"lengths": [1, 3]}),
    ("gru", {"reset_after": True}),
    ("gru", {"reset_after": True, "dropout": 0.3, "rng": 1}),
    ("rnn", {}),
    ("rnn", {"nonlinearity": "relu", "dropout": 0.25, "rng": 2}),
]


@pytest.mark.parametrize("kind, kwargs", CASES)
def test_gradients_match_finite_differences(kind, kwargs):
    rng = np.random.default_rng(11)
    T, N, C, D = 3, 2, 3, 2
    X = rng.normal(size=(T, N, C))
    if kind == "gru":
        shapes = [(C, D), (D, D), (D,)] * 3 + ([(D,)] if kwargs.get("reset_after") else [])
    else:
        shapes = [(C, D), (D, D), (D,)]
    params = [rng.normal(size=sh) * 0.7 for sh in shapes]
    s0 = rng.normal(size=(N, D)) * 0.5
    weights = rng.normal(size=(T + 1, N, D))

    def call(X, s0, *params):
        if kind == "gru":
            extra = {"bhn": params[9]} if kwargs.get("reset_after") else {}
            return mygru.gru(X, *params[:9], s0=s0, **extra, **kwargs)
        return mygru.rnn(X, *params, s0=s0, **kwargs)

    def loss(*arrays):
        return float((call(*arrays).data * weights).sum())

    arrays = [X, s0, *params]
    tensors = [mg.tensor(a) for a in arrays]
    (call(*tensors) * weights).sum().backward()
    for name, t, num in zip(["X", "s0", *range(len(params))], tensors, numerical_grads(loss, arrays)):
        np.testing.assert_allclose(t.grad, num, atol=1e-7, rtol=1e-6, err_msg=str(name))


# --------------------------------------------------------------------------- non-finite values (docs: conventions)


KINDS = ["gru", "lstm", "rnn"]  # the cells whose states stay finite for an infinite input (tanh only)
GATES = {"gru": 3, "lstm": 4, "rnn": 1, "relu": 1}


def nonfinite_case(kind, X):
    rng = np.random.default_rng(5)
    C, D = X.shape[-1], 4
    params = [mg.tensor(rng.normal(size=sh) * 0.5) for sh in [(C, D), (D, D), (D,)] * GATES[kind]]
    Xt = mg.tensor(X)
    if kind == "gru":
        s = mygru.gru(Xt, *params)
    elif kind == "lstm":
        s = mygru.lstm(Xt, *params)[0]
    else:
        s = mygru.rnn(Xt, *params, nonlinearity="relu" if kind == "relu" else "tanh")
    s.backward(np.ones(s.shape))
    return s, Xt, params


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", [*KINDS, "relu"])
def test_nan_spreads_silently_to_what_it_reaches(kind, dtype):
    X = np.random.default_rng(6).normal(size=(4, 2, 3)).astype(dtype)
    X[1, 0, 0] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no error and no warning
        s, Xt, params = nonfinite_case(kind, X)
    assert np.all(np.isfinite(s.data[:2])) and np.all(np.isfinite(s.data[:, 1]))  # before it, and batch row 1
    assert np.all(np.isnan(s.data[2:, 0]))
    weights = [p for p in params if p.ndim == 2]
    assert all(np.isnan(p.grad).any() for p in weights)
    assert np.isfinite(Xt.grad[:, 1]).all()
    if kind != "relu":  # (relu's derivative at a NaN state is 0: NaN > 0 is False)
        assert np.isnan(Xt.grad[:2, 0]).all() and all(np.isnan(p.grad).any() for p in params)


def _conventions_page():
    """The text of docs/conventions.md, each run of white space one space (so that a quote
    broken across lines reads whole)."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "conventions.md").read_text(encoding="utf-8")
    return " ".join(text.split())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", KINDS)
def test_inf_in_x_saturates_the_states_and_makes_the_input_weights_gradient_nan(kind, dtype):
    X = np.random.default_rng(6).normal(size=(4, 2, 3)).astype(dtype)
    X[1, 0, 0] = np.inf
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        s, Xt, params = nonfinite_case(kind, X)
    assert np.all(np.isfinite(s.data)) and np.all(np.isfinite(Xt.grad))
    assert np.isnan(params[0].grad).any() and np.all(np.isfinite(params[1].grad))
    # any warning is one that the conventions page quotes (which ones come depends on
    # numpy's version and its BLAS)
    quoted = set(re.findall(r"invalid value encountered in (\w+)", _conventions_page()))
    for w in seen:
        assert w.category is RuntimeWarning
        said = re.fullmatch(r"invalid value encountered in (\w+)", str(w.message))
        assert said and said[1] in quoted, f"{w.message!r} is not what the conventions page quotes ({quoted})"


def test_inf_in_x_makes_the_relu_cells_states_non_finite():
    X = np.random.default_rng(6).normal(size=(4, 2, 3))
    X[1, 0, 0] = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        s, _, _ = nonfinite_case("relu", X)
    assert not np.all(np.isfinite(s.data[2:, 0])) and np.all(np.isfinite(s.data[:, 1]))


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_overflow_inside_the_gated_loops_is_silent_and_saturates_the_gates(kind):
    """An initial state near float32's largest number: the products S_0 W overflow inside
    the loop, with no warning and no error even under ``np.errstate(over="raise")``; the
    states never become infinite: a gate saturates, or where overflowing terms of both
    signs meet (∞ − ∞, in an order that depends on numpy's BLAS) the state is NaN."""
    rng = np.random.default_rng(8)
    T, N, C, D = 4, 2, 3, 5
    params = [(rng.normal(size=sh) * 3).astype(np.float32) for sh in [(C, D), (D, D), (D,)] * GATES[kind]]
    s0 = np.where(rng.random((N, D)) < 0.5, -3e38, 3e38).astype(np.float32)
    X = rng.normal(size=(T, N, C)).astype(np.float32)
    with warnings.catch_warnings(), np.errstate(over="raise"):
        warnings.simplefilter("error")
        s = mygru.gru(X, *params, s0=s0) if kind == "gru" else mygru.lstm(X, *params, s0=s0)[0]
    assert not np.isinf(s.data).any()
    with np.errstate(over="ignore", invalid="ignore"):
        assert not np.isfinite(s0 @ params[1]).all()  # the product did overflow (to ±∞, or NaN)


def test_a_relu_cell_with_gain_above_one_overflows_float32_after_88_over_ln_gain_steps():
    """States grow as gain^t: in float32 they become inf near t = ln(3.4e38) / ln(gain) with
    numpy's overflow warning, then the backward gives NaN (inf − inf, inf · 0); float64
    holds 8 times as many steps."""
    T, N, C, D, gain = 60, 2, 3, 4, 8.0
    rng = np.random.default_rng(7)
    X, U = np.abs(rng.normal(size=(T, N, C))), np.abs(rng.normal(size=(C, D)))
    W, b = np.eye(D) * gain, np.zeros(D)
    W32 = mg.tensor(W.astype(np.float32))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        s = mygru.rnn(*(a.astype(np.float32) for a in (X, U)), W32, b.astype(np.float32), nonlinearity="relu")
        s.backward(np.ones(s.shape))
    # any warning is one that the conventions page quotes
    quoted = set(re.findall(r"(?:invalid value|overflow) encountered in \w+", _conventions_page()))
    for w in seen:
        assert w.category is RuntimeWarning and str(w.message) in quoted, (str(w.message), quoted)
    first_inf = np.argmax(np.isinf(s.data).any(axis=(1, 2)))
    assert s.dtype == np.float32 and abs(first_inf - 88.7 / np.log(gain)) < 4
    assert np.isnan(W32.grad).any()
    assert np.all(np.isfinite(mygru.rnn(X, U, W, b, nonlinearity="relu").data))
