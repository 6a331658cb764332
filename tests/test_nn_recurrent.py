"""mygru.nn.Recurrent: layers of any cell. The Elman cell and the LSTM written as user
cells (tests/test_cell_parity.py) in a Recurrent give nn.RNN's and nn.LSTM's numbers (which
the suite holds to torch's) with the same weights, through layers, directions, lengths,
batch_first and hx; and one layer equals mygru.recurrence called by hand."""

import copy
import pickle

import mygrad as mg
import numpy as np
import pytest
from test_cell_parity import LSTM, Elman

import mygru
from mygru import nn

T, N, C, H = 6, 4, 3, 5
LENGTHS = [6, 2, 4, 1]


def rnn_weights(rnn, rec):
    """Copy nn.RNN's weights into a Recurrent of the Elman cell: U = W_ih^T, W = W_hh^T,
    b = b_ih + b_hh (the Recurrent's one bias)."""
    for name in rec._shapes:
        kind, rest = name.split("_", 1)
        src = {"U": "weight_ih", "W": "weight_hh"}.get(kind)
        if src:
            getattr(rec, name).data = getattr(rnn, f"{src}_{rest}").data.T.copy()
        else:
            getattr(rec, name).data = (
                getattr(rnn, f"bias_ih_{rest}").data + getattr(rnn, f"bias_hh_{rest}").data
            )


@pytest.mark.parametrize(
    "num_layers, bidirectional, lengths, batch_first",
    [
        (1, False, None, False),
        (2, True, LENGTHS, False),
        (2, False, LENGTHS, True),
        (3, True, None, True),
    ],
)
def test_elman_recurrent_equals_nn_rnn(num_layers, bidirectional, lengths, batch_first):
    kw = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first, dtype=np.float64)
    rnn = nn.RNN(C, H, rng=0, **kw)
    rec = nn.Recurrent(Elman(), C, H, rng=1, **kw)
    rnn_weights(rnn, rec)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(N, T, C) if batch_first else (T, N, C))
    dirs = 2 if bidirectional else 1
    h0 = rng.normal(size=(num_layers * dirs, N, H))
    x1, x2, a, b = mg.tensor(x), mg.tensor(x), mg.tensor(h0), mg.tensor(h0)
    out1, h1 = rnn(x1, a, lengths=lengths)
    out2, h2 = rec(x2, hx=b, lengths=lengths)
    g, gh = rng.normal(size=out1.shape), rng.normal(size=h1.shape)
    ((out1 * g).sum() + (h1 * gh).sum()).backward()
    ((out2 * g).sum() + (h2 * gh).sum()).backward()
    np.testing.assert_allclose(out2.data, out1.data, atol=1e-12)
    np.testing.assert_allclose(h2.data, h1.data, atol=1e-12)
    np.testing.assert_allclose(x2.grad, x1.grad, atol=1e-10)
    np.testing.assert_allclose(b.grad, a.grad, atol=1e-10)
    for name in rec._shapes:
        kind, rest = name.split("_", 1)
        if kind == "U":
            want = getattr(rnn, f"weight_ih_{rest}").grad.T
        elif kind == "W":
            want = getattr(rnn, f"weight_hh_{rest}").grad.T
        else:
            want = getattr(rnn, f"bias_ih_{rest}").grad
        np.testing.assert_allclose(getattr(rec, name).grad, want, atol=1e-10, err_msg=name)


def test_two_part_cell_recurrent_equals_nn_lstm():
    lstm = nn.LSTM(C, H, num_layers=2, bidirectional=True, dtype=np.float64, rng=0)
    rec = nn.Recurrent(LSTM(), C, H, num_layers=2, bidirectional=True, dtype=np.float64, rng=1)
    for name in rec._shapes:  # U{g}_l..., W{g}_l..., b{g}_l...
        kind, gate, rest = name[0], name[1], name.split("_", 1)[1]
        k = "ifgo".index(gate)
        rows = slice(k * H, (k + 1) * H)
        if kind == "b":
            value = getattr(lstm, f"bias_ih_{rest}").data[rows] + getattr(lstm, f"bias_hh_{rest}").data[rows]
        else:
            value = getattr(lstm, f"weight_{'ih' if kind == 'U' else 'hh'}_{rest}").data[rows].T
        getattr(rec, name).data = np.array(value)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(T, N, C))
    h0, c0 = rng.normal(size=(4, N, H)), rng.normal(size=(4, N, H))
    out1, (h1, c1) = lstm(x, (h0, c0), lengths=LENGTHS)
    out2, (h2, c2) = rec(x, (h0, c0), lengths=LENGTHS)
    for got, want in [(out2, out1), (h2, h1), (c2, c1)]:
        np.testing.assert_allclose(got.data, want.data, atol=1e-12)
    g = rng.normal(size=out1.shape)
    ((out1 * g).sum() + c1.sum()).backward()
    ((out2 * g).sum() + c2.sum()).backward()
    k = "ifgo".index("g")
    np.testing.assert_allclose(
        rec.Wg_l1_reverse.grad, lstm.weight_hh_l1_reverse.grad[k * H : (k + 1) * H].T, atol=1e-10
    )


def test_one_layer_is_the_recurrence():
    rec = nn.Recurrent(Elman(), C, H, dtype=np.float64, rng=0)
    x = np.random.default_rng(4).normal(size=(T, N, C))
    out, h_n = rec(x, lengths=LENGTHS)
    s = mygru.recurrence(Elman(), x, {"U": rec.U_l0, "b": rec.b_l0, "W": rec.W_l0}, lengths=LENGTHS)
    alive = np.arange(T)[:, None, None] < np.array(LENGTHS)[:, None]
    np.testing.assert_allclose(out.data, np.where(alive, s.data[1:], 0), atol=1e-14)
    np.testing.assert_allclose(h_n.data[0], s.data[-1], atol=1e-14)


class Scaled(Elman):
    """An Elman cell with its own initial values: W starts at 0.5·I, the rest at 0."""

    def init(self, name, shape, hidden_size, rng):
        return 0.5 * np.eye(hidden_size) if name == "W" else np.zeros(shape)


class Projected(Elman):
    """A cell whose weights have shapes of its own: W (H, 2) maps into a state of width 2."""

    weights = ("W", "V")

    def shapes(self, input_size, hidden_size):
        return {"W": (2, hidden_size), "V": (hidden_size, 2)}

    def widths(self, D, p):
        return (p["V"].shape[1],)

    def step(self, p, a, s):
        h = np.tanh(a[""] + s @ p["W"])
        return h @ p["V"], (s, h)

    def step_backward(self, p, ds, cache):
        s, h = cache
        dh = ds @ p["V"].T
        da = dh * (1 - h**2)
        return {"": da}, da @ p["W"].T, {"W": s.T @ da, "V": h.T @ ds}


def test_a_cell_sets_its_initial_values_and_shapes():
    m = nn.Recurrent(Scaled(), C, H, bias=False)
    np.testing.assert_array_equal(m.W_l0.data, 0.5 * np.eye(H))
    assert [n for n in m.state_dict()] == ["U_l0", "W_l0"]  # bias=False: no b
    p = nn.Recurrent(Projected(), C, H, num_layers=2, bidirectional=True, rng=0)
    assert p.U_l1.shape == (4, H) and p.V_l0.shape == (H, 2)
    out, h_n = p(np.ones((T, N, C), np.float32))
    assert out.shape == (T, N, 4) and h_n.shape == (4, N, 2)
    mygru.check_cell(Projected())


def test_state_dict_names_train_eval_and_pickle():
    m = nn.Recurrent(LSTM(), C, H, num_layers=2, dropout=0.5, variational_dropout=0.3, rng=0)
    names = list(m.state_dict())
    assert names[:4] == ["Ui_l0", "Uf_l0", "Ug_l0", "Uo_l0"] and "Wo_l1" in names
    assert m.parameters[0] is m.Ui_l0
    x = np.ones((T, N, C), np.float32)
    m.eval()
    a, _ = m(x)
    b, _ = m(x)
    np.testing.assert_array_equal(a.data, b.data)  # no dropout in eval mode
    m.train()
    c, _ = m(x)
    assert not np.allclose(c.data, a.data)  # both dropouts in training mode
    for copied in (pickle.loads(pickle.dumps(m.eval())), copy.deepcopy(m)):
        np.testing.assert_array_equal(copied(x)[0].data, a.data)
    m2 = nn.Recurrent(LSTM(), C, H, num_layers=2).load_state_dict(m.state_dict())
    np.testing.assert_array_equal(m2.eval()(x)[0].data, a.data)


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match=r"call it, Elman\(\)"):
        nn.Recurrent(Elman, C, H)
    with pytest.raises(TypeError, match="hx must be None or a tuple of 2 initial states"):
        nn.Recurrent(LSTM(), C, H)(np.ones((T, N, C)), np.zeros((1, N, H)))
    with pytest.raises(ValueError, match=r"hx\[1\] \(part 'c'\).*the width of the part 'c'"):
        nn.Recurrent(LSTM(), C, H)(np.ones((T, N, C)), (None, np.zeros((1, N, H + 1))))
    with pytest.raises(TypeError, match="no torch counterpart"):
        nn.Recurrent(Elman(), C, H).to_torch()
