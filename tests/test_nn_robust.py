"""What users meet around the modules' maths: pickle, deepcopy and worker processes, a
state carried across batches (``mygru.nn.detach``), torch's ``hx`` keyword, parameters
replaced by hand (errors in the user's names) and ``from_torch`` of what torch accepts."""

import copy
import multiprocessing
import pickle

import mygrad as mg
import numpy as np
import pytest

import mygru
from mygru import nn

# hidden sizes large enough that numpy unpickles the parameters onto a bytes buffer
MODULES = [
    (nn.GRU, (3, 32), (5, 2, 3)),
    (nn.RNN, (3, 64), (5, 2, 3)),
    (nn.LSTM, (3, 32), (5, 2, 3)),
    (nn.GRUCell, (3, 32), (2, 3)),
    (nn.RNNCell, (3, 64), (2, 3)),
    (nn.LSTMCell, (3, 32), (2, 3)),
]
IDS = [cls.__name__ for cls, _, _ in MODULES]


def _first(result):
    """The first Tensor of a module's result (output, h, or the LSTMCell's h)."""
    while isinstance(result, tuple):
        result = result[0]
    return result


def _run(m, x):
    """One forward and backward; returns the output's values and every parameter's gradient."""
    out = _first(m(x))
    (out * out).sum().backward()
    return out.data.copy(), [p.grad.copy() for p in m.parameters]


@pytest.mark.parametrize("cls, args, shape", MODULES, ids=IDS)
def test_a_module_survives_pickle_and_deepcopy_and_works_after(cls, args, shape):
    m = cls(*args, rng=0)
    x = np.random.default_rng(1).normal(size=shape).astype(np.float32)
    _first(m(x))  # a live graph on the parameters: pickled all the same
    want = _run(cls(*args, rng=0), x)
    for twin in (pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
        assert twin.parameters[0] is not m.parameters[0]
        out, grads = _run(twin, x)
        np.testing.assert_array_equal(out, want[0])
        for g, w in zip(grads, want[1]):
            np.testing.assert_array_equal(g, w)
    assert all(p.grad is None for p in m.parameters)  # the original is left alone


def _train_in_worker(m):
    """Runs in a "spawn" worker: one call and backward of the module it was sent."""
    x = np.ones((4, 2, m.input_size), m.dtype)
    output, _ = m(x)
    output.sum().backward()
    return float(output.data.sum()), m.weight_hh_l0.grad.shape


def test_a_module_goes_to_a_spawn_worker_and_trains_there():
    m = nn.LSTM(3, 32, rng=0)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        total, shape = pool.apply(_train_in_worker, (m,))
    output, _ = m(np.ones((4, 2, 3), np.float32))
    assert total == pytest.approx(float(output.data.sum()), rel=1e-6)
    assert shape == (128, 32)
