"""mygru.nn.LSTM and LSTMCell without torch: names, shapes, init, the pair state, lengths,
both dropouts, state_dict, training with mynn's Adam, and every bad-argument rule. The
parity tests against torch are in test_nn_torch.py."""

import math

import mygrad as mg
import numpy as np
import pytest

from mygru import nn
from mygru.nn import torch_modules as modules

T, N, C, H, P = 6, 4, 3, 5, 2


def data(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


# --------------------------------------------------------------------------- parameters


def test_parameter_names_shapes_and_order_follow_torch():
    m = nn.LSTM(C, H, num_layers=2, bidirectional=True, proj_size=P)
    expected = {}
    for layer, width in ((0, C), (1, 2 * P)):
        for suffix in ("", "_reverse"):
            expected[f"weight_ih_l{layer}{suffix}"] = (4 * H, width)
            expected[f"weight_hh_l{layer}{suffix}"] = (4 * H, P)
            expected[f"bias_ih_l{layer}{suffix}"] = (4 * H,)
            expected[f"bias_hh_l{layer}{suffix}"] = (4 * H,)
            expected[f"weight_hr_l{layer}{suffix}"] = (P, H)
    assert {name: a.shape for name, a in m.state_dict().items()} == expected
    assert list(m.state_dict()) == list(expected)
    assert m.parameters == tuple(getattr(m, name) for name in expected)
    assert all(isinstance(p, mg.Tensor) and not p.constant for p in m.parameters)

    assert {n: a.shape for n, a in nn.LSTM(C, H, num_layers=2, bias=False).state_dict().items()} == {
        "weight_ih_l0": (4 * H, C),
        "weight_hh_l0": (4 * H, H),
        "weight_ih_l1": (4 * H, H),
        "weight_hh_l1": (4 * H, H),
    }
    cell = nn.LSTMCell(C, H)
    assert {n: a.shape for n, a in cell.state_dict().items()} == {
        "weight_ih": (4 * H, C),
        "weight_hh": (4 * H, H),
        "bias_ih": (4 * H,),
        "bias_hh": (4 * H,),
    }


@pytest.mark.parametrize(
    "make", [lambda: nn.LSTM(16, 64, proj_size=8, rng=0), lambda: nn.LSTMCell(16, 64, rng=0)]
)
def test_init_is_uniform_within_one_over_sqrt_hidden(make):
    """As torch: every parameter, the projection included, from U(-1/√H, 1/√H)."""
    m = make()
    values = np.concatenate([p.data.ravel() for p in m.parameters])
    bound = 1 / math.sqrt(64)
    assert np.all(np.abs(values) <= bound)
    assert abs(values.mean()) < 0.05 * bound
    assert values.std() == pytest.approx(bound / math.sqrt(3), rel=0.05)
    assert values.min() < -0.99 * bound and values.max() > 0.99 * bound
    if isinstance(m, nn.LSTM):
        assert np.abs(m.weight_hr_l0.data).max() > 0.9 * bound


def test_repr_names_the_projection():
    assert repr(nn.LSTM(C, H, proj_size=P, dtype=np.float64)) == (
        "LSTM(input_size=3, hidden_size=5, num_layers=1, bias=True, batch_first=False, "
        "dropout=0.0, bidirectional=False, proj_size=2, dtype=float64)"
    )


# --------------------------------------------------------------------------- calling


@pytest.mark.parametrize("proj_size", [0, P])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_shapes(proj_size, bidirectional, batch_first):
    dirs, S = 2 if bidirectional else 1, proj_size or H
    m = nn.LSTM(C, H, num_layers=3, batch_first=batch_first, bidirectional=bidirectional, proj_size=proj_size)
    out, (h_n, c_n) = m(data((N, T, C) if batch_first else (T, N, C)).astype(np.float32))
    assert out.shape == ((N, T, dirs * S) if batch_first else (T, N, dirs * S))
    assert h_n.shape == (3 * dirs, N, S) and c_n.shape == (3 * dirs, N, H)
    assert out.dtype == h_n.dtype == c_n.dtype == np.float32
    out, (h_n, c_n) = m(data((T, C)), (data((3 * dirs, S)), data((3 * dirs, H))))  # unbatched
    assert out.shape == (T, dirs * S) and h_n.shape == (3 * dirs, S) and c_n.shape == (3 * dirs, H)


def test_every_layer_and_direction_is_one_lstm_call(monkeypatch):
    calls = []
    real = modules.lstm

    def spy(*args, **kwargs):
        calls.append(args[0].shape)
        return real(*args, **kwargs)

    monkeypatch.setattr(modules, "lstm", spy)
    nn.LSTM(C, H, num_layers=3, bidirectional=True, proj_size=P)(data((T, N, C)), lengths=[6, 1, 3, 2])
    assert calls == [(T, N, C)] * 2 + [(T, N, 2 * P)] * 4


def test_h_n_is_the_last_output_of_each_direction_without_lengths():
    m = nn.LSTM(C, H, num_layers=2, bidirectional=True, proj_size=P, dtype=np.float64, rng=0)
    out, (h_n, _) = m(data((T, N, C)))
    np.testing.assert_array_equal(h_n.data[2], out.data[-1, :, :P])  # last layer, forward
    np.testing.assert_array_equal(h_n.data[3], out.data[0, :, P:])  # last layer, reverse


@pytest.mark.parametrize("proj_size", [0, P])
@pytest.mark.parametrize("batch_first", [False, True])
def test_lengths_equal_running_each_sequence_alone(proj_size, batch_first):
    """Outputs, h_n, c_n and every gradient (x, h0, c0, parameters) with lengths equal those
    of each sequence cut to its own length and run alone: the reverse direction starts at
    each sequence's last element, and c_n too is each sequence's own."""
    lengths = [4, 6, 1, 3]
    S = proj_size or H
    kwargs = dict(num_layers=2, bidirectional=True, proj_size=proj_size, dtype=np.float64)
    m = nn.LSTM(C, H, batch_first=batch_first, rng=1, **kwargs)
    x_all, h0_all, c0_all = data((T, N, C), 1), data((4, N, S), 2), data((4, N, H), 5)
    g_out, g_hn, g_cn = data((T, N, 2 * S), 3), data((4, N, S), 4), data((4, N, H), 6)

    x, h0, c0 = (
        mg.tensor(np.swapaxes(x_all, 0, 1) if batch_first else x_all),
        mg.tensor(h0_all),
        mg.tensor(c0_all),
    )
    out, (h_n, c_n) = m(x, (h0, c0), lengths=lengths)
    out_tn = mg.swapaxes(out, 0, 1) if batch_first else out
    ((out_tn * g_out).sum() + (h_n * g_hn).sum() + (c_n * g_cn).sum()).backward()
    grads = {name: p.grad for name, p in zip(m.state_dict(), m.parameters)}
    dx = np.swapaxes(x.grad, 0, 1) if batch_first else x.grad

    alone = nn.LSTM(C, H, **kwargs).load_state_dict(m.state_dict())
    totals = {name: 0 for name in grads}
    close = dict(rtol=1e-10, atol=1e-12)
    for n, L in enumerate(lengths):
        xn, h0n, c0n = (
            mg.tensor(a) for a in (x_all[:L, n : n + 1], h0_all[:, n : n + 1], c0_all[:, n : n + 1])
        )
        out_n, (h_n_n, c_n_n) = alone(xn, [h0n, c0n])  # a list is a pair too
        (
            (out_n * g_out[:L, n : n + 1]).sum()
            + (h_n_n * g_hn[:, n : n + 1]).sum()
            + (c_n_n * g_cn[:, n : n + 1]).sum()
        ).backward()
        np.testing.assert_allclose(out_tn.data[:L, n], out_n.data[:, 0], **close)
        assert np.all(out_tn.data[L:, n] == 0)
        np.testing.assert_allclose(h_n.data[:, n], h_n_n.data[:, 0], **close)
        np.testing.assert_allclose(c_n.data[:, n], c_n_n.data[:, 0], **close)
        np.testing.assert_allclose(dx[:L, n], xn.grad[:, 0], **close)
        assert np.all(dx[L:, n] == 0)
        np.testing.assert_allclose(h0.grad[:, n], h0n.grad[:, 0], **close)
        np.testing.assert_allclose(c0.grad[:, n], c0n.grad[:, 0], **close)
        for name, p in zip(alone.state_dict(), alone.parameters):
            totals[name] = totals[name] + p.grad
    for name, total in totals.items():
        np.testing.assert_allclose(grads[name], total, err_msg=name, **close)


def test_h0_c0_and_x_get_gradients_and_arrays_are_fine():
    m = nn.LSTM(C, H, num_layers=2, proj_size=P)
    x, h0, c0 = mg.tensor(data((T, N, C))), mg.tensor(data((2, N, P))), mg.tensor(data((2, N, H)))
    out, (h_n, c_n) = m(x, (h0, c0))
    c_n.sum().backward()  # a loss on c_n alone reaches everything
    assert x.grad.shape == x.shape and np.any(x.grad != 0)
    assert np.any(h0.grad != 0) and np.any(c0.grad != 0)
    out2, (h2, c2) = m(x.data, (h0.data, c0.data))  # plain arrays: no gradient to give, same numbers
    for a, b in ((out2, out), (h2, h_n), (c2, c_n)):
        np.testing.assert_array_equal(a.data, b.data)


def test_cell():
    cell = nn.LSTMCell(C, H, dtype=np.float64, rng=0)
    x, h, c = mg.tensor(data((N, C))), mg.tensor(data((N, H), 1)), mg.tensor(data((N, H), 2))
    h1, c1 = cell(x, (h, c))
    assert h1.shape == c1.shape == (N, H)
    (h1.sum() + c1.sum()).backward()
    assert x.grad.shape == (N, C) and h.grad.shape == c.grad.shape == (N, H)
    h_one, c_one = cell(x.data[1], (h.data[1], c.data[1]))  # unbatched
    np.testing.assert_allclose(h_one.data, h1.data[1], rtol=1e-14)
    np.testing.assert_allclose(c_one.data, c1.data[1], rtol=1e-14)
    zeros = np.zeros((N, H))
    for a, b in zip(cell(x.data), cell(x.data, (zeros, zeros))):
        np.testing.assert_array_equal(a.data, b.data)


# --------------------------------------------------------------------------- dropout and modes


@pytest.mark.parametrize("kwargs", [dict(dropout=0.5), dict(variational_dropout=0.5)])
def test_eval_is_deterministic_and_train_with_dropout_is_not(kwargs):
    m = nn.LSTM(C, H, num_layers=2, bidirectional=True, proj_size=P, rng=0, **kwargs)
    x = data((T, N, C))
    m.eval()
    first, (h_first, c_first) = m(x)
    again, (h_again, c_again) = m(x)
    for a, b in ((first, again), (h_first, h_again), (c_first, c_again)):
        np.testing.assert_array_equal(a.data, b.data)
    m.train()
    a, b = m(x)[0].data, m(x)[0].data
    assert not np.allclose(a, b) and not np.allclose(a, first.data)


def test_inter_layer_dropout_acts_between_layers_only():
    """With dropout=1 the last layer reads zeros, so a loss on ``output`` sends nothing
    back to layer 0; in eval mode it does."""
    m = nn.LSTM(C, H, num_layers=2, dropout=1.0, rng=0)
    m(data((T, N, C)))[0].sum().backward()
    assert np.all(m.weight_ih_l0.grad == 0) and np.any(m.weight_hh_l1.grad != 0)
    m.eval()(data((T, N, C)))[0].sum().backward()
    assert np.any(m.weight_ih_l0.grad != 0)


def test_dropout_with_one_layer_warns_as_torch_does():
    with pytest.warns(UserWarning, match="dropout=0.5 has no effect with num_layers=1"):
        nn.LSTM(C, H, dropout=0.5)


def test_seeded_modules_reproduce_their_dropout():
    x = data((T, N, C))
    runs = [
        nn.LSTM(C, H, num_layers=2, dropout=0.5, variational_dropout=0.3, rng=9)(x)[0].data for _ in range(2)
    ]
    np.testing.assert_array_equal(*runs)


# --------------------------------------------------------------------------- state_dict


def test_state_dict_round_trip_between_modules():
    a = nn.LSTM(C, H, num_layers=2, bidirectional=True, proj_size=P, dtype=np.float64, rng=0)
    b = nn.LSTM(C, H, num_layers=2, bidirectional=True, proj_size=P, rng=1)  # float32
    before = b.parameters
    assert b.load_state_dict(a.state_dict()) is b
    assert b.parameters == before  # the same Tensor objects: optimizers keep working
    for name, value in a.state_dict().items():
        np.testing.assert_array_equal(getattr(b, name).data, value.astype(np.float32))
    x = data((T, N, C))
    np.testing.assert_allclose(b(x)[1][1].data, a(x)[1][1].data, rtol=1e-5, atol=1e-6)


def test_load_state_dict_names_the_projection_when_it_does_not_fit():
    m = nn.LSTM(C, H, proj_size=P)
    with pytest.raises(ValueError, match=r"missing keys \['weight_hr_l0'\], unexpected keys \[\]"):
        m.load_state_dict(nn.LSTM(C, H).state_dict())
    sd = m.state_dict()
    sd["weight_hr_l0"] = np.zeros((H, P))
    with pytest.raises(
        ValueError, match=r"state_dict\['weight_hr_l0'\] must have shape \(2, 5\), got shape \(5, 2\)"
    ):
        m.load_state_dict(sd)


# --------------------------------------------------------------------------- training


def test_adam_trains_a_two_layer_lstm():
    Adam = pytest.importorskip("mynn.optimizers.adam").Adam
    rng = np.random.default_rng(0)
    m = nn.LSTM(2, 8, num_layers=2, proj_size=4, rng=0)
    readout = mg.tensor(rng.normal(size=(4, 1)).astype(np.float32) * 0.3)
    x = rng.normal(size=(8, 32, 2)).astype(np.float32)
    y = x[:, :, :1].mean(axis=0)  # the mean of the first feature over time
    optimizer = Adam(m.parameters + (readout,), learning_rate=0.02)
    losses = []
    for _ in range(30):
        _, (h_n, _) = m(x)
        loss = mg.mean((mg.matmul(h_n[-1], readout) - y) ** 2)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]


# --------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    "kwargs, exc, message",
    [
        (dict(proj_size=-1), ValueError, "proj_size must be an int >= 0, got -1"),
        (
            dict(proj_size=H),
            ValueError,
            "proj_size must be smaller than hidden_size = 5 (or 0: no projection), got 5",
        ),
        (dict(proj_size=H + 1), ValueError, "proj_size must be smaller than hidden_size = 5"),
        (dict(proj_size=1.0), TypeError, "proj_size must be an int >= 0, got 1.0 of type float"),
        (dict(proj_size=True), TypeError, "proj_size must be an int >= 0, got True of type bool"),
        (dict(hidden_size=0, proj_size=0), ValueError, "hidden_size must be an int >= 1, got 0"),
        (dict(input_size=0), ValueError, "input_size must be an int >= 1, got 0"),
        (dict(variational_dropout=1.0), ValueError, "variational_dropout must be in [0, 1), got 1.0"),
    ],
)
def test_bad_constructor_arguments(kwargs, exc, message):
    args = dict(input_size=C, hidden_size=H) | kwargs
    with pytest.raises(exc) as err:
        nn.LSTM(**args)
    assert str(err.value).startswith(message)


def test_bad_cell_constructor_arguments():
    with pytest.raises(ValueError, match="^hidden_size must be an int >= 1, got 0"):
        nn.LSTMCell(C, 0)
    with pytest.raises(TypeError, match="^bias must be True or False"):
        nn.LSTMCell(C, H, bias="no")
    with pytest.raises(TypeError, match="^dtype must be float32 or float64"):
        nn.LSTMCell(C, H, dtype=np.int64)


L2 = 4  # num_layers * num_directions of the module below


@pytest.mark.parametrize(
    "name, call, exc, message",
    [
        ("hx", dict(hx=np.zeros((L2, N, P))), TypeError, "hx must be None or a pair (h0, c0), got ndarray"),
        ("hx", dict(hx=mg.zeros((L2, N, P))), TypeError, "hx must be None or a pair (h0, c0), got Tensor"),
        (
            "hx",
            dict(hx=(np.zeros((L2, N, P)),)),
            ValueError,
            "hx must be None or a pair (h0, c0), got a tuple of length 1",
        ),
        ("hx", dict(hx=[np.zeros((L2, N, P))] * 3), ValueError, "got a list of length 3"),
        (
            "hx",
            dict(hx=(np.zeros((L2, N, P)), None)),
            TypeError,
            "hx[1] (c0) is None: give both h0 and c0, or hx=None",
        ),
        (
            "h0",
            dict(hx=(np.zeros((L2, N, H)), np.zeros((L2, N, H)))),
            ValueError,
            "h0 must have shape (num_layers * num_directions, N, proj_size) = (4, 4, 2), got shape (4, 4, 5)",
        ),
        (
            "c0",
            dict(hx=(np.zeros((L2, N, P)), np.zeros((L2, N, P)))),
            ValueError,
            "c0 must have shape (num_layers * num_directions, N, hidden_size) = (4, 4, 5), got shape (4, 4, 2)",
        ),
        (
            "c0",
            dict(x=np.zeros((T, C)), hx=(np.zeros((L2, P)), np.zeros((L2, N, H)))),
            ValueError,
            "c0 must have shape (num_layers * num_directions, hidden_size) = (4, 5)",
        ),
        (
            "h0",
            dict(hx=(np.full((L2, N, P), "a"), np.zeros((L2, N, H)))),
            TypeError,
            "h0 must hold real numbers",
        ),
        ("x", dict(x=np.zeros((T, N, C + 1))), ValueError, "x must have shape (T, N, C) or (T, C)"),
        ("lengths", dict(lengths=[0, 1, 2, 3]), ValueError, "lengths must lie in 1..T = 1..6"),
    ],
)
def test_bad_call_arguments(name, call, exc, message):
    m = nn.LSTM(C, H, num_layers=2, bidirectional=True, proj_size=P)
    args = dict(x=np.zeros((T, N, C))) | call
    with pytest.raises(exc) as err:
        m(**args)
    assert str(err.value).startswith(name)
    assert message in str(err.value)


@pytest.mark.parametrize(
    "name, call, exc, message",
    [
        ("hx", dict(hx=np.zeros((N, H))), TypeError, "hx must be None or a pair (h, c), got ndarray"),
        ("hx", dict(hx=(np.zeros((N, H)),) * 3), ValueError, "got a tuple of length 3"),
        ("hx", dict(hx=(None, np.zeros((N, H)))), TypeError, "hx[0] (h) is None: give both h and c"),
        (
            "c",
            dict(hx=(np.zeros((N, H)), np.zeros((N + 1, H)))),
            ValueError,
            "c must have shape (N, hidden_size) = (4, 5) for x of shape (4, 3), got shape (5, 5)",
        ),
        (
            "h",
            dict(x=np.zeros(C), hx=(np.zeros((1, H)), np.zeros(H))),
            ValueError,
            "h must have shape (hidden_size,) = (5,) for x of shape (3,)",
        ),
        ("x", dict(x=np.zeros((N, C + 1))), ValueError, "x must have shape (N, C) or (C,)"),
    ],
)
def test_bad_cell_call_arguments(name, call, exc, message):
    args = dict(x=np.zeros((N, C))) | call
    with pytest.raises(exc) as err:
        nn.LSTMCell(C, H)(**args)
    assert str(err.value).startswith(name)
    assert message in str(err.value)


def test_bad_input_leaves_the_inputs_and_the_module_alone():
    m = nn.LSTM(C, H, proj_size=P, rng=0)
    before = m.state_dict()
    x, h0 = np.ones((T, N, C)), np.ones((1, N, P))
    with pytest.raises(ValueError, match="c0 must have shape"):
        m(x, (h0, np.ones((1, N, P))))
    assert np.all(x == 1) and np.all(h0 == 1)
    for name, value in before.items():
        np.testing.assert_array_equal(getattr(m, name).data, value)
