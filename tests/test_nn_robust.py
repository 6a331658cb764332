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


# --------------------------------------------------------------------------- carried state


def test_detach_gives_constant_copies_of_a_tensor_or_a_tuple():
    h = mg.tensor(np.ones((1, 2, 3))) * 2
    d = nn.detach(h)
    assert isinstance(d, mg.Tensor) and d.constant and d.creator is None
    np.testing.assert_array_equal(d.data, h.data)
    assert not np.shares_memory(d.data, h.data)
    pair = nn.detach((h, mg.tensor(np.zeros(3))))
    assert isinstance(pair, tuple) and all(t.constant for t in pair)
    assert nn.detach([h, h])[1].shape == (1, 2, 3)
    assert nn.detach(np.zeros(2)).constant


@pytest.mark.parametrize("bad", [None, "h", 3, {"h": 1}])
def test_detach_refuses_what_is_not_a_state(bad):
    with pytest.raises(TypeError, match="state must be"):
        nn.detach(bad)


@pytest.mark.parametrize("cls", [nn.GRU, nn.RNN, nn.LSTM])
@pytest.mark.parametrize("detach", [False, True])
def test_a_state_carried_across_batches_works(cls, detach):
    """``out, h = m(x, h)``, backward, next batch with h: the spent h is read as a
    constant (what ``nn.detach(h)`` makes of it), so both loops give the same numbers."""
    rng = np.random.default_rng(0)
    batches = rng.normal(size=(3, 6, 2, 3)).astype(np.float32)
    m = cls(3, 4, rng=0)
    state, losses = None, []
    for x in batches:
        out, state = m(x, state)
        loss = (out**2).sum()
        loss.backward()
        losses.append((float(loss.data), m.weight_hh_l0.grad.copy()))
        if detach:
            state = nn.detach(state)
    ref = cls(3, 4, rng=0)
    state = None
    for x, (loss, grad) in zip(batches, losses):
        out, state = ref(x, None if state is None else nn.detach(state))
        (out**2).sum().backward()
        assert float((out**2).sum().data) == pytest.approx(loss, rel=1e-6)
        np.testing.assert_allclose(ref.weight_hh_l0.grad, grad, rtol=1e-6)


@pytest.mark.parametrize("cls", [nn.GRUCell, nn.RNNCell, nn.LSTMCell])
def test_a_cell_state_carried_across_backward_passes_works(cls):
    cell = cls(3, 4, rng=0)
    state = None
    for x in np.random.default_rng(0).normal(size=(3, 2, 3)).astype(np.float32):
        state = cell(x, state)
        _first(state).sum().backward()
    assert cell.weight_ih.grad is not None


@pytest.mark.parametrize("cell", ["LSTM", "Carry3"])
def test_a_state_of_several_parts_carried_through_nn_recurrent_works(cell):
    import user_cells

    rng = np.random.default_rng(0)
    batches = rng.normal(size=(3, 5, 2, 3)).astype(np.float32)
    m, ref = (nn.Recurrent(getattr(user_cells, cell)(), 3, 4, rng=0) for _ in range(2))
    state = ref_state = None
    for x in batches:
        out, state = m(x, state)
        (out**2).sum().backward()
        want, ref_state = ref(x, None if ref_state is None else nn.detach(ref_state))
        (want**2).sum().backward()
        for p, q in zip(m.parameters, ref.parameters):
            np.testing.assert_allclose(p.grad, q.grad, rtol=1e-6)


def test_a_spent_state_a_few_operations_past_the_module_is_read_as_a_constant():
    m = nn.LSTM(3, 4, rng=0)
    x = np.ones((5, 2, 3), np.float32)
    out, (h, c) = m(x)
    hx = (mg.tanh(h * 2.0) + 0.0, c[:, ::-1] * 1.0)  # the user's own steps between calls
    out.sum().backward()
    out, _ = m(x, hx)
    out.sum().backward()
    assert m.weight_ih_l0.grad is not None


def test_the_functional_ops_read_a_spent_initial_state_as_a_constant():
    rng = np.random.default_rng(0)
    params = [mg.tensor(rng.normal(size=shape)) for shape in [(3, 4), (4, 4), (4,)] * 3]
    s = mygru.gru(rng.normal(size=(5, 2, 3)), *params, s0=mg.tensor(np.zeros((2, 4))))
    last = s[-1]
    s.sum().backward()
    X2 = rng.normal(size=(5, 2, 3))
    mygru.gru(X2, *params, s0=last).sum().backward()
    got = params[0].grad.copy()
    mygru.gru(X2, *params, s0=last.data).sum().backward()
    np.testing.assert_array_equal(got, params[0].grad)


# --------------------------------------------------------------------------- torch's hx


@pytest.mark.parametrize(
    "cls, x, h",
    [
        (nn.GRU, np.ones((5, 2, 3)), np.full((1, 2, 4), 0.5)),
        (nn.RNN, np.ones((5, 2, 3)), np.full((1, 2, 4), 0.5)),
        (nn.GRUCell, np.ones((2, 3)), np.full((2, 4), 0.5)),
        (nn.RNNCell, np.ones((2, 3)), np.full((2, 4), 0.5)),
    ],
    ids=["GRU", "RNN", "GRUCell", "RNNCell"],
)
def test_torchs_keyword_hx_is_the_initial_state(cls, x, h):
    m = cls(3, 4, rng=0)
    x, h = x.astype(np.float32), h.astype(np.float32)
    by_hx, positional = _first(m(x, hx=h)), _first(m(x, h))
    np.testing.assert_array_equal(by_hx.data, positional.data)
    name = "h0" if cls in (nn.GRU, nn.RNN) else "h"
    np.testing.assert_array_equal(_first(m(x, **{name: h})).data, positional.data)
    with pytest.raises(TypeError, match=f"{name} or hx"):
        m(x, h, hx=h)


# --------------------------------------------------------------------------- the user's names


@pytest.mark.parametrize(
    "cls, args, name, shape, x",
    [
        (nn.GRU, (3, 4), "weight_ih_l0", (12, 3), np.ones((5, 2, 3))),
        (nn.LSTM, (3, 4, 2), "weight_hh_l1", (16, 4), np.ones((5, 2, 3))),
        (nn.RNN, (3, 4), "bias_hh_l0", (4,), np.ones((5, 2, 3))),
        (nn.GRUCell, (3, 4), "weight_hh", (12, 4), np.ones((2, 3))),
    ],
)
def test_a_parameter_of_the_wrong_shape_is_named_at_the_call(cls, args, name, shape, x):
    m = cls(*args)
    setattr(m, name, mg.tensor(np.zeros((5, 5), np.float32)))
    with pytest.raises(ValueError, match=rf"{name} must have shape \({shape[0]},") as info:
        m(x.astype(np.float32))
    assert str(shape) in str(info.value) and "(5, 5)" in str(info.value)


@pytest.mark.parametrize("value, kind", [(None, "None"), ([0.0] * 12, "list"), (np.zeros(12), "ndarray")])
def test_a_parameter_that_is_no_tensor_is_named_by_the_call_and_state_dict(value, kind):
    m = nn.GRU(3, 4)
    m.bias_hh_l0 = value
    with pytest.raises(TypeError, match=f"bias_hh_l0 must be a mygrad Tensor.*got {kind}"):
        m(np.ones((5, 2, 3), np.float32))
    with pytest.raises(TypeError, match="bias_hh_l0 must be a mygrad Tensor"):
        m.state_dict()
    m.weight_hh_l0 = None
    with pytest.raises(TypeError, match="weight_hh_l0 must be a mygrad Tensor"):
        m(np.ones((5, 2, 3), np.float32))


def test_a_parameter_over_memory_mygrad_cannot_lock_is_named():
    m = nn.GRU(3, 32)
    m.weight_hh_l0 = pickle.loads(pickle.dumps(mg.tensor(np.zeros((96, 32), np.float32))))
    with pytest.raises(
        TypeError, match=r"weight_hh_l0 is a mygrad Tensor over memory that mygrad cannot lock"
    ):
        m(np.ones((5, 2, 3), np.float32))


# --------------------------------------------------------------------------- from torch


@pytest.mark.parametrize(
    "name, flags",
    [
        ("GRUCell", {"bias": 1}),
        ("RNNCell", {"bias": 0}),
        ("LSTMCell", {"bias": 1}),
        ("GRU", {"bidirectional": 1}),
        ("LSTM", {"bidirectional": 0}),
    ],
)
def test_from_torch_takes_the_ints_torch_accepts_for_its_flags(name, flags):
    torch = pytest.importorskip("torch")
    t = getattr(torch.nn, name)(3, 4, **flags)
    m = getattr(nn, name).from_torch(t)
    ((flag, value),) = flags.items()
    assert getattr(m, flag) is bool(value)
    assert m.to_torch().state_dict().keys() == t.state_dict().keys()
