"""The gates' sigmoid (``sigmoid_negated``): a few ulps from the exact value in both tails,
float32 and float64, and no RuntimeWarning for any input (the suite makes them errors);
the forward loops' form without the clamp (``sigmoid_negated_loop``) gives the same numbers
wherever σ is a normal number."""

import numpy as np
import pytest

from mygru._kernels.common import sigmoid_negated, sigmoid_negated_loop

mpmath = pytest.importorskip("mpmath")

# (dtype, x where σ(x) is still a normal number, x where σ(x) rounds to 1)
RANGES = {np.float32: (-87.3, 17.4), np.float64: (-708.3, 37.5)}


def exact(x):
    """σ(x) to 100 digits, as float64 (for float64 x: within half an ulp)."""
    with mpmath.workdps(100):
        return np.array([float(1 / (1 + mpmath.exp(-mpmath.mpf(float(v))))) for v in x])


def ulps(y, ref, dtype):
    """|y − ref| in ulps of ``dtype`` at ``ref``."""
    return np.abs(y.astype(np.float64) - ref) / np.spacing(ref.astype(dtype)).astype(np.float64)


def sigmoid(x):
    return sigmoid_negated(-x, np.empty_like(x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_few_ulps_in_both_tails(dtype):
    """Over the whole range where σ is a normal number, densest in the tails: the tanh form
    (1 + tanh(x/2)) / 2 was off by up to 10^8 ulps (float32) for negative x, 0 below −20."""
    lo, hi = RANGES[dtype]
    rng = np.random.default_rng(0)
    x = np.concatenate(
        [
            np.linspace(lo, hi, 2001),
            rng.uniform(lo, lo / 4, 500),  # the far negative tail
            rng.uniform(-20, 20, 1000),
            -np.logspace(-30, np.log10(-lo), 300),  # tiny and large negative
            np.logspace(-30, np.log10(hi), 300),
        ]
    ).astype(dtype)
    error = ulps(sigmoid(x), exact(x), dtype)
    assert error.max() <= 3, f"{error.max()} ulps at x = {x[error.argmax()]}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_examples_that_used_to_be_wrong(dtype):
    x = np.array([-17, -20, -38, -80], dtype)
    np.testing.assert_allclose(sigmoid(x), exact(x), rtol=4 * np.finfo(dtype).eps, atol=0)
    assert sigmoid(np.array([-17], np.float32))[0] == pytest.approx(4.1399375e-8, rel=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_any_input_with_no_warning(dtype):
    """Huge and infinite inputs with no RuntimeWarning: 1 above, and below the normal range
    a subnormal number that stays at σ(−88.7) ≈ 3.0e−39 (float32; σ(−709.7) ≈ 6.0e−309
    in float64) once exp(−x) would overflow; NaN stays NaN."""
    big = np.finfo(dtype).max
    floor = exact(np.array([-(88.7 if dtype == np.float32 else 709.7)], dtype))[0]
    x = np.array([-np.inf, -big, -1e30, -1e4, -800, 0.0, -0.0, 800, 1e4, 1e30, big, np.inf], dtype)
    expected = np.where(x < 0, floor, 1.0)
    expected[x == 0] = 0.5
    tiny = np.finfo(dtype).smallest_subnormal  # the ulp of a subnormal number
    np.testing.assert_allclose(
        sigmoid(x), expected.astype(dtype), rtol=4 * np.finfo(dtype).eps, atol=4 * tiny
    )
    assert np.isnan(sigmoid(np.array([np.nan], dtype))[0])
    lo = RANGES[dtype][0]
    tail = np.linspace(lo - 30, lo, 301).astype(dtype)
    y = sigmoid(tail)
    assert np.all((y > 0) & (y < 2 * np.finfo(dtype).smallest_normal)) and np.all(np.diff(y) >= 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_loops_form_is_the_same_where_sigma_is_normal_and_0_below(dtype):
    """Bit for bit the clamped form wherever σ(x) is normal (the clamp never acts there);
    below, inside the loops' errstate, 0 with no warning instead of the subnormal floor."""
    lo, hi = RANGES[dtype]
    rng = np.random.default_rng(4)
    x = np.concatenate([np.linspace(lo, hi + 30, 4001), rng.uniform(lo, 40, 2000), [np.inf, 1e30]])
    x = x.astype(dtype)
    np.testing.assert_array_equal(sigmoid_negated_loop(-x, np.empty_like(x)), sigmoid(x))
    below = np.array([lo - 2, -800, -1e30, -np.inf], dtype)
    with np.errstate(over="ignore"):
        y = sigmoid_negated_loop(-below, np.empty_like(below))
    assert np.all((y >= 0) & (y < 2 * np.finfo(dtype).smallest_normal))
    assert np.all(y[1:] == 0) and np.all(sigmoid(below) > 0)  # the clamped form's floor


def test_in_place_exactly():
    """The kernels call it in place on m = −x: same numbers as from a separate buffer."""
    h = np.random.default_rng(1).normal(size=(8, 6)).astype(np.float32) * 20
    expected = sigmoid_negated(h, np.empty_like(h))
    sigmoid_negated(h, h)
    np.testing.assert_array_equal(h, expected)


@pytest.mark.parametrize("reset_after", [False, True])
def test_a_saturated_gate_keeps_its_gradient_in_float32(reset_after):
    """With bz = −30 the update gate is about 1e−13: its bias's gradient (∝ Z (1 − Z)) was
    exactly 0 in float32 with the tanh form (σ(x) = 0 for x ≤ −20); now it matches the
    float64 reference unrolled in mygrad to float32 accuracy."""
    import mygrad as mg
    from reference import GRU_NAMES, as_f64_tensors, gru_cell, unroll

    import mygru

    T, N, C, D = 4, 3, 2, 3
    rng = np.random.default_rng(2)
    X = rng.normal(size=(T, N, C))
    shapes = {"U": (C, D), "W": (D, D), "b": (D,)}
    params = {k: rng.normal(size=shapes[k[0]]) * 0.5 for k in GRU_NAMES}
    params["bz"] = np.full(D, -30.0)
    extra = {"bhn": rng.normal(size=D)} if reset_after else {}

    ours = {k: mg.tensor(v.astype(np.float32)) for k, v in (params | extra).items()}
    s = mygru.gru(X.astype(np.float32), *(ours[k] for k in GRU_NAMES), reset_after=reset_after, **extra)
    s[1:].sum().backward()

    ref = as_f64_tensors(params | extra)
    states = unroll(lambda x, h: gru_cell(x, h, ref, reset_after=reset_after), X, mg.zeros((N, D)), 0, T)
    mg.stack(states[1:]).sum().backward()
    assert np.all(np.abs(ref["bz"].grad) > 1e-15)
    np.testing.assert_allclose(ours["bz"].grad, ref["bz"].grad, rtol=1e-4)


@pytest.mark.parametrize("gate", ["i", "f", "o"])
def test_an_lstm_gate_keeps_its_gradient_when_saturated_in_float32(gate):
    """The LSTM's sigmoid gates go through the same accurate sigmoid: with a bias of −30 a
    gate is about 1e−13, and its bias's gradient (∝ σ (1 − σ)) matches the float64
    reference unrolled in mygrad to float32 accuracy (the tanh form gave exactly 0)."""
    import mygrad as mg
    from reference import LSTM_NAMES, as_f64_tensors, lstm_cell, unroll

    import mygru

    T, N, C, D = 4, 3, 2, 3
    rng = np.random.default_rng(3)
    X = rng.normal(size=(T, N, C))
    shapes = {"U": (C, D), "W": (D, D), "b": (D,)}
    params = {k: rng.normal(size=shapes[k[0]]) * 0.5 for k in LSTM_NAMES}
    params["b" + gate] = np.full(D, -30.0)
    c0 = rng.normal(size=(N, D))

    ours = {k: mg.tensor(v.astype(np.float32)) for k, v in params.items()}
    s, c = mygru.lstm(X.astype(np.float32), *(ours[k] for k in LSTM_NAMES), c0=c0.astype(np.float32))
    (s[1:].sum() + c[1:].sum()).backward()

    ref = as_f64_tensors(params)
    start = mg.concatenate([mg.zeros((N, D)), mg.tensor(c0)], axis=1)
    states = unroll(lambda x, h: lstm_cell(x, h, ref), X, start, 0, T)
    mg.stack(states[1:]).sum().backward()
    assert np.all(np.abs(ref["b" + gate].grad) > 1e-15)
    np.testing.assert_allclose(ours["b" + gate].grad, ref["b" + gate].grad, rtol=1e-4)
