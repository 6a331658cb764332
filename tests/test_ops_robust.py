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


# --------------------------------------------------------------------------- deep copies


@pytest.mark.parametrize("op, gates", [(_gru, 3), (_rnn, 1), (_lstm, 4)], ids=["gru", "rnn", "lstm"])
def test_backward_through_a_deep_copy_fills_the_copy_and_leaves_the_original(op, gates):
    params = _params(gates)
    outs = op(params)
    outs2, params2 = copy.deepcopy((outs, params))
    sum(((o * o).sum() for o in outs2), mg.tensor(0.0)).backward()

    fresh = _params(gates)
    want = op(fresh)
    sum(((o * o).sum() for o in want), mg.tensor(0.0)).backward()
    for o2, w in zip(outs2, want):
        np.testing.assert_allclose(o2.grad, w.grad, rtol=1e-12)
    for p2, w in zip(params2, fresh):
        np.testing.assert_allclose(p2.grad, w.grad, rtol=1e-12)
    assert all(o.grad is None for o in outs) and all(p.grad is None for p in params)

    # and the original still runs its own backward
    sum(((o * o).sum() for o in outs), mg.tensor(0.0)).backward()
    for o, w in zip(outs, want):
        np.testing.assert_allclose(o.grad, w.grad, rtol=1e-12)


def test_a_deep_copy_of_the_hidden_states_alone_has_no_cell_states_to_fill():
    s, c = mygru.lstm(X, *_params(4))
    s2 = copy.deepcopy(s)
    s2.sum().backward()
    assert s2.grad.shape == (T + 1, N, D) and s.grad is None and c.grad is None


@pytest.mark.parametrize("kind", ["GRU", "LSTM"])
def test_a_deep_copy_of_a_modules_results_back_propagates_into_the_copied_parameters(kind):
    from mygru import nn

    x = np.random.default_rng(0).normal(size=(5, 3, 3)).astype(np.float32)
    m = getattr(nn, kind)(3, 4, num_layers=2, bidirectional=True, rng=0)
    output, _ = m(x, lengths=[5, 2, 3])
    output2, params2 = copy.deepcopy((output, m.parameters))
    (output2**2).sum().backward()
    ref = getattr(nn, kind)(3, 4, num_layers=2, bidirectional=True, rng=0)
    want, _ = ref(x, lengths=[5, 2, 3])
    (want**2).sum().backward()
    for p2, p in zip(params2, ref.parameters):
        np.testing.assert_allclose(p2.grad, p.grad, rtol=1e-5, atol=1e-6)
    assert all(p.grad is None for p in m.parameters)
