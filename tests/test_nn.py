"""mygru.nn without torch: names, shapes, init, lengths, both dropouts and training mode,
state_dict, training with mynn's Adam, and every bad-argument rule. The parity tests
against torch are in test_nn_torch.py."""

import math
import re
import warnings

import mygrad as mg
import numpy as np
import pytest

from mygru import nn

T, N, C, H = 6, 4, 3, 5


def data(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


# --------------------------------------------------------------------------- parameters


def test_parameter_names_shapes_and_order_follow_torch():
    m = nn.GRU(C, H, num_layers=2, bidirectional=True)
    expected = {}
    for layer, width in ((0, C), (1, 2 * H)):
        for suffix in ("", "_reverse"):
            expected[f"weight_ih_l{layer}{suffix}"] = (3 * H, width)
            expected[f"weight_hh_l{layer}{suffix}"] = (3 * H, H)
            expected[f"bias_ih_l{layer}{suffix}"] = (3 * H,)
            expected[f"bias_hh_l{layer}{suffix}"] = (3 * H,)
    assert {name: a.shape for name, a in m.state_dict().items()} == expected
    assert list(m.state_dict()) == list(expected)
    assert m.parameters == tuple(getattr(m, name) for name in expected)
    assert all(isinstance(p, mg.Tensor) and not p.constant for p in m.parameters)

    r = nn.RNN(C, H, num_layers=2, bias=False)
    assert {n: a.shape for n, a in r.state_dict().items()} == {
        "weight_ih_l0": (H, C),
        "weight_hh_l0": (H, H),
        "weight_ih_l1": (H, H),
        "weight_hh_l1": (H, H),
    }
    assert list(nn.GRUCell(C, H).state_dict()) == ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    assert nn.RNNCell(C, H, bias=False).weight_hh.shape == (H, H)


@pytest.mark.parametrize("cls", [nn.GRU, nn.RNN, nn.GRUCell, nn.RNNCell])
def test_init_is_uniform_within_one_over_sqrt_hidden(cls):
    hidden = 64
    m = cls(16, hidden, rng=0)
    values = np.concatenate([p.data.ravel() for p in m.parameters])
    bound = 1 / math.sqrt(hidden)
    assert np.all(np.abs(values) <= bound)
    # U(-b, b): mean 0, standard deviation b/√3, and both ends reached
    assert abs(values.mean()) < 0.05 * bound
    assert values.std() == pytest.approx(bound / math.sqrt(3), rel=0.05)
    assert values.min() < -0.99 * bound and values.max() > 0.99 * bound


def test_dtype_and_rng():
    assert nn.GRU(C, H).weight_ih_l0.dtype == np.float32
    assert nn.GRU(C, H, dtype=None).weight_ih_l0.dtype == np.float32  # torch's default
    m = nn.RNN(C, H, dtype=np.float64, rng=3)
    assert all(p.dtype == np.float64 for p in m.parameters)
    out, h_n = m(data((T, N, C)))
    assert out.dtype == h_n.dtype == np.float64
    same = nn.RNN(C, H, dtype="float64", rng=np.random.default_rng(3))
    for a, b in zip(m.parameters, same.parameters):
        np.testing.assert_array_equal(a.data, b.data)
    np.random.seed(7)
    first = nn.GRUCell(C, H).state_dict()
    np.random.seed(7)  # rng=None draws from numpy's global RNG
    for name, value in nn.GRUCell(C, H).state_dict().items():
        np.testing.assert_array_equal(value, first[name])


# --------------------------------------------------------------------------- calling


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_shapes(bidirectional, batch_first):
    dirs = 2 if bidirectional else 1
    m = nn.GRU(C, H, num_layers=3, batch_first=batch_first, bidirectional=bidirectional)
    out, h_n = m(data((N, T, C) if batch_first else (T, N, C)).astype(np.float32))
    assert out.shape == ((N, T, dirs * H) if batch_first else (T, N, dirs * H))
    assert h_n.shape == (3 * dirs, N, H) and out.dtype == np.float32
    out, h_n = m(data((T, C)), data((3 * dirs, H)))  # unbatched, whatever batch_first says
    assert out.shape == (T, dirs * H) and h_n.shape == (3 * dirs, H)


def test_h_n_is_the_last_output_of_each_direction_without_lengths():
    m = nn.RNN(C, H, num_layers=2, bidirectional=True, dtype=np.float64, rng=0)
    out, h_n = m(data((T, N, C)))
    np.testing.assert_array_equal(h_n.data[2], out.data[-1, :, :H])  # last layer, forward
    np.testing.assert_array_equal(h_n.data[3], out.data[0, :, H:])  # last layer, reverse


@pytest.mark.parametrize("cls", [nn.GRU, nn.RNN])
@pytest.mark.parametrize("batch_first", [False, True])
def test_lengths_equal_running_each_sequence_alone(cls, batch_first):
    """Outputs, h_n and every gradient with lengths equal those of each sequence cut to its
    own length and run alone: the reverse direction starts at each sequence's last element."""
    lengths = [4, 6, 1, 3]
    m = cls(C, H, num_layers=2, bidirectional=True, batch_first=batch_first, dtype=np.float64, rng=1)
    x_all, h0_all = data((T, N, C), 1), data((4, N, H), 2)
    g_out, g_hn = data((T, N, 2 * H), 3), data((4, N, H), 4)

    x, h0 = mg.tensor(np.swapaxes(x_all, 0, 1) if batch_first else x_all), mg.tensor(h0_all)
    out, h_n = m(x, h0, lengths=lengths)
    out_tn = mg.swapaxes(out, 0, 1) if batch_first else out
    ((out_tn * g_out).sum() + (h_n * g_hn).sum()).backward()
    grads = {name: p.grad for name, p in zip(m.state_dict(), m.parameters)}
    dx = np.swapaxes(x.grad, 0, 1) if batch_first else x.grad

    alone = cls(C, H, num_layers=2, bidirectional=True, dtype=np.float64).load_state_dict(m.state_dict())
    totals = {name: 0 for name in grads}
    for n, L in enumerate(lengths):
        xn, h0n = mg.tensor(x_all[:L, n : n + 1]), mg.tensor(h0_all[:, n : n + 1])
        out_n, h_n_n = alone(xn, h0n)
        ((out_n * g_out[:L, n : n + 1]).sum() + (h_n_n * g_hn[:, n : n + 1]).sum()).backward()
        np.testing.assert_allclose(out_tn.data[:L, n], out_n.data[:, 0], rtol=1e-12, atol=1e-12)
        assert np.all(out_tn.data[L:, n] == 0)
        np.testing.assert_allclose(h_n.data[:, n], h_n_n.data[:, 0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(dx[:L, n], xn.grad[:, 0], rtol=1e-10, atol=1e-12)
        assert np.all(dx[L:, n] == 0)
        np.testing.assert_allclose(h0.grad[:, n], h0n.grad[:, 0], rtol=1e-10, atol=1e-12)
        for name, p in zip(alone.state_dict(), alone.parameters):
            totals[name] = totals[name] + p.grad
    for name, total in totals.items():
        np.testing.assert_allclose(grads[name], total, rtol=1e-10, atol=1e-12, err_msg=name)


def test_lengths_as_a_tensor_or_unsigned_integers():
    m = nn.GRU(C, H, bidirectional=True, rng=0)
    x = data((T, N, C))
    expected = m(x, lengths=[1, 2, 3, 6])[0].data
    np.testing.assert_array_equal(m(x, lengths=mg.tensor([1, 2, 3, 6]))[0].data, expected)
    np.testing.assert_array_equal(m(x, lengths=np.array([1, 2, 3, 6], np.uint8))[0].data, expected)


@pytest.mark.parametrize("cls", [nn.GRU, nn.RNN])
def test_h0_and_x_get_gradients_and_arrays_are_fine(cls):
    m = cls(C, H, num_layers=2)
    x, h0 = mg.tensor(data((T, N, C))), mg.tensor(data((2, N, H)))
    out, h_n = m(x, h0)
    (out.sum() + h_n.sum()).backward()
    assert x.grad.shape == x.shape and h0.grad.shape == h0.shape and np.any(h0.grad != 0)
    out2, _ = m(x.data, h0.data)  # plain arrays: no gradient to give, same numbers
    np.testing.assert_array_equal(out2.data, out.data)


@pytest.mark.parametrize("cls", [nn.GRUCell, nn.RNNCell])
def test_cells(cls):
    cell = cls(C, H, dtype=np.float64, rng=0)
    x, h = mg.tensor(data((N, C))), mg.tensor(data((N, H)))
    out = cell(x, h)
    assert out.shape == (N, H)
    out.sum().backward()
    assert x.grad.shape == (N, C) and h.grad.shape == (N, H)
    np.testing.assert_allclose(cell(x.data[1], h.data[1]).data, out.data[1], rtol=1e-14)  # unbatched
    np.testing.assert_array_equal(cell(x.data).data, cell(x.data, np.zeros((N, H))).data)


# --------------------------------------------------------------------------- dropout and modes


def test_train_and_eval_set_the_mode_and_return_the_module():
    m = nn.GRU(C, H)
    assert m.training is True
    assert m.eval() is m and m.training is False
    assert m.train() is m and m.training is True
    assert m.train(False) is m and m.training is False


@pytest.mark.parametrize("kwargs", [dict(dropout=0.5), dict(variational_dropout=0.5)])
@pytest.mark.parametrize("cls", [nn.GRU, nn.RNN])
def test_eval_is_deterministic_and_train_with_dropout_is_not(cls, kwargs):
    m = cls(C, H, num_layers=2, bidirectional=True, rng=0, **kwargs)
    x = data((T, N, C))
    m.eval()
    first, h_first = m(x)
    again, h_again = m(x)
    np.testing.assert_array_equal(first.data, again.data)
    np.testing.assert_array_equal(h_first.data, h_again.data)
    m.train()
    a, b = m(x)[0].data, m(x)[0].data
    assert not np.allclose(a, b) and not np.allclose(a, first.data)


def test_train_without_dropout_equals_eval():
    m = nn.GRU(C, H, num_layers=2, rng=0)
    x = data((T, N, C))
    np.testing.assert_array_equal(m(x)[0].data, m.eval()(x)[0].data)


def test_inter_layer_dropout_acts_between_layers_only():
    """With dropout=1 the last layer reads zeros, so a loss on ``output`` sends nothing
    back to layer 0; in eval mode it does."""
    m = nn.GRU(C, H, num_layers=2, dropout=1.0, rng=0)
    m(data((T, N, C)))[0].sum().backward()
    assert np.all(m.weight_ih_l0.grad == 0) and np.any(m.weight_hh_l1.grad != 0)
    m.eval()(data((T, N, C)))[0].sum().backward()
    assert np.any(m.weight_ih_l0.grad != 0)


def test_inter_layer_dropout_masks_are_torchs():
    """Layer 1 reads layer 0's output times an element-wise mask of 0 and 1/(1-p), about p of it 0."""
    p = 0.25
    m = nn.RNN(C, H, num_layers=2, dropout=p, dtype=np.float64, rng=0)
    layer0 = nn.RNN(C, H, dtype=np.float64).load_state_dict(
        {name: value for name, value in m.state_dict().items() if name.endswith("_l0")}
    )
    x = data((50, 40, C))
    inputs = []
    recurrence = m._recurrence

    def spy(X, *args):
        inputs.append(X.data)
        return recurrence(X, *args)

    m._recurrence = spy
    m(mg.tensor(x))
    kept = np.isclose(inputs[1], layer0(x)[0].data / (1 - p), rtol=1e-12, atol=0)
    assert np.all(kept | (inputs[1] == 0))
    assert abs(kept.mean() - (1 - p)) < 0.02


def test_dropout_with_one_layer_warns_as_torch_does():
    with pytest.warns(UserWarning, match="dropout=0.5 has no effect with num_layers=1"):
        nn.GRU(C, H, dropout=0.5)


def test_seeded_modules_reproduce_their_dropout():
    x = data((T, N, C))
    runs = [
        nn.GRU(C, H, num_layers=2, dropout=0.5, variational_dropout=0.3, rng=9)(x)[0].data for _ in range(2)
    ]
    np.testing.assert_array_equal(*runs)


# --------------------------------------------------------------------------- state_dict


def test_state_dict_round_trip_between_modules():
    a = nn.GRU(C, H, num_layers=2, bidirectional=True, dtype=np.float64, rng=0)
    b = nn.GRU(C, H, num_layers=2, bidirectional=True, rng=1)  # float32
    before = b.parameters
    assert b.load_state_dict(a.state_dict()) is b
    assert b.parameters == before  # the same Tensor objects: optimizers keep working
    for name, value in a.state_dict().items():
        assert getattr(b, name).dtype == np.float32
        np.testing.assert_array_equal(getattr(b, name).data, value.astype(np.float32))
    x = data((T, N, C))
    np.testing.assert_allclose(b(x)[0].data, a(x)[0].data, rtol=1e-5, atol=1e-6)


def test_state_dict_holds_copies():
    m = nn.RNNCell(C, H)
    sd = m.state_dict()
    sd["weight_ih"][...] = 0
    assert np.any(m.weight_ih.data != 0)


def test_load_state_dict_takes_tensors_and_a_graph_in_flight_is_no_obstacle():
    m = nn.GRUCell(C, H, rng=0)
    out = m(data((N, C)))  # mygrad holds the parameters read-only until backward
    m.load_state_dict({k: mg.tensor(v) * 2 for k, v in m.state_dict().items()})
    assert np.all(m.bias_ih.data != 0)
    out.sum().backward()


def test_load_state_dict_names_missing_and_unexpected_keys():
    m = nn.GRU(C, H)
    sd = m.state_dict()
    del sd["bias_hh_l0"]
    sd["weight_ih_l1"] = np.zeros((3 * H, H))
    with pytest.raises(
        ValueError, match=r"missing keys \['bias_hh_l0'\], unexpected keys \['weight_ih_l1'\]"
    ):
        m.load_state_dict(sd)


def test_load_state_dict_names_a_wrong_shape_and_writes_nothing():
    m = nn.GRU(C, H, num_layers=2)
    before = m.state_dict()
    sd = {k: v + 1 for k, v in before.items()}
    sd["weight_hh_l1"] = np.zeros((H, H))
    with pytest.raises(
        ValueError, match=r"state_dict\['weight_hh_l1'\] must have shape \(15, 5\), got shape \(5, 5\)"
    ):
        m.load_state_dict(sd)
    for name, value in before.items():
        np.testing.assert_array_equal(getattr(m, name).data, value)


def test_load_state_dict_rejects_non_mappings_and_non_numbers():
    m = nn.RNNCell(C, H)
    with pytest.raises(TypeError, match="state_dict must be a mapping of names to arrays, got list"):
        m.load_state_dict(list(m.state_dict().items()))
    sd = m.state_dict()
    sd["bias_ih"] = np.array(["a"] * H)
    with pytest.raises(TypeError, match=r"state_dict\['bias_ih'\] must hold real numbers"):
        m.load_state_dict(sd)


# --------------------------------------------------------------------------- training


def test_adam_trains_a_two_layer_gru():
    Adam = pytest.importorskip("mynn.optimizers.adam").Adam
    rng = np.random.default_rng(0)
    m = nn.GRU(2, 8, num_layers=2, rng=0)
    readout = mg.tensor(rng.normal(size=(8, 1)).astype(np.float32) * 0.3)
    x = rng.normal(size=(8, 32, 2)).astype(np.float32)
    y = x[:, :, :1].mean(axis=0)  # the mean of the first feature over time
    optimizer = Adam(m.parameters + (readout,), learning_rate=0.02)
    losses = []
    for _ in range(25):
        _, h_n = m(x)
        loss = mg.mean((mg.matmul(h_n[-1], readout) - y) ** 2)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]


# --------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    "kwargs, exc, message",
    [
        (dict(input_size=0), ValueError, "input_size must be an int >= 1, got 0"),
        (dict(input_size=2.0), TypeError, "input_size must be an int >= 1, got 2.0 of type float"),
        (dict(hidden_size=True), TypeError, "hidden_size must be an int >= 1, got True of type bool"),
        (dict(hidden_size=-3), ValueError, "hidden_size must be an int >= 1, got -3"),
        (dict(num_layers=0), ValueError, "num_layers must be an int >= 1, got 0"),
        (dict(bias=1), TypeError, "bias must be True or False, got 1 of type int"),
        (dict(batch_first="yes"), TypeError, "batch_first must be True or False, got 'yes'"),
        (dict(bidirectional=None), TypeError, "bidirectional must be True or False, got None"),
        (dict(dropout=1.5, num_layers=2), ValueError, "dropout must be in [0, 1], got 1.5"),
        (dict(dropout=-0.1, num_layers=2), ValueError, "dropout must be in [0, 1], got -0.1"),
        (
            dict(dropout="0.1", num_layers=2),
            TypeError,
            "dropout must be a number in [0, 1], got '0.1' of type str",
        ),
        (dict(variational_dropout=1.0), ValueError, "variational_dropout must be in [0, 1), got 1.0"),
        (
            dict(variational_dropout=True),
            TypeError,
            "variational_dropout must be a number in [0, 1), got True",
        ),
        (dict(dtype=np.int32), TypeError, "dtype must be float32 or float64, got <class 'numpy.int32'>"),
        (dict(dtype="float16"), TypeError, "dtype must be float32 or float64, got 'float16'"),
        (dict(dtype=3), TypeError, "dtype must be float32 or float64, got 3"),
        (
            dict(rng="seed"),
            TypeError,
            "rng must be None, an int seed >= 0 or a numpy.random.Generator, got 'seed'",
        ),
        (
            dict(rng=np.random.RandomState(0)),
            TypeError,
            "rng must be None, an int seed >= 0 or a numpy.random.Generator",
        ),
    ],
)
def test_bad_constructor_arguments(kwargs, exc, message):
    args = dict(input_size=C, hidden_size=H) | kwargs
    with pytest.raises(exc) as err:
        nn.GRU(**args)
    assert str(err.value).startswith(message)


@pytest.mark.parametrize("cls", [nn.RNN, nn.RNNCell])
def test_bad_nonlinearity(cls):
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu', got 'sigmoid'"):
        cls(C, H, nonlinearity="sigmoid")


@pytest.mark.parametrize("cls", [nn.GRUCell, nn.RNNCell])
def test_bad_cell_constructor_arguments(cls):
    with pytest.raises(ValueError, match="^hidden_size must be an int >= 1, got 0"):
        cls(C, 0)
    with pytest.raises(TypeError, match="^bias must be True or False"):
        cls(C, H, bias="no")
    with pytest.raises(TypeError, match="^dtype must be float32 or float64"):
        cls(C, H, dtype=np.complex128)


def test_bad_mode():
    with pytest.raises(TypeError, match="mode must be True or False, got 'eval'"):
        nn.GRU(C, H).train("eval")


@pytest.mark.parametrize(
    "name, call, exc, message",
    [
        (
            "x",
            dict(x=np.zeros((T, N))),
            ValueError,
            "x must have shape (T, N, C) or (T, C) with C = input_size = 3, got shape (6, 4)",
        ),
        ("x", dict(x=np.zeros((T, N, C + 1))), ValueError, "got shape (6, 4, 4)"),
        ("x", dict(x=np.zeros((T, N, C, 1))), ValueError, "x must have shape"),
        ("x", dict(x=np.zeros((T, N, C), complex)), TypeError, "x must hold real numbers"),
        (
            "h0",
            dict(h0=np.zeros((2, N, H))),
            ValueError,
            "h0 must have shape (num_layers * num_directions, N, hidden_size) = (4, 4, 5), got shape (2, 4, 5)",
        ),
        ("h0", dict(h0=np.zeros((4, N + 1, H))), ValueError, "got shape (4, 5, 5)"),
        (
            "h0",
            dict(x=np.zeros((T, C)), h0=np.zeros((4, N, H))),
            ValueError,
            "h0 must have shape (num_layers * num_directions, hidden_size) = (4, 5)",
        ),
        ("h0", dict(h0=np.array([["a"]])), TypeError, "h0 must hold real numbers"),
        ("lengths", dict(lengths=[1.0] * N), TypeError, "lengths must hold integers, got dtype float64"),
        ("lengths", dict(lengths=[True] * N), TypeError, "lengths must hold integers, got dtype bool"),
        (
            "lengths",
            dict(lengths=[1, 2, 3]),
            ValueError,
            "lengths must have shape (N,) = (4,) with N from x, got shape (3,)",
        ),
        (
            "lengths",
            dict(lengths=[0, 1, 2, 3]),
            ValueError,
            "lengths must lie in 1..T = 1..6 with T from x, got values from 0 to 3",
        ),
        ("lengths", dict(lengths=[1, 2, 3, 7]), ValueError, "got values from 1 to 7"),
        (
            "lengths",
            dict(x=np.zeros((T, C)), lengths=[T]),
            ValueError,
            "lengths needs batched x of shape (T, N, C)",
        ),
    ],
)
def test_bad_call_arguments(name, call, exc, message):
    m = nn.GRU(C, H, num_layers=2, bidirectional=True)
    args = dict(x=np.zeros((T, N, C))) | call
    with pytest.raises(exc) as err:
        m(**args)
    assert str(err.value).startswith(name + " ")
    assert message in str(err.value)


def test_bad_x_names_the_batch_first_layout():
    with pytest.raises(ValueError, match=r"x must have shape \(N, T, C\) or \(T, C\)"):
        nn.RNN(C, H, batch_first=True)(np.zeros((N, T)))


@pytest.mark.parametrize(
    "name, call, exc, message",
    [
        (
            "x",
            dict(x=np.zeros((N, C + 1))),
            ValueError,
            "x must have shape (N, C) or (C,) with C = input_size = 3, got shape (4, 4)",
        ),
        ("x", dict(x=np.zeros((1, N, C))), ValueError, "x must have shape (N, C) or (C,)"),
        ("x", dict(x=np.zeros((N, C), complex)), TypeError, "x must hold real numbers"),
        (
            "h",
            dict(h=np.zeros((N + 1, H))),
            ValueError,
            "h must have shape (N, hidden_size) = (4, 5) for x of shape (4, 3), got shape (5, 5)",
        ),
        (
            "h",
            dict(x=np.zeros(C), h=np.zeros((1, H))),
            ValueError,
            "h must have shape (hidden_size,) = (5,) for x of shape (3,)",
        ),
        ("h", dict(h=np.full((N, H), "a")), TypeError, "h must hold real numbers"),
    ],
)
def test_bad_cell_call_arguments(name, call, exc, message):
    args = dict(x=np.zeros((N, C))) | call
    for cls in (nn.GRUCell, nn.RNNCell):
        with pytest.raises(exc) as err:
            cls(C, H)(**args)
        assert str(err.value).startswith(name + " ")
        assert message in str(err.value)


# --------------------------------------------------------------------------- DESIGN §8: anything a user can pass


@pytest.mark.parametrize("cls", [nn.GRU, nn.RNN, nn.GRUCell, nn.RNNCell])
def test_negative_seeds_are_refused_by_name(cls):
    with pytest.raises(
        ValueError, match="^rng must be None, an int seed >= 0 or a numpy.random.Generator, got -1"
    ):
        cls(C, H, rng=-1)


@pytest.mark.parametrize("value", [["tanh"], {"relu"}, np.array("tanh"), None])
@pytest.mark.parametrize("cls", [nn.RNN, nn.RNNCell])
def test_any_other_nonlinearity_is_the_ops_named_error(cls, value):
    """The modules and mygru.rnn share one check: a 0-d array "tanh" (which compares equal
    to "tanh") is refused here, not accepted and then failing as unhashable in the op."""
    with pytest.raises(ValueError, match="^nonlinearity must be 'tanh' or 'relu', got "):
        cls(C, H, nonlinearity=value)


@pytest.mark.parametrize(
    "name, call",
    [
        ("x", dict(x=[[[0.0] * C] * N] * (T - 1) + [[[0.0] * C]])),
        ("h0", dict(h0=[[[0.0] * H] * N] * 3 + [[[0.0] * H]])),
        ("lengths", dict(lengths=[1, 2, [3], 4])),
    ],
)
def test_ragged_call_arguments_name_the_argument(name, call):
    m = nn.GRU(C, H, num_layers=2, bidirectional=True)
    args = dict(x=np.zeros((T, N, C))) | call
    with pytest.raises(
        ValueError, match=f"^{name} must be an array or a nested sequence of one shape, got a ragged one"
    ):
        m(**args)


def test_an_empty_batch_with_empty_lengths():
    out, h_n = nn.GRU(C, H, bidirectional=True)(np.zeros((T, 0, C)), lengths=[])
    assert out.shape == (T, 0, 2 * H) and h_n.shape == (2, 0, H)


@pytest.mark.parametrize("warn", ["default", "error"])
def test_load_state_dict_names_a_value_too_large_for_the_dtype_and_writes_nothing(warn):
    """float64 1e300 does not fit float32: a ValueError naming the key, whatever the warning
    filters say (the cast used to warn, or store inf), and no earlier key is written."""
    m = nn.GRU(C, H, num_layers=2)
    before = m.state_dict()
    sd = {k: v.astype(np.float64) + 1 for k, v in before.items()}
    sd["bias_hh_l1"][3] = 1e300
    with warnings.catch_warnings():
        warnings.simplefilter(warn)
        with pytest.raises(
            ValueError,
            match=r"^state_dict\['bias_hh_l1'\] holds 1e\+300, too large for the module's dtype float32",
        ):
            m.load_state_dict(sd)
    for name, value in before.items():
        np.testing.assert_array_equal(getattr(m, name).data, value, err_msg=name)
    sd["bias_hh_l1"][3] = np.inf  # inf is a value float32 holds: loaded as given
    m.load_state_dict(sd)
    assert m.bias_hh_l1.data[3] == np.inf and np.all(
        m.weight_ih_l0.data == sd["weight_ih_l0"].astype(np.float32)
    )


@pytest.mark.parametrize(
    "value, exc, message",
    [
        (
            [[0.0] * H, [0.0]],
            ValueError,
            "must be an array or a nested sequence of one shape, got a ragged one",
        ),
        (
            np.zeros(H, np.longdouble),
            TypeError,
            "must hold real numbers of an integer, float16, float32 or float64 dtype",
        ),
    ],
)
def test_load_state_dict_names_the_key_of_a_ragged_or_unsupported_value(value, exc, message):
    m = nn.RNNCell(C, H)
    before = m.state_dict()
    sd = {k: v + 1 for k, v in before.items()}
    sd["bias_hh"] = value
    with pytest.raises(exc, match=r"^state_dict\['bias_hh'\] " + re.escape(message)):
        m.load_state_dict(sd)
    for name, value in before.items():
        np.testing.assert_array_equal(getattr(m, name).data, value)
