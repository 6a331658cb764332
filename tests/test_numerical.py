"""Central finite differences in float64 against the hand-written backward."""

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
