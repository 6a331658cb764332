"""mygru.plain, the readable numpy cells the docs show, against the fast kernels
(mygru.gru, mygru.rnn, mygru.lstm; the LSTM also against torch.nn.LSTM): the same
numbers to 1e-12 in float64, so that the derivation on the page is the one the library
computes."""

import mygrad as mg
import numpy as np
import pytest

import mygru
from mygru.plain import gru as plain_gru
from mygru.plain import lstm as plain_lstm
from mygru.plain import rnn as plain_rnn

T, N, C, D = 6, 3, 4, 5
TOL = 1e-12
GRU_NAMES = ("Uz", "Wz", "bz", "Ur", "Wr", "br", "Uh", "Wh", "bh")


def weights(rng, names, D=D, C=C, rows_W=None):
    shapes = {"U": (C, D), "W": (rows_W or D, D), "b": (D,)}
    return {name: rng.normal(size=shapes[name[0]]) / 2 for name in names}


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=0, atol=TOL)


def check_against_op(op_out, tensors, X, s0, dS, dX, dW):
    for name, t in tensors.items():
        close(t.grad, dW[name])
    close(X.grad, dX)
    close(s0.grad, dS[0])
    close(op_out.grad, dS)


@pytest.mark.parametrize("reset_after", [False, True])
@pytest.mark.parametrize("bp_lim", [None, 0, 1, 3, T - 1, T])
def test_gru_equals_kernel(reset_after, bp_lim):
    rng = np.random.default_rng(1)
    p = weights(rng, GRU_NAMES + (("bhn",) if reset_after else ()))
    X, s0, g = rng.normal(size=(T, N, C)), rng.normal(size=(N, D)), rng.normal(size=(T + 1, N, D))

    S, caches = plain_gru.forward(p, X, s0, reset_after=reset_after)
    dS, dX, dW = plain_gru.backward(p, g, caches, reset_after=reset_after, bp_lim=bp_lim)

    tensors = {name: mg.tensor(w) for name, w in p.items()}
    Xt, s0t = mg.tensor(X), mg.tensor(s0)
    extra = {"bhn": tensors["bhn"]} if reset_after else {}
    s = mygru.gru(
        Xt, *(tensors[n] for n in GRU_NAMES), s0=s0t, bp_lim=bp_lim, reset_after=reset_after, **extra
    )
    close(s.data, S)
    (s * g).sum().backward()
    check_against_op(s, tensors, Xt, s0t, dS, dX, dW)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("bp_lim", [None, 0, 2, T])
def test_rnn_equals_kernel(nonlinearity, bp_lim):
    rng = np.random.default_rng(2)
    p = weights(rng, ("U", "W", "b"))
    X, s0, g = rng.normal(size=(T, N, C)), rng.normal(size=(N, D)), rng.normal(size=(T + 1, N, D))

    S, caches = plain_rnn.forward(p, X, s0, nonlinearity)
    dS, dX, dW = plain_rnn.backward(p, g, caches, nonlinearity, bp_lim=bp_lim)

    tensors = {name: mg.tensor(w) for name, w in p.items()}
    Xt, s0t = mg.tensor(X), mg.tensor(s0)
    s = mygru.rnn(
        Xt, tensors["U"], tensors["W"], tensors["b"], s0=s0t, bp_lim=bp_lim, nonlinearity=nonlinearity
    )
    close(s.data, S)
    (s * g).sum().backward()
    check_against_op(s, tensors, Xt, s0t, dS, dX, dW)


def test_truncation_changes_the_gradient():
    """The bp_lim branch is exercised: with a loss on the last state only, the states
    more than bp_lim steps back get nothing, and with full BPTT they do."""
    rng = np.random.default_rng(3)
    p = weights(rng, GRU_NAMES)
    X, s0 = rng.normal(size=(T, N, C)), rng.normal(size=(N, D))
    g = np.zeros((T + 1, N, D))
    g[T] = 1
    _, caches = plain_gru.forward(p, X, s0)
    truncated = plain_gru.backward(p, g, caches, bp_lim=2)[0]
    full = plain_gru.backward(p, g, caches)[0]
    assert not truncated[: T - 2].any() and truncated[T - 2].any()
    assert np.abs(full[: T - 2]).min() > 0
    close(truncated[T - 2 :], full[T - 2 :])


LSTM_GATES = "ifgo"


@pytest.mark.parametrize("proj_size", [0, 3])
def test_lstm_equals_torch(proj_size):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    P = proj_size or D
    m = torch.nn.LSTM(C, D, proj_size=proj_size, dtype=torch.float64)
    # torch stacks the gates' rows (i, f, g, o) in weight_ih (4D, C) and weight_hh (4D, P)
    blocks = {
        "U": m.weight_ih_l0.detach().numpy().T,
        "W": m.weight_hh_l0.detach().numpy().T,
        "b": (m.bias_ih_l0 + m.bias_hh_l0).detach().numpy(),
    }
    p = {k + gate: blocks[k][..., j * D : (j + 1) * D] for k in "UWb" for j, gate in enumerate(LSTM_GATES)}
    if proj_size:
        p["Wp"] = m.weight_hr_l0.detach().numpy().T
    X, s0, c0 = rng.normal(size=(T, N, C)), rng.normal(size=(N, P)), rng.normal(size=(N, D))
    g_s, g_c = rng.normal(size=(T + 1, N, P)), np.zeros((T + 1, N, D))
    g_s[0] = 0  # torch returns no s0 to put a loss on
    g_c[T] = rng.normal(size=(N, D))  # and c at the last step only

    S, c, caches = plain_lstm.forward(p, X, s0, c0)
    dS, dc, dX, dW = plain_lstm.backward(p, g_s, g_c, caches)

    Xt = torch.tensor(X, requires_grad=True)
    s0t, c0t = (torch.tensor(a[None], requires_grad=True) for a in (s0, c0))
    out, (_, c_n) = m(Xt, (s0t, c0t))  # h_n is out[-1]
    close(out.detach().numpy(), S[1:])
    close(c_n[0].detach().numpy(), c[T])
    loss = (out * torch.tensor(g_s[1:])).sum() + (c_n[0] * torch.tensor(g_c[T])).sum()
    loss.backward()
    close(Xt.grad.numpy(), dX)
    close(s0t.grad[0].numpy(), dS[0])
    close(c0t.grad[0].numpy(), dc[0])
    torch_grads = {
        "U": m.weight_ih_l0.grad.numpy().T,
        "W": m.weight_hh_l0.grad.numpy().T,
        "b": m.bias_ih_l0.grad.numpy(),  # = bias_hh's: both enter only through their sum
    }
    for k in "UWb":
        for j, gate in enumerate(LSTM_GATES):
            close(torch_grads[k][..., j * D : (j + 1) * D], dW[k + gate])
    if proj_size:
        close(m.weight_hr_l0.grad.numpy().T, dW["Wp"])


@pytest.mark.parametrize("projection", [False, True])
@pytest.mark.parametrize("bp_lim", [None, 0, 2, T])
def test_lstm_equals_kernel(projection, bp_lim):
    """Against mygru.lstm: states, both total derivatives (s.grad and c.grad, every
    step), dX, s0, c0 and the weights, also truncated."""
    rng = np.random.default_rng(5)
    P = 3 if projection else D
    p = weights(rng, [k + gate for k in "UWb" for gate in LSTM_GATES], rows_W=P)
    if projection:
        p["Wp"] = rng.normal(size=(D, P)) / 2
    X, s0, c0 = rng.normal(size=(T, N, C)), rng.normal(size=(N, P)), rng.normal(size=(N, D))
    g_s, g_c = rng.normal(size=(T + 1, N, P)), rng.normal(size=(T + 1, N, D))

    S, c, caches = plain_lstm.forward(p, X, s0, c0)
    dS, dc, dX, dW = plain_lstm.backward(p, g_s, g_c, caches, bp_lim=bp_lim)

    tensors = {name: mg.tensor(w) for name, w in p.items()}
    Xt, s0t, c0t = mg.tensor(X), mg.tensor(s0), mg.tensor(c0)
    order = [tensors[k + gate] for gate in LSTM_GATES for k in "UWb"]  # Ui, Wi, bi, Uf, ...
    s, cell = mygru.lstm(Xt, *order, s0=s0t, c0=c0t, bp_lim=bp_lim, Wp=tensors.get("Wp"))
    close(s.data, S)
    close(cell.data, c)
    ((s * g_s).sum() + (cell * g_c).sum()).backward()
    check_against_op(s, tensors, Xt, s0t, dS, dX, dW)
    close(cell.grad, dc)
    close(c0t.grad, dc[0])
