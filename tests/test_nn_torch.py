"""mygru.nn against torch.nn in float64: outputs, h_n (and the LSTM's c_n) and the gradients
of x, h0 (c0) and every parameter by name, over layers × directions × batch_first × bias ×
lengths (× proj_size for the LSTM), for GRU, RNN (tanh, relu), LSTM and the cells;
state_dict / from_torch / to_torch round trips. Skipped without torch (the rest of the nn
tests, in test_nn.py, do not need it)."""

import itertools

import mygrad as mg
import numpy as np
import pytest

from mygru import nn

torch = pytest.importorskip("torch")
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402

T, N, C, H = 5, 3, 4, 3
LENGTHS = [3, 5, 1]  # unsorted, the longest equals T, one sequence of a single step
TOL = dict(rtol=1e-9, atol=1e-9)

KINDS = {  # name -> (mygru class, torch class, extra constructor arguments)
    "gru": (nn.GRU, "GRU", {}),
    "rnn_tanh": (nn.RNN, "RNN", {"nonlinearity": "tanh"}),
    "rnn_relu": (nn.RNN, "RNN", {"nonlinearity": "relu"}),
}


def pair(values):
    """A module's state argument or result as a tuple of parts: (h,), or the LSTM's (h, c)."""
    return values if isinstance(values, tuple) else (values,)


def unpair(parts):
    """The inverse of ``pair``: one part alone, two as the LSTM's tuple."""
    return parts[0] if len(parts) == 1 else tuple(parts)


def results(output, finals, x, state0, params):
    """Named arrays to compare: output, h_n (c_n), the gradients of x, h0 (c0) and each parameter."""
    parts = "hc"[: len(finals)]
    grads0 = [None] * len(parts) if state0 is None else state0
    return dict(
        output=output,
        **{f"{part}_n": final for part, final in zip(parts, finals)},
        x=x,
        **{f"{part}0": g for part, g in zip(parts, grads0)},
        **params,
    )


def torch_forward_backward(module, x, h0, lengths, batch_first, g_out, g_hn):
    """torch's results and gradients; with lengths through pack/pad (enforce_sorted=False).
    ``h0`` and ``g_hn`` are arrays, or for an LSTM the pairs (h0, c0) and (g of h_n, g of c_n)."""
    xt = torch.tensor(x, requires_grad=True)
    h0t = None if h0 is None else [torch.tensor(a, requires_grad=True) for a in pair(h0)]
    hx = None if h0t is None else unpair(h0t)
    if lengths is None:
        out, hn = module(xt, hx)
    else:
        packed = pack_padded_sequence(
            xt, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False
        )
        out, hn = module(packed, hx)
        out, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=T)
    finals = pair(hn)
    loss = (out * torch.tensor(g_out)).sum()
    for final, g in zip(finals, pair(g_hn)):
        loss = loss + (final * torch.tensor(g)).sum()
    loss.backward()
    return results(
        out.detach().numpy(),
        [final.detach().numpy() for final in finals],
        xt.grad.numpy(),
        None if h0t is None else [a.grad.numpy() for a in h0t],
        {name: p.grad.numpy() for name, p in module.named_parameters()},
    )


def mygru_forward_backward(module, x, h0, lengths, g_out, g_hn):
    xm = mg.tensor(x)
    h0m = None if h0 is None else [mg.tensor(a) for a in pair(h0)]
    out, hn = module(xm, None if h0m is None else unpair(h0m), lengths=lengths)
    finals = pair(hn)
    loss = (out * g_out).sum()
    for final, g in zip(finals, pair(g_hn)):
        loss = loss + (final * g).sum()
    loss.backward()
    return results(
        out.data,
        [final.data for final in finals],
        xm.grad,
        None if h0m is None else [a.grad for a in h0m],
        {name: getattr(module, name).grad for name in module.state_dict()},
    )


def assert_same(ours, theirs):
    assert ours.keys() == theirs.keys()
    for name, expected in theirs.items():
        if expected is None:
            assert ours[name] is None, name
        else:
            np.testing.assert_allclose(ours[name], expected, err_msg=name, **TOL)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize(
    "layers, bidirectional, batch_first, bias, lengths",
    list(itertools.product([1, 2, 3], [False, True], [False, True], [True, False], [None, LENGTHS])),
)
def test_sequence_module_matches_torch(kind, layers, bidirectional, batch_first, bias, lengths):
    cls, torch_name, extra = KINDS[kind]
    torch.manual_seed(layers)
    tm = getattr(torch.nn, torch_name)(
        C, H, num_layers=layers, bias=bias, batch_first=batch_first, bidirectional=bidirectional, **extra
    ).double()
    m = cls.from_torch(tm)
    assert list(m.state_dict()) == list(tm.state_dict())  # names and order
    assert [p.shape for p in m.parameters] == [tuple(p.shape) for p in tm.parameters()]

    rng = np.random.default_rng(0)
    dirs = 2 if bidirectional else 1
    x = rng.normal(size=(N, T, C) if batch_first else (T, N, C))
    h0 = rng.normal(size=(layers * dirs, N, H))
    g_out = rng.normal(size=(N, T, dirs * H) if batch_first else (T, N, dirs * H))
    g_hn = rng.normal(size=(layers * dirs, N, H))
    theirs = torch_forward_backward(tm, x, h0, lengths, batch_first, g_out, g_hn)
    ours = mygru_forward_backward(m, x, h0, lengths, g_out, g_hn)
    assert_same(ours, theirs)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("lengths", [None, LENGTHS])
def test_without_h0_matches_torch(kind, lengths):
    cls, torch_name, extra = KINDS[kind]
    tm = getattr(torch.nn, torch_name)(C, H, num_layers=2, bidirectional=True, **extra).double()
    rng = np.random.default_rng(1)
    x, g_out, g_hn = rng.normal(size=(T, N, C)), rng.normal(size=(T, N, 2 * H)), rng.normal(size=(4, N, H))
    theirs = torch_forward_backward(tm, x, None, lengths, False, g_out, g_hn)
    assert_same(mygru_forward_backward(cls.from_torch(tm), x, None, lengths, g_out, g_hn), theirs)


@pytest.mark.parametrize("kind", list(KINDS))
def test_unbatched_sequence_matches_torch(kind):
    cls, torch_name, extra = KINDS[kind]
    tm = getattr(torch.nn, torch_name)(
        C, H, num_layers=2, bidirectional=True, batch_first=True, **extra
    ).double()
    rng = np.random.default_rng(2)
    x, h0 = rng.normal(size=(T, C)), rng.normal(size=(4, H))
    g_out, g_hn = rng.normal(size=(T, 2 * H)), rng.normal(size=(4, H))
    theirs = torch_forward_backward(tm, x, h0, None, True, g_out, g_hn)
    assert_same(mygru_forward_backward(cls.from_torch(tm), x, h0, None, g_out, g_hn), theirs)


PROJ = 2  # a proj_size smaller than H


@pytest.mark.parametrize(
    "layers, bidirectional, batch_first, bias, lengths, proj_size",
    list(
        itertools.product([1, 2, 3], [False, True], [False, True], [True, False], [None, LENGTHS], [0, PROJ])
    ),
)
def test_lstm_matches_torch(layers, bidirectional, batch_first, bias, lengths, proj_size):
    torch.manual_seed(layers)
    tm = torch.nn.LSTM(
        C,
        H,
        num_layers=layers,
        bias=bias,
        batch_first=batch_first,
        bidirectional=bidirectional,
        proj_size=proj_size,
    ).double()
    m = nn.LSTM.from_torch(tm)
    assert list(m.state_dict()) == list(tm.state_dict())  # names and order, weight_hr_l{k} included
    assert [p.shape for p in m.parameters] == [tuple(p.shape) for p in tm.parameters()]

    rng = np.random.default_rng(0)
    dirs, P = 2 if bidirectional else 1, proj_size or H
    x = rng.normal(size=(N, T, C) if batch_first else (T, N, C))
    hx = rng.normal(size=(layers * dirs, N, P)), rng.normal(size=(layers * dirs, N, H))
    g_out = rng.normal(size=(N, T, dirs * P) if batch_first else (T, N, dirs * P))
    g_hx = rng.normal(size=(layers * dirs, N, P)), rng.normal(size=(layers * dirs, N, H))
    theirs = torch_forward_backward(tm, x, hx, lengths, batch_first, g_out, g_hx)
    ours = mygru_forward_backward(m, x, hx, lengths, g_out, g_hx)
    assert {"c_n", "c0"} <= ours.keys()
    assert_same(ours, theirs)


@pytest.mark.parametrize("lengths", [None, LENGTHS])
@pytest.mark.parametrize("proj_size", [0, PROJ])
def test_lstm_without_hx_matches_torch(lengths, proj_size):
    tm = torch.nn.LSTM(C, H, num_layers=2, bidirectional=True, proj_size=proj_size).double()
    rng = np.random.default_rng(1)
    P = proj_size or H
    x, g_out = rng.normal(size=(T, N, C)), rng.normal(size=(T, N, 2 * P))
    g_hx = rng.normal(size=(4, N, P)), rng.normal(size=(4, N, H))
    theirs = torch_forward_backward(tm, x, None, lengths, False, g_out, g_hx)
    assert_same(mygru_forward_backward(nn.LSTM.from_torch(tm), x, None, lengths, g_out, g_hx), theirs)


@pytest.mark.parametrize("proj_size", [0, PROJ])
def test_unbatched_lstm_matches_torch(proj_size):
    tm = torch.nn.LSTM(C, H, num_layers=2, bidirectional=True, batch_first=True, proj_size=proj_size).double()
    rng = np.random.default_rng(2)
    P = proj_size or H
    x, hx = rng.normal(size=(T, C)), (rng.normal(size=(4, P)), rng.normal(size=(4, H)))
    g_out, g_hx = rng.normal(size=(T, 2 * P)), (rng.normal(size=(4, P)), rng.normal(size=(4, H)))
    theirs = torch_forward_backward(tm, x, hx, None, True, g_out, g_hx)
    assert_same(mygru_forward_backward(nn.LSTM.from_torch(tm), x, hx, None, g_out, g_hx), theirs)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("with_hx", [True, False])
def test_lstm_cell_matches_torch(bias, batched, with_hx):
    tm = torch.nn.LSTMCell(C, H, bias=bias).double()
    m = nn.LSTMCell.from_torch(tm)
    assert list(m.state_dict()) == list(tm.state_dict())
    rng = np.random.default_rng(3)
    lead = (N,) if batched else ()
    x, h, c = (rng.normal(size=lead + (k,)) for k in (C, H, H))
    g_h, g_c = rng.normal(size=lead + (H,)), rng.normal(size=lead + (H,))

    xt = torch.tensor(x, requires_grad=True)
    hxt = (torch.tensor(h, requires_grad=True), torch.tensor(c, requires_grad=True)) if with_hx else None
    ht, ct = tm(xt, hxt)
    ((ht * torch.tensor(g_h)).sum() + (ct * torch.tensor(g_c)).sum()).backward()
    xm = mg.tensor(x)
    hxm = (mg.tensor(h), mg.tensor(c)) if with_hx else None
    hm, cm = m(xm, hxm)
    ((hm * g_h).sum() + (cm * g_c).sum()).backward()

    np.testing.assert_allclose(hm.data, ht.detach().numpy(), **TOL)
    np.testing.assert_allclose(cm.data, ct.detach().numpy(), **TOL)
    np.testing.assert_allclose(xm.grad, xt.grad.numpy(), **TOL)
    if with_hx:
        for ours, theirs in zip(hxm, hxt):
            np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), **TOL)
    for name, p in tm.named_parameters():
        np.testing.assert_allclose(getattr(m, name).grad, p.grad.numpy(), err_msg=name, **TOL)


CELLS = {
    "gru": (nn.GRUCell, "GRUCell", {}),
    "rnn_tanh": (nn.RNNCell, "RNNCell", {"nonlinearity": "tanh"}),
    "rnn_relu": (nn.RNNCell, "RNNCell", {"nonlinearity": "relu"}),
}


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("with_h", [True, False])
def test_cell_matches_torch(kind, bias, batched, with_h):
    cls, torch_name, extra = CELLS[kind]
    tm = getattr(torch.nn, torch_name)(C, H, bias=bias, **extra).double()
    m = cls.from_torch(tm)
    assert list(m.state_dict()) == list(tm.state_dict())
    rng = np.random.default_rng(3)
    lead = (N,) if batched else ()
    x, h, g = rng.normal(size=lead + (C,)), rng.normal(size=lead + (H,)), rng.normal(size=lead + (H,))

    xt = torch.tensor(x, requires_grad=True)
    ht = torch.tensor(h, requires_grad=True) if with_h else None
    (tm(xt, ht) * torch.tensor(g)).sum().backward()
    xm = mg.tensor(x)
    hm = mg.tensor(h) if with_h else None
    out = m(xm, hm)
    (out * g).sum().backward()

    np.testing.assert_allclose(
        out.data, tm(torch.tensor(x), None if ht is None else ht.detach()).detach(), **TOL
    )
    np.testing.assert_allclose(xm.grad, xt.grad.numpy(), **TOL)
    if with_h:
        np.testing.assert_allclose(hm.grad, ht.grad.numpy(), **TOL)
    for name, p in tm.named_parameters():
        np.testing.assert_allclose(getattr(m, name).grad, p.grad.numpy(), err_msg=name, **TOL)


def test_a_cell_step_by_step_equals_the_sequence_module():
    """A GRUCell unrolled by hand gives GRU's output, as in torch (weights shared by name)."""
    cell = nn.GRUCell(C, H, dtype=np.float64, rng=0)
    seq = nn.GRU(C, H, dtype=np.float64)
    seq.load_state_dict({f"{name}_l0": a for name, a in cell.state_dict().items()})
    x = np.random.default_rng(4).normal(size=(T, N, C))
    h, states = None, []
    for t in range(T):
        h = cell(x[t], h)
        states.append(h.data)
    np.testing.assert_allclose(np.stack(states), seq(x)[0].data, **TOL)


def test_an_lstm_cell_step_by_step_equals_the_sequence_module():
    cell = nn.LSTMCell(C, H, dtype=np.float64, rng=0)
    seq = nn.LSTM(C, H, dtype=np.float64)
    seq.load_state_dict({f"{name}_l0": a for name, a in cell.state_dict().items()})
    x = np.random.default_rng(4).normal(size=(T, N, C))
    hx, states = None, []
    for t in range(T):
        hx = cell(x[t], hx)
        states.append(hx[0].data)
    output, (h_n, c_n) = seq(x)
    np.testing.assert_allclose(np.stack(states), output.data, **TOL)
    np.testing.assert_allclose(hx[0].data, h_n.data[0], **TOL)
    np.testing.assert_allclose(hx[1].data, c_n.data[0], **TOL)


# --------------------------------------------------------------------------- round trips


ROUND_TRIP_CASES = [
    (nn.GRU, dict(num_layers=2, bidirectional=True, dropout=0.25, batch_first=True)),
    (nn.GRU, dict(bias=False)),
    (nn.RNN, dict(num_layers=3, nonlinearity="relu", bias=False, bidirectional=True)),
    (nn.LSTM, dict(num_layers=2, bidirectional=True, proj_size=2, dropout=0.25, batch_first=True)),
    (nn.LSTM, dict(bias=False)),
    (nn.GRUCell, dict(bias=False)),
    (nn.RNNCell, dict(nonlinearity="relu")),
    (nn.LSTMCell, dict(bias=False)),
]


@pytest.mark.parametrize("cls, kwargs", ROUND_TRIP_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_to_torch_and_back(cls, kwargs, dtype):
    m = cls(C, H, **kwargs, dtype=dtype, rng=5).eval()
    tm = m.to_torch()
    assert type(tm).__name__ == cls.__name__ and not tm.training
    first = next(tm.parameters())
    assert first.dtype == getattr(torch, np.dtype(dtype).name)
    for name, value in tm.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), m.state_dict()[name], err_msg=name)
    for arg in cls._torch_args:
        assert getattr(tm, arg) == getattr(m, arg), arg

    back = cls.from_torch(tm)
    assert back.dtype == dtype and back.training is False and repr(back) == repr(m)
    for name, value in m.state_dict().items():
        np.testing.assert_array_equal(back.state_dict()[name], value, err_msg=name)


@pytest.mark.parametrize("cls, kwargs", ROUND_TRIP_CASES)
def test_from_torch_and_back(cls, kwargs):
    tm = getattr(torch.nn, cls.__name__)(C, H, **kwargs)  # float32, training mode, torch's init
    m = cls.from_torch(tm)
    assert m.dtype == np.float32 and m.training
    again = m.to_torch().state_dict()
    assert list(again) == list(tm.state_dict())
    for name, value in tm.state_dict().items():
        assert torch.equal(again[name], value), name


def test_load_state_dict_takes_torch_tensors_that_require_grad():
    tm = torch.nn.GRU(C, H, num_layers=2).double()
    m = nn.GRU(C, H, num_layers=2, dtype=np.float64)
    params = dict(tm.named_parameters())
    assert all(p.requires_grad for p in params.values())
    m.load_state_dict(params)
    for name, p in params.items():
        np.testing.assert_array_equal(getattr(m, name).data, p.detach().numpy())
    x = np.random.default_rng(6).normal(size=(T, N, C))
    np.testing.assert_allclose(m(x)[0].data, tm(torch.tensor(x))[0].detach().numpy(), **TOL)


def test_from_torch_rejects_the_wrong_class_and_dtype():
    with pytest.raises(TypeError, match="module must be a torch.nn.GRU, got RNN"):
        nn.GRU.from_torch(torch.nn.RNN(C, H))
    with pytest.raises(TypeError, match="module must be a torch.nn.RNNCell, got Linear"):
        nn.RNNCell.from_torch(torch.nn.Linear(C, H))
    with pytest.raises(TypeError, match="module must be a torch.nn.LSTM, got GRU"):
        nn.LSTM.from_torch(torch.nn.GRU(C, H))
    with pytest.raises(
        TypeError, match=r"module's parameters must all be float32 or all float64, got \['float16'\]"
    ):
        nn.GRU.from_torch(torch.nn.GRU(C, H).half())


def test_from_torch_keeps_the_dropout_and_its_training_mode():
    tm = torch.nn.GRU(C, H, num_layers=2, dropout=0.3).eval()
    m = nn.GRU.from_torch(tm)
    assert m.dropout == pytest.approx(0.3) and m.training is False


def test_lengths_may_be_a_torch_tensor():
    m = nn.GRU(C, H, bidirectional=True, rng=0)
    x = np.random.default_rng(7).normal(size=(T, N, C))
    np.testing.assert_array_equal(m(x, lengths=torch.tensor(LENGTHS))[0].data, m(x, lengths=LENGTHS)[0].data)


def test_load_state_dict_names_the_key_of_a_tensor_numpy_cannot_read():
    m = nn.GRUCell(C, H)
    before = m.state_dict()
    sd = {k: torch.tensor(v) for k, v in before.items()}
    sd["weight_hh"] = sd["weight_hh"].bfloat16()  # numpy has no bfloat16
    with pytest.raises(TypeError, match=r"^state_dict\['weight_hh'\] must be a tensor numpy can read"):
        m.load_state_dict(sd)
    for name, value in before.items():
        np.testing.assert_array_equal(getattr(m, name).data, value)


# --------------------------------------------------------------------------- numpy views of torch tensors


def test_numpy_views_of_torch_tensors_work_as_plain_array_arguments():
    """``t.numpy()`` shares ``t``'s memory and has the torch tensor as its ``base``, which
    mygrad's memory guard cannot lock (every mygrad op on such an array raised
    AttributeError: 'Tensor' object has no attribute 'flags'). mygru copies such arrays
    where they come in, so the ops and the modules take them; ``t`` is never written to."""
    import mygru

    rng = np.random.default_rng(8)
    x = torch.tensor(rng.normal(size=(T, N, C)))
    h0 = torch.tensor(rng.normal(size=(1, N, H)))
    weights = [torch.tensor(rng.normal(size=sh)) for sh in [(C, H), (H, H), (H,)] * 3]
    before = [t.clone() for t in (x, h0, *weights)]

    s = mygru.gru(x.numpy(), *(w.numpy() for w in weights), s0=h0[0].numpy())
    expected = mygru.gru(x.numpy().copy(), *(w.numpy().copy() for w in weights), s0=h0[0].numpy().copy())
    np.testing.assert_array_equal(s.data, expected.data)
    # torch tensors themselves are read as their values (nothing flows back to torch)
    Wz = weights[1].clone().requires_grad_()
    s = mygru.gru(x, weights[0], Wz, *weights[2:], s0=h0[0])
    np.testing.assert_array_equal(s.data, expected.data)
    assert Wz.grad is None
    U = mg.tensor(weights[0].numpy())  # mygrad copies by default: an ordinary Tensor
    s = mygru.gru(x.numpy()[1:], U, *(w.numpy() for w in weights[1:]))
    s.sum().backward()
    assert U.grad.shape == (C, H)

    m = nn.GRU(C, H, dtype=np.float64, rng=0)
    out, _ = m(x.numpy(), h0.numpy())
    np.testing.assert_array_equal(out.data, m(x.numpy().copy(), h0.numpy().copy())[0].data)
    cell = nn.RNNCell(C, H, dtype=np.float64, rng=0)
    np.testing.assert_array_equal(
        cell(x[0].numpy(), h0[0].numpy()).data, cell(x[0].numpy().copy(), h0[0].numpy().copy()).data
    )
    for t, b in zip((x, h0, *weights), before):
        assert torch.equal(t, b)
    assert x.numpy().flags.writeable
