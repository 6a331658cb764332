"""The same numbers as mygrad's own (numba) gru. Skipped when numba is absent."""

import mygrad as mg
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mygru

pytest.importorskip("numba")
pytest.importorskip("scipy")
from mygrad.nnet.layers import gru as mygrad_gru


def both(seed, T, N, C, D, dtype, bp_lim=None):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(T, N, C)).astype(dtype)
    arrays = [(rng.normal(size=sh) * 0.5).astype(dtype) for sh in [(C, D), (D, D), (D,)] * 3]
    s0 = (rng.normal(size=(N, D)) * 0.5).astype(dtype)
    grad = rng.normal(size=(T + 1, N, D)).astype(dtype)
    results = []
    for f in (mygru.gru, mygrad_gru):
        Xt, ps = mg.tensor(X), [mg.tensor(a) for a in arrays]
        s = f(Xt, *ps, s0=s0, bp_lim=bp_lim)
        out = s.data.copy()
        s.backward(grad)
        results.append((out, Xt.grad, [p.grad for p in ps]))
    return results


@settings(max_examples=15)
@given(
    seed=st.integers(0, 2**32 - 1),
    T=st.integers(1, 8),
    N=st.integers(1, 5),
    C=st.integers(1, 5),
    D=st.integers(1, 5),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_same_numbers_as_mygrad_gru(seed, T, N, C, D, dtype):
    (o1, x1, p1), (o2, x2, p2) = both(seed, T, N, C, D, dtype)
    tol = dict(atol=1e-10, rtol=1e-10) if dtype == np.float64 else dict(atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(o1, o2, **tol)
    np.testing.assert_allclose(x1, x2, **tol)
    for a, b in zip(p1, p2):
        np.testing.assert_allclose(a, b, **tol)
