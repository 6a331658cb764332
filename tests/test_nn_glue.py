"""The modules' own mygrad operations (gate blocks from torch's parameters, the layers'
outputs and the final states) against the plain version: the same modules built from
mygrad's slicing, transposes, sums, concatenate and stack, which mygrad differentiates
by itself. Values and every gradient, for every cell, with constant and shared
(tied) parameters, h0/c0, lengths, both dropouts and losses on any of the outputs."""

import mygrad as mg
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import DTYPES, tolerances

import mygru
from mygru import nn


def plain_gate_arguments(m, params):
    """The per-gate arguments of the module's op by Tensor slicing (torch's row blocks,
    transposed; the biases that the op sees only summed, summed)."""
    kind, H = type(m).__name__.removesuffix("Cell"), m.hidden_size
    w_ih, w_hh, b_ih, b_hh = params[:4]
    U, W = w_ih.T, w_hh.T
    blocks = {"GRU": "rzh", "RNN": "", "LSTM": "ifgo"}[kind]
    args = {}
    for k, gate in enumerate(blocks or [""]):
        rows = slice(k * H, (k + 1) * H)
        args["U" + gate], args["W" + gate] = U[:, rows], W[:, rows]
        if b_ih is None:
            args["b" + gate] = np.zeros(H, m.dtype)
        elif kind == "GRU" and gate == "h":  # the candidate keeps b_hn apart
            args["bh"], args["bhn"] = b_ih[rows], b_hh[rows]
        else:
            args["b" + gate] = b_ih[rows] + b_hh[rows]
    if len(params) > 4 and params[4] is not None:
        args["Wp"] = params[4].T
    return args


def plain_recurrence(m, X, params, state0, lengths, dropout):
    """What ``m._recurrence`` computes, with :func:`plain_gate_arguments`."""
    a = plain_gate_arguments(m, params)
    kind = type(m).__name__.removesuffix("Cell")
    if kind == "GRU":
        gates = [a[n] for n in ("Uz", "Wz", "bz", "Ur", "Wr", "br", "Uh", "Wh", "bh")]
        s = mygru.gru(
            X,
            *gates,
            state0[0],
            dropout=dropout,
            rng=m._rng,
            reset_after=True,
            bhn=a.get("bhn"),
            lengths=lengths,
        )
        return (s,)
    if kind == "RNN":
        s = mygru.rnn(
            X,
            a["U"],
            a["W"],
            a["b"],
            state0[0],
            dropout=dropout,
            nonlinearity=m.nonlinearity,
            rng=m._rng,
            lengths=lengths,
        )
        return (s,)
    gates = [a[n + g] for g in "ifgo" for n in "UWb"]
    return mygru.lstm(X, *gates, *state0, dropout=dropout, rng=m._rng, lengths=lengths, Wp=a.get("Wp"))


def reverse_within(seq, lengths):
    """``seq`` (T, N, K) reversed in time within each length, by plain Tensor indexing."""
    if lengths is None:
        return seq[::-1]
    T = seq.shape[0]
    t = np.arange(T)[:, None]
    return seq[np.where(t < lengths, lengths - 1 - t, t), np.arange(len(lengths))]


def plain_run(m, x, state0, lengths):
    """What ``m._run`` computes (batched x), from plain mygrad operations."""
    x = mg.swapaxes(x, 0, 1) if m.batch_first else x
    T = x.shape[0]
    lengths = None if lengths is None else np.asarray(lengths)
    dirs = len(m._suffixes)
    p, vp = (m.dropout, m.variational_dropout) if m.training else (0.0, 0.0)
    finals = [[] for _ in state0]
    layer_input = x
    for layer in range(m.num_layers):
        outputs = []
        for direction, suffix in enumerate(m._suffixes):
            init = tuple(None if v is None else v[layer * dirs + direction] for v in state0)
            X = layer_input if direction == 0 else reverse_within(layer_input, lengths)
            states = plain_recurrence(m, X, m._layer_params(layer, suffix), init, lengths, vp)
            s = states[0][1:]
            outputs.append(s if direction == 0 else reverse_within(s, lengths))
            for final, sequence in zip(finals, states):
                final.append(sequence[-1])
        layer_input = mg.concatenate(outputs, axis=-1)
        if p and layer < m.num_layers - 1:
            layer_input = layer_input * m._dropout_mask(layer_input.shape, layer_input.dtype, p)
    output = layer_input
    if lengths is not None:
        output = output * (np.arange(T)[:, None, None] < lengths[:, None]).astype(output.dtype)
    output = mg.swapaxes(output, 0, 1) if m.batch_first else output
    return output, tuple(mg.stack(final) for final in finals)


@st.composite
def module_cases(draw):
    kind = draw(st.sampled_from(["GRU", "RNN", "LSTM", "LSTM-proj"]))
    T, N, C = draw(st.integers(1, 5)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    H = draw(st.integers(2, 5))
    kwargs = dict(
        num_layers=draw(st.integers(1, 3)),
        bias=draw(st.booleans()),
        batch_first=draw(st.booleans()),
        bidirectional=draw(st.booleans()),
        dtype=draw(DTYPES),
        variational_dropout=draw(st.sampled_from([0.0, 0.4])),
    )
    if kwargs["num_layers"] > 1:
        kwargs["dropout"] = draw(st.sampled_from([0.0, 0.4]))
    if kind == "LSTM-proj":
        kwargs["proj_size"] = draw(st.integers(1, H - 1))
    lengths = draw(st.none() | st.lists(st.integers(1, T), min_size=N, max_size=N))
    return dict(
        kind=kind.removesuffix("-proj"),
        sizes=(T, N, C, H),
        kwargs=kwargs,
        lengths=lengths,
        seed=draw(st.integers(0, 2**16)),
        h0=draw(st.sampled_from(["none", "array", "variable"])),
        constant=draw(st.lists(st.booleans(), min_size=12, max_size=12)),
        tie=draw(st.booleans()),
        loss=draw(st.sampled_from(["output", "finals", "both"])),
    )


def make_pair(case):
    """Two modules with the same parameters and dropout generators; some parameters
    replaced by constant Tensors, and with ``tie`` one Tensor in two places."""
    C, H = case["sizes"][2:]
    cls = getattr(nn, case["kind"])
    ms = [cls(C, H, **case["kwargs"], rng=case["seed"]) for _ in range(2)]
    names = list(ms[0].state_dict())
    for m in ms:
        m.load_state_dict(ms[0].state_dict())
        for name, constant in zip(names, case["constant"]):
            if constant:
                setattr(m, name, mg.tensor(getattr(m, name).data, constant=True))
        if case["tie"] and "weight_hh_l0_reverse" in names:
            m.weight_hh_l0_reverse = m.weight_hh_l0  # the same Tensor in both directions
    return ms


def m_run(m, x, state0, lengths):
    return m._run(x, state0, lengths)


@settings(max_examples=60, deadline=None)
@given(module_cases())
def test_module_equals_the_plain_mygrad_version(case):
    check_against_plain(case)


@pytest.mark.parametrize("kind", ["GRU", "LSTM"])
@pytest.mark.parametrize("variational_dropout", [0.0, 0.4])
def test_unsorted_lengths_with_dropout_equal_the_plain_mygrad_version(kind, variational_dropout):
    """The module orders the batch by length itself: torch's dropout masks still fall on
    the sequences they were drawn for."""
    kwargs = dict(num_layers=3, bias=True, batch_first=False, bidirectional=True, dtype=np.float64)
    kwargs.update(dropout=0.5, variational_dropout=variational_dropout)
    case = dict(kind=kind, sizes=(5, 4, 3, 4), kwargs=kwargs, lengths=[2, 5, 1, 4], seed=7, h0="variable")
    check_against_plain(dict(case, constant=[False] * 12, tie=False, loss="both"))


def check_against_plain(case):
    T, N, C, H = case["sizes"]
    fast, plain = make_pair(case)
    rng = np.random.default_rng(case["seed"])
    dtype = fast.dtype
    dirs, L, P = len(fast._suffixes), fast.num_layers, fast._state_size
    x_shape = (N, T, C) if fast.batch_first else (T, N, C)
    x_value = rng.normal(size=x_shape).astype(dtype)
    state_values = [
        rng.normal(size=(L * dirs, N, size)).astype(dtype) for size in (P, H)[: len(fast._states)]
    ]
    out_grad = rng.normal(size=(*x_shape[:2], dirs * P))
    final_grads = [rng.normal(size=v.shape) for v in state_values]

    results = []
    for m, run in ((fast, m_run), (plain, plain_run)):
        x = mg.tensor(x_value)
        state0 = tuple(
            None if case["h0"] == "none" else (v if case["h0"] == "array" else mg.tensor(v))
            for v in state_values
        )
        output, finals = run(m, x, state0, case["lengths"])
        loss = mg.sum(output * out_grad) if case["loss"] != "finals" else 0
        if case["loss"] != "output":
            loss = loss + sum(mg.sum(f * g) for f, g in zip(finals, final_grads))
        loss.backward()
        grads = [x.grad] + [None if isinstance(v, np.ndarray) or v is None else v.grad for v in state0]
        grads += [p.grad for p in m.parameters]
        results.append(([output.data] + [f.data for f in finals], grads))

    tol_f, tol_g = tolerances(dtype)
    for a, b in zip(results[0][0], results[1][0]):
        np.testing.assert_allclose(a, b, **tol_f)
    for name, a, b in zip(
        ["x", "h0", "c0"][: 1 + len(fast._states)] + list(fast.state_dict()), *[r[1] for r in results]
    ):
        assert (a is None) == (b is None), name
        if a is not None:
            assert a.dtype == b.dtype, name
            np.testing.assert_allclose(a, b, err_msg=name, **tol_g)


@pytest.mark.parametrize("cls", [nn.GRUCell, nn.RNNCell, nn.LSTMCell])
@pytest.mark.parametrize("bias", [True, False])
def test_cells_equal_the_plain_mygrad_version(cls, bias):
    N, C, H = 3, 4, 5
    rng = np.random.default_rng(0)
    m = cls(C, H, bias=bias, dtype=np.float64, rng=0)
    x, h = mg.tensor(rng.normal(size=(N, C))), mg.tensor(rng.normal(size=(N, H)))
    parts = (h, mg.tensor(rng.normal(size=(N, H)))) if cls is nn.LSTMCell else (h,)
    grads = [rng.normal(size=(N, H)) for _ in parts]
    fast = m._step(x, parts)
    sum(mg.sum(s * g) for s, g in zip(fast, grads)).backward()
    fast_grads = [t.grad for t in (x, *parts, *m.parameters)]
    params = tuple(getattr(m, kind, None) for kind in m._kinds)
    plain = [s[1] for s in plain_recurrence(m, x[None], params, parts, None, 0.0)]
    sum(mg.sum(s * g) for s, g in zip(plain, grads)).backward()
    for a, b in zip(fast, plain):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-12, atol=1e-12)
    for a, b in zip(fast_grads, [t.grad for t in (x, *parts, *m.parameters)]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
