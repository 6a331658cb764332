"""mygru.lstm against the LSTM unrolled in mygrad primitives, finite differences and
torch.nn.LSTM; its two outputs, T = 0, the constant rule, memory and warnings."""

import warnings

import mygrad as mg
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference import LSTM_NAMES, lstm_cell, reference
from strategies import call_lstm, check_against_reference, data, initial_state, lstm_backward, problems

import mygru

LOSSES = ["s", "c", "both"]


def run_and_reference(prob, loss="both", **kwargs):
    s, c = call_lstm(prob, **kwargs)
    masks = s.creator.dropout_masks
    m = {} if masks is None else {k: np.asarray(v, np.float64) for k, v in masks._asdict().items()}
    grad = prob["grad"].copy()
    lstm_backward(s, c, grad, loss)
    ref = reference(
        lambda x, st_, p: lstm_cell(x, st_, p, m),
        data(prob["X"]),
        {k: data(v) for k, v in prob["params"].items()},
        initial_state(prob),
        grad,
        bp_lim=kwargs.get("bp_lim"),
        lengths=kwargs.get("lengths"),
    )
    return (s, c), ref


@given(problems(LSTM_NAMES, lstm=True), st.sampled_from(LOSSES))
def test_lstm_matches_unrolled_reference(prob, loss):
    (s, c), ref = run_and_reference(prob, loss)
    T, N, P, D = prob["T"], prob["N"], prob["P"], prob["D"]
    assert s.shape == (T + 1, N, P) and c.shape == (T + 1, N, D)
    check_against_reference((s, c), prob, ref)


def make(T=4, N=3, C=2, D=3, P=None, seed=0, scale=0.6):
    """Tensors X, s0, c0, the twelve parameters in the call's order, and Wp (or None)."""
    rng = np.random.default_rng(seed)
    P = D if P is None else P
    X = mg.tensor(rng.normal(size=(T, N, C)))
    s0, c0 = mg.tensor(rng.normal(size=(N, P))), mg.tensor(rng.normal(size=(N, D)))
    params = [mg.tensor(rng.normal(size=sh) * scale) for sh in [(C, D), (P, D), (D,)] * 4]
    Wp = None if P == D else mg.tensor(rng.normal(size=(D, P)) * scale)
    return X, s0, c0, params, Wp


@pytest.mark.parametrize("P", [None, 2])
def test_a_loss_on_c_alone_reaches_every_input(P):
    """An encoder's c_n given to a decoder: the loss uses c only."""
    X, s0, c0, params, Wp = make(P=P)
    s, c = mygru.lstm(X, *params, s0=s0, c0=c0, Wp=Wp)
    (c[-1] ** 2).sum().backward()
    for t in [X, s0, c0, *params, *([] if Wp is None else [Wp])]:
        assert t.grad is not None and np.any(t.grad != 0)
    assert np.all(s.grad[-1] == 0) and np.any(s.grad[:-1] != 0)  # S_T feeds nothing
    np.testing.assert_allclose(c.grad[-1], 2 * c.data[-1])


def test_creator_masks_and_the_cell_state_operation():
    X, _s0, _c0, params, _ = make()
    s, c = mygru.lstm(X, *params)
    assert isinstance(s.creator, mygru.LSTMOp) and s.creator.dropout_masks is None
    assert s.creator.bp_lim is None
    assert c.creator.op() is s.creator
    np.testing.assert_array_equal(s.data[0], 0)
    np.testing.assert_array_equal(c.data[0], 0)


def test_t0_returns_the_initial_states_and_their_gradients():
    _, s0, c0, params, Wp = make(P=2)
    s, c = mygru.lstm(np.zeros((0, 3, 2)), *params, s0=s0, c0=c0, Wp=Wp)
    assert s.shape == (1, 3, 2) and c.shape == (1, 3, 3)
    np.testing.assert_array_equal(s.data[0], s0.data)
    np.testing.assert_array_equal(c.data[0], c0.data)
    ((s * 2).sum() + (c * 3).sum()).backward()
    np.testing.assert_array_equal(s0.grad, np.full((3, 2), 2.0))
    np.testing.assert_array_equal(c0.grad, np.full((3, 3), 3.0))
    np.testing.assert_array_equal(params[0].grad, 0)
    np.testing.assert_array_equal(Wp.grad, 0)


def test_constant_flag():
    rng = np.random.default_rng(4)
    arrays = [rng.normal(size=sh) for sh in [(2, 3), (3, 3), (3,)] * 4]
    X = rng.normal(size=(3, 2, 2))
    assert all(t.constant for t in mygru.lstm(X, *arrays))  # all inputs are arrays
    assert not any(t.constant for t in mygru.lstm(X, *arrays, constant=False))
    tensors = [mg.tensor(a) for a in arrays]
    assert not any(t.constant for t in mygru.lstm(X, *tensors))
    s, c = mygru.lstm(X, *tensors, constant=True)
    assert s.constant and c.constant
    (s.sum() + c.sum()).backward()
    assert all(t.grad is None for t in tensors)


@pytest.mark.parametrize("loss", LOSSES)
def test_constant_false_on_constant_inputs_still_gives_both_state_gradients(loss):
    rng = np.random.default_rng(5)
    arrays = [rng.normal(size=sh) for sh in [(2, 3), (3, 3), (3,)] * 4]
    s, c = mygru.lstm(rng.normal(size=(3, 2, 2)), *arrays, constant=False)
    lstm_backward(s, c, np.ones((4, 2, 6)), loss)
    assert s.grad.shape == c.grad.shape == (4, 2, 3)
    assert np.any(s.grad[0] != 0) and np.any(c.grad[0] != 0)


def test_inputs_are_not_mutated():
    X, s0, c0, params, Wp = make(P=2)
    before = [t.data.copy() for t in [X, s0, c0, *params, Wp]]
    s, c = mygru.lstm(X, *params, s0=s0, c0=c0, Wp=Wp, dropout=0.3, bp_lim=2, rng=0, lengths=[2, 4, 1])
    ((s**2).sum() + c.sum()).backward()
    for a, t in zip(before, [X, s0, c0, *params, Wp]):
        np.testing.assert_array_equal(a, t.data)


def test_no_warning_for_huge_preactivations():
    X = np.full((3, 2, 2), 1e4, dtype=np.float32)
    params = [
        mg.tensor(np.full(sh, (-1.0) ** i, np.float32)) for i, sh in enumerate([(2, 3), (3, 3), (3,)] * 4)
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s, c = mygru.lstm(X, *params, s0=np.full((2, 3), -1e4, np.float32))
        (s.sum() + c.sum()).backward()
    assert np.all(np.isfinite(s.data)) and np.all(np.isfinite(c.data))
    assert all(np.all(np.isfinite(p.grad)) for p in params)


@pytest.mark.parametrize("loss", LOSSES)
def test_activations_released_after_backward(loss):
    X, _s0, _c0, params, _ = make()
    s, c = mygru.lstm(X, *params)
    op = s.creator
    assert op._kernel is not None
    lstm_backward(s, c, np.ones((5, 3, 6)), loss)
    assert op._kernel is None  # nor does the op keep any gradient
    assert not any(isinstance(v, dict) for v in vars(op).values())


def test_a_loss_on_s_alone_unlocks_the_parameters_while_c_lives():
    """mygrad keeps an op's inputs read-only while the op lives; after a backward from s
    alone, c (still held, as ``output, (h_n, c_n) = m(x)`` holds it) must not keep the
    LSTMOp alive, or an optimizer's in-place step on the parameters raises."""
    X, _s0, _c0, params, _ = make()
    s, c = mygru.lstm(X, *params)
    s.sum().backward()
    assert all(p.data.flags.writeable for p in params)
    params[0].data += 1.0  # what mynn's optimizers do
    with pytest.raises(mg.errors.InvalidBackprop):  # as for any graph a backward released
        c.sum().backward()


def test_no_cache_kept_when_nothing_can_backprop():
    X, s0, c0, params, _ = make()
    s, c = mygru.lstm(X.data, *[p.data for p in params])
    assert s.creator._kernel is None
    with mg.no_autodiff:
        s, c = mygru.lstm(X, *params, s0=s0, c0=c0)
    assert isinstance(c, mg.Tensor) and s.shape == c.shape == (5, 3, 3)
    np.testing.assert_array_equal(c.data[0], c0.data)


@pytest.mark.parametrize("P", [None, 2])
@pytest.mark.parametrize(
    "kwargs",
    [{}, {"dropout": 0.4, "rng": 3}, {"bp_lim": 3}, {"lengths": [3, 1]}],
    ids=["plain", "dropout", "bp_lim=T", "lengths"],
)
def test_finite_differences(P, kwargs):
    """(A truncated backward is not the derivative of any function: bp_lim = T only.)"""
    X, s0, c0, params, Wp = make(T=3, N=2, P=P, seed=1)
    extra = [] if Wp is None else [Wp]

    def f(X, s0, c0, *rest):
        s, c = mygru.lstm(X, *rest[:12], s0=s0, c0=c0, Wp=rest[12] if rest[12:] else None, **kwargs)
        return mg.concatenate([s, c], axis=-1)

    report = mygru.gradcheck(f, X, s0, c0, *params, *extra)
    assert report.ok, report
    assert len(report.inputs) == 15 + len(extra) and all(r.ok for r in report.inputs)


def test_s_and_c_grads_are_total_derivatives_through_a_downstream_graph():
    """s and c used twice downstream: their grads add both uses and the flow-back."""
    X, s0, c0, params, _ = make(seed=3)
    s, c = mygru.lstm(X, *params, s0=s0, c0=c0)
    rng = np.random.default_rng(3)
    w1, w2, w3 = rng.normal(size=s.shape), rng.normal(size=(3,)), rng.normal(size=c.shape)
    ((s * w1).sum() + (s[-1] @ w2).sum() + (c * w3).sum() + (c[1] @ w2).sum()).backward()
    upstream = np.concatenate([w1, w3], axis=-1)
    upstream[-1, :, :3] += w2
    upstream[1, :, 3:] += w2
    names = dict(zip(LSTM_NAMES, [p.data for p in params]))
    _, _, sgrad = reference(lstm_cell, X.data, names, np.concatenate([s0.data, c0.data], 1), upstream)
    np.testing.assert_allclose(s.grad, sgrad[..., :3], atol=1e-10, rtol=1e-10)
    np.testing.assert_allclose(c.grad, sgrad[..., 3:], atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("proj_size", [0, 2])
def test_same_as_torch_lstm(proj_size):
    """One layer of torch.nn.LSTM in float64, its weights mapped: outputs, h_n, c_n and
    the gradients of x, h0, c0 and every weight."""
    torch = pytest.importorskip("torch")
    T, N, C, D = 6, 3, 4, 5
    P = proj_size or D
    torch.manual_seed(0)
    module = torch.nn.LSTM(C, D, proj_size=proj_size).double()
    rng = np.random.default_rng(0)
    x, h0, c0 = rng.normal(size=(T, N, C)), rng.normal(size=(1, N, P)), rng.normal(size=(1, N, D))
    g_out, g_h, g_c = rng.normal(size=(T, N, P)), rng.normal(size=(1, N, P)), rng.normal(size=(1, N, D))

    xt, h0t, c0t = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    out, (h_n, c_n) = module(xt, (h0t, c0t))
    (
        (out * torch.tensor(g_out)).sum() + (h_n * torch.tensor(g_h)).sum() + (c_n * torch.tensor(g_c)).sum()
    ).backward()

    w = {k: v.detach().numpy() for k, v in module.named_parameters()}
    b = w["bias_ih_l0"] + w["bias_hh_l0"]
    gate = {g: slice(j * D, (j + 1) * D) for j, g in enumerate("ifgo")}  # torch's order
    params = []
    for g in "ifgo":
        params += [w["weight_ih_l0"][gate[g]].T, w["weight_hh_l0"][gate[g]].T, b[gate[g]]]
    tensors = [mg.tensor(p) for p in params]
    X, S0, C0 = mg.tensor(x), mg.tensor(h0[0]), mg.tensor(c0[0])
    Wp = mg.tensor(w["weight_hr_l0"].T) if proj_size else None
    s, c = mygru.lstm(X, *tensors, s0=S0, c0=C0, Wp=Wp)
    ((s[1:] * g_out).sum() + (s[-1] * g_h[0]).sum() + (c[-1] * g_c[0]).sum()).backward()

    tol = dict(atol=1e-10, rtol=1e-10)
    np.testing.assert_allclose(s.data[1:], out.detach().numpy(), **tol)
    np.testing.assert_allclose(s.data[-1], h_n.detach().numpy()[0], **tol)
    np.testing.assert_allclose(c.data[-1], c_n.detach().numpy()[0], **tol)
    np.testing.assert_allclose(X.grad, xt.grad.numpy(), **tol)
    np.testing.assert_allclose(S0.grad, h0t.grad.numpy()[0], **tol)
    np.testing.assert_allclose(C0.grad, c0t.grad.numpy()[0], **tol)
    grads = {k: v.grad.numpy() for k, v in module.named_parameters()}
    for j, g in enumerate("ifgo"):
        U, W, bias = tensors[3 * j : 3 * j + 3]
        np.testing.assert_allclose(U.grad, grads["weight_ih_l0"][gate[g]].T, err_msg="U" + g, **tol)
        np.testing.assert_allclose(W.grad, grads["weight_hh_l0"][gate[g]].T, err_msg="W" + g, **tol)
        np.testing.assert_allclose(bias.grad, grads["bias_ih_l0"][gate[g]], err_msg="b" + g, **tol)
        np.testing.assert_allclose(bias.grad, grads["bias_hh_l0"][gate[g]], err_msg="b" + g, **tol)
    if proj_size:
        np.testing.assert_allclose(Wp.grad, grads["weight_hr_l0"].T, **tol)


def test_c_grad_is_the_pair_states_derivative_as_the_conventions_page_says():
    """c.grad[t] leaves out the path c_t -> S_t inside cell t; adding s.grad[t] ⊙ O_t ⊙
    (1 − tanh² c_t), as docs/conventions.md says, gives dL/dc_t with S_t a function of c_t:
    the gradient of c_t read off the recurrence unrolled in mygrad primitives."""
    T, N, C, D = 4, 2, 3, 3
    rng = np.random.default_rng(5)
    X = rng.normal(size=(T, N, C))
    shapes = {"U": (C, D), "W": (D, D), "b": (D,)}
    p = {k: rng.normal(size=shapes[k[0]]) * 0.5 for k in LSTM_NAMES}
    w_s, w_c = rng.normal(size=(T + 1, N, D)), rng.normal(size=(T + 1, N, D))

    s, c = mygru.lstm(X, *(mg.tensor(p[k]) for k in LSTM_NAMES))
    ((s * w_s).sum() + (c * w_c).sum()).backward()

    t_ = {k: mg.tensor(v) for k, v in p.items()}
    h, cell, cells, outs = mg.zeros((N, D)), mg.zeros((N, D)), [], []
    loss = (h * w_s[0]).sum() + (cell * w_c[0]).sum()
    for t in range(T):

        def pre(g, x=X[t], h=h):
            return mg.matmul(x, t_["U" + g]) + mg.matmul(h, t_["W" + g]) + t_["b" + g]

        i, f, o = (mg.nnet.sigmoid(pre(g)) for g in "ifo")
        cell = f * cell + i * mg.tanh(pre("g"))
        h = o * mg.tanh(cell)
        cells.append(cell)
        outs.append(o)
        loss = loss + (h * w_s[t + 1]).sum() + (cell * w_c[t + 1]).sum()
    loss.backward()
    for t in range(1, T + 1):
        O, tc = outs[t - 1].data, np.tanh(c.data[t])
        np.testing.assert_allclose(c.grad[t] + s.grad[t] * O * (1 - tc**2), cells[t - 1].grad, rtol=1e-10)
