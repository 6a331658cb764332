"""The operations around their maths: a deep copy of a live result, and Tensors whose
memory mygrad cannot lock (numpy unpickles large arrays onto a ``bytes`` buffer)."""

import copy
import pickle

import mygrad as mg
import numpy as np
import pytest

import mygru

T, N, C, D = 5, 2, 3, 4


def _params(gates, seed=0):
    rng = np.random.default_rng(seed)
    return [mg.tensor(rng.normal(size=shape)) for shape in [(C, D), (D, D), (D,)] * gates]


X = np.random.default_rng(9).normal(size=(T, N, C))


def _gru(params):
    return (mygru.gru(X, *params),)


def _rnn(params):
    return (mygru.rnn(X, *params),)


def _lstm(params):
    return mygru.lstm(X, *params)


def _unpickled(a, constant):
    t = pickle.loads(pickle.dumps(mg.tensor(a, constant=constant)))
    assert isinstance(t.data.base, bytes)  # what this test is about
    return t


def _big_gru_args(Uz):
    """X and the nine parameters of a gru with D = 64, Uz as given, the rest zeros."""
    shapes = [(64, 64), (64,), (C, 64), (64, 64), (64,), (C, 64), (64, 64), (64,)]
    return [np.ones((T, N, C)), Uz, *(mg.tensor(np.zeros(shape)) for shape in shapes)]


def test_a_constant_tensor_over_unlockable_memory_is_read_as_its_values():
    Uz = _unpickled(np.random.default_rng(3).normal(size=(C, 64)), constant=True)
    args = _big_gru_args(Uz)
    s = mygru.gru(*args)
    s.sum().backward()
    assert s.shape == (T + 1, N, 64) and args[2].grad is not None


def test_a_tensor_over_unlockable_memory_that_wants_a_gradient_is_named():
    Uz = _unpickled(np.ones((C, 64)), constant=False)
    with pytest.raises(TypeError, match=r"Uz .*cannot lock.*mg\.tensor\(Uz\)"):
        mygru.gru(*_big_gru_args(Uz))
