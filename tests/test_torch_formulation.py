"""reset_after=True and rnn give torch.nn.GRU / torch.nn.RNN's numbers (one layer, float64)
after mapping torch's weights; skipped without torch. The full reference tests of both
(unrolled mygrad primitives, every bp_lim, dropout, lengths) are in test_bp_lim.py."""

import mygrad as mg
import numpy as np
import pytest

import mygru

torch = pytest.importorskip("torch")


def upstream(grad_out, grad_hn):
    """The gradient arriving at mygru's s (T+1, N, D) for torch's output and h_n gradients."""
    g = np.zeros((grad_out.shape[0] + 1, *grad_out.shape[1:]))
    g[1:] = grad_out
    g[-1] += grad_hn[0]
    return g


def torch_run(module, X, s0, grad_out, grad_hn):
    x = torch.tensor(X, requires_grad=True)
    h0 = torch.tensor(s0[None], requires_grad=True)
    out, hn = module(x, h0)
    (out * torch.tensor(grad_out)).sum().add((hn * torch.tensor(grad_hn)).sum()).backward()
    grads = {n: p.grad.numpy() for n, p in module.named_parameters()}
    return out.detach().numpy(), x.grad.numpy(), h0.grad.numpy()[0], grads


@pytest.mark.parametrize("seed", range(3))
def test_reset_after_equals_torch_gru(seed):
    rng = np.random.default_rng(seed)
    T, N, C, D = 6, 3, 4, 5
    module = torch.nn.GRU(C, D).double()
    X, s0 = rng.normal(size=(T, N, C)), rng.normal(size=(N, D))
    grad_out, grad_hn = rng.normal(size=(T, N, D)), rng.normal(size=(1, N, D))
    out, dx, dh0, tg = torch_run(module, X, s0, grad_out, grad_hn)

    sd = {n: p.detach().numpy() for n, p in module.named_parameters()}
    w_ir, w_iz, w_in = np.split(sd["weight_ih_l0"], 3)  # torch's gate order: r, z, n
    w_hr, w_hz, w_hn = np.split(sd["weight_hh_l0"], 3)
    b_ir, b_iz, b_in = np.split(sd["bias_ih_l0"], 3)
    b_hr, b_hz, b_hn = np.split(sd["bias_hh_l0"], 3)
    p = dict(
        Uz=w_iz.T,
        Wz=w_hz.T,
        bz=b_iz + b_hz,
        Ur=w_ir.T,
        Wr=w_hr.T,
        br=b_ir + b_hr,
        Uh=w_in.T,
        Wh=w_hn.T,
        bh=b_in,
    )
    tensors = {k: mg.tensor(v) for k, v in p.items()}
    Xt, s0t, bhn = mg.tensor(X), mg.tensor(s0), mg.tensor(b_hn)
    s = mygru.gru(Xt, *tensors.values(), s0=s0t, reset_after=True, bhn=bhn)
    np.testing.assert_allclose(s.data[1:], out, atol=1e-12)
    s.backward(upstream(grad_out, grad_hn))
    np.testing.assert_allclose(Xt.grad, dx, atol=1e-10)
    np.testing.assert_allclose(s0t.grad, dh0, atol=1e-10)
    dW_ih = np.concatenate([tensors[k].grad.T for k in ("Ur", "Uz", "Uh")])
    dW_hh = np.concatenate([tensors[k].grad.T for k in ("Wr", "Wz", "Wh")])
    np.testing.assert_allclose(dW_ih, tg["weight_ih_l0"], atol=1e-10)
    np.testing.assert_allclose(dW_hh, tg["weight_hh_l0"], atol=1e-10)
    gr, gz, gn = np.split(tg["bias_hh_l0"], 3)
    np.testing.assert_allclose(tensors["br"].grad, gr, atol=1e-10)  # b_r = b_ir + b_hr
    np.testing.assert_allclose(tensors["bz"].grad, gz, atol=1e-10)
    np.testing.assert_allclose(bhn.grad, gn, atol=1e-10)
    np.testing.assert_allclose(tensors["bh"].grad, np.split(tg["bias_ih_l0"], 3)[2], atol=1e-10)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_equals_torch_rnn(nonlinearity):
    rng = np.random.default_rng(4)
    T, N, C, D = 7, 3, 4, 5
    module = torch.nn.RNN(C, D, nonlinearity=nonlinearity).double()
    X, s0 = rng.normal(size=(T, N, C)), rng.normal(size=(N, D))
    grad_out, grad_hn = rng.normal(size=(T, N, D)), rng.normal(size=(1, N, D))
    out, dx, dh0, tg = torch_run(module, X, s0, grad_out, grad_hn)
    sd = {n: p.detach().numpy() for n, p in module.named_parameters()}
    U, W = mg.tensor(sd["weight_ih_l0"].T), mg.tensor(sd["weight_hh_l0"].T)
    b = mg.tensor(sd["bias_ih_l0"] + sd["bias_hh_l0"])
    Xt, s0t = mg.tensor(X), mg.tensor(s0)
    s = mygru.rnn(Xt, U, W, b, s0=s0t, nonlinearity=nonlinearity)
    np.testing.assert_allclose(s.data[1:], out, atol=1e-12)
    s.backward(upstream(grad_out, grad_hn))
    np.testing.assert_allclose(Xt.grad, dx, atol=1e-10)
    np.testing.assert_allclose(s0t.grad, dh0, atol=1e-10)
    np.testing.assert_allclose(U.grad.T, tg["weight_ih_l0"], atol=1e-10)
    np.testing.assert_allclose(W.grad.T, tg["weight_hh_l0"], atol=1e-10)
    np.testing.assert_allclose(b.grad, tg["bias_hh_l0"], atol=1e-10)


def test_relu_rnn_gradient_is_zero_where_the_unit_is_off():
    """relu'(0) is taken as 0, as in torch: a unit that is off passes nothing back."""
    X = np.ones((1, 1, 1))
    U = mg.tensor([[-1.0, 1.0]])
    s = mygru.rnn(X, U, np.zeros((2, 2)), np.zeros(2), nonlinearity="relu")
    np.testing.assert_array_equal(s.data[1], [[0.0, 1.0]])
    s.sum().backward()
    np.testing.assert_array_equal(U.grad, [[0.0, 1.0]])
