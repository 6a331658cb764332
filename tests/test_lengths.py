"""Variable lengths in the kernels (each cell touches only the sequences still running):
a batch with ``lengths`` gives what running each sequence alone gives, for every cell,
states and every gradient; and the packed path visits only Σ lengths rows."""

import mygrad as mg
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference import GRU_NAMES, LSTM_NAMES, RNN_NAMES

import mygru
from mygru._kernels import GRU

KINDS = ("gru", "gru_reset_after", "rnn_tanh", "rnn_relu", "lstm", "lstm_proj")


def names(kind):
    return {"gru": GRU_NAMES, "gru_reset_after": GRU_NAMES + ("bhn",), "lstm": LSTM_NAMES}.get(
        kind.removesuffix("_proj"), RNN_NAMES
    )


def run(kind, X, params, s0, grad, lengths=None):
    """Forward and backward of a fresh graph: (states, s.grad, {name: gradient}) with the
    LSTM's states and their gradients the pair [s | c]."""
    tensors = {k: mg.tensor(v) for k, v in params.items()}
    Xt, s0t = mg.tensor(X), {k: mg.tensor(v) for k, v in s0.items()}
    if kind.startswith("lstm"):
        p = dict(tensors)
        Wp = p.pop("Wp", None)
        s, c = mygru.lstm(Xt, *p.values(), s0=s0t["s0"], c0=s0t["c0"], Wp=Wp, lengths=lengths)
        P = s.shape[-1]
        ((s * grad[..., :P]).sum() + (c * grad[..., P:]).sum()).backward()
        states, sgrad = np.concatenate([s.data, c.data], -1), np.concatenate([s.grad, c.grad], -1)
    else:
        p = dict(tensors)
        if kind.startswith("gru"):
            extra = dict(reset_after=True, bhn=p.pop("bhn")) if kind == "gru_reset_after" else {}
            s = mygru.gru(Xt, *p.values(), s0=s0t["s0"], lengths=lengths, **extra)
        else:
            s = mygru.rnn(Xt, *p.values(), s0=s0t["s0"], nonlinearity=kind[4:], lengths=lengths)
        s.backward(grad)
        states, sgrad = s.data, s.grad
    grads = {k: t.grad for k, t in {**tensors, **s0t, "X": Xt}.items()}
    return states, sgrad, grads


@st.composite
def batches(draw):
    kind = draw(st.sampled_from(KINDS))
    T, N, C, D = (
        draw(st.integers(1, 7)),
        draw(st.integers(1, 5)),
        draw(st.integers(1, 4)),
        draw(st.integers(1, 4)),
    )
    P = draw(st.integers(1, 4)) if kind == "lstm_proj" else D
    lengths = draw(st.lists(st.integers(1, T), min_size=N, max_size=N))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shapes = {"U": (C, D), "W": (P, D), "b": (D,)}
    params = {k: rng.normal(size=shapes[k[0]]) * 0.6 for k in names(kind)}
    if kind == "lstm_proj":
        params["Wp"] = rng.normal(size=(D, P)) * 0.6
    lstm = kind.startswith("lstm")
    s0 = {"s0": rng.normal(size=(N, P)) * 0.5}
    if lstm:
        s0["c0"] = rng.normal(size=(N, D)) * 0.5
    grad = rng.normal(size=(T + 1, N, P + D if lstm else D))
    return kind, rng.normal(size=(T, N, C)), params, s0, grad, lengths


@given(batches())
def test_a_batch_with_lengths_is_each_sequence_run_alone(batch):
    """Sequence n alone runs lengths[n] steps; in the batch its later states repeat the
    last and their loss terms reach it (so the lone run gets them at its last state)."""
    kind, X, params, s0, grad, lengths = batch
    states, sgrad, grads = run(kind, X, params, s0, grad, lengths)
    total = {k: np.zeros_like(v) for k, v in params.items()}
    for n, L in enumerate(lengths):
        g = grad[: L + 1, n : n + 1].copy()
        g[L] += grad[L + 1 :, n].sum(axis=0)
        alone = run(kind, X[:L, n : n + 1], params, {k: v[n : n + 1] for k, v in s0.items()}, g)
        a_states, a_sgrad, a_grads = alone
        np.testing.assert_allclose(states[: L + 1, n], a_states[:, 0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(
            states[L:, n], np.broadcast_to(a_states[L, 0], states[L:, n].shape), atol=0
        )
        np.testing.assert_allclose(sgrad[: L + 1, n], a_sgrad[:, 0], rtol=1e-10, atol=1e-10)
        after = np.cumsum(grad[L:, n][::-1], axis=0)[::-1]  # what reaches each state past the end
        np.testing.assert_allclose(sgrad[L + 1 :, n], after[1:], rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(grads["X"][:L, n], a_grads["X"][:, 0], rtol=1e-10, atol=1e-10)
        assert np.all(grads["X"][L:, n] == 0)
        for k in s0:
            np.testing.assert_allclose(grads[k][n], a_grads[k][0], rtol=1e-10, atol=1e-10)
        for k in total:
            total[k] += a_grads[k]
    for k, v in total.items():
        np.testing.assert_allclose(grads[k], v, rtol=1e-9, atol=1e-10, err_msg=k)


def test_cells_touch_only_the_running_sequences(monkeypatch):
    """Each step and each backward step sees counts[t] rows, the sequences still running:
    Σ lengths rows in all, each direction, not T·N."""
    seen = {"forward": [], "backward": []}
    forward_cell, backward_cell = GRU.forward_cell, GRU.backward_cell

    def counting_forward(self, rows):
        seen["forward"].append(rows)
        return forward_cell(self, rows)

    def counting_backward(self, cells, out, rows):
        seen["backward"] += [rows] * (cells.stop - cells.start)
        return backward_cell(self, cells, out, rows)

    monkeypatch.setattr(GRU, "forward_cell", counting_forward)
    monkeypatch.setattr(GRU, "backward_cell", counting_backward)
    rng = np.random.default_rng(0)
    T, N, C, D = 9, 5, 2, 3
    lengths = [3, 9, 1, 5, 5]
    params = [mg.tensor(rng.normal(size=sh)) for sh in [(C, D), (D, D), (D,)] * 3]
    s = mygru.gru(rng.normal(size=(T, N, C)), *params, lengths=lengths)
    s.sum().backward()
    runs = [(5, 1), (4, 2), (3, 2), (1, 4)]  # (sequences running, for how many cells)
    assert seen["forward"] == [rows for rows, _ in runs]
    assert sorted(seen["backward"]) == sorted(rows for rows, cells in runs for _ in range(cells))
    assert sum(seen["backward"]) == sum(lengths)


@pytest.mark.parametrize("bp_lim", [None, 2])
def test_the_callers_order_is_kept(bp_lim):
    """The kernel sorts the batch inside; states, s.grad and dX come back in the caller's
    order: the same as a batch already sorted by length, permuted back."""
    rng = np.random.default_rng(3)
    T, N, C, D = 6, 4, 3, 2
    lengths = np.array([2, 6, 4, 1])
    X, grad = rng.normal(size=(T, N, C)), rng.normal(size=(T + 1, N, D))
    params = [rng.normal(size=sh) for sh in [(C, D), (D, D), (D,)] * 3]
    order = np.argsort(-lengths)

    def go(perm):
        Xt, ps = mg.tensor(X[:, perm]), [mg.tensor(p) for p in params]
        s = mygru.gru(Xt, *ps, lengths=lengths[perm], bp_lim=bp_lim)
        s.backward(grad[:, perm])
        return s.data, s.grad, Xt.grad, [p.grad for p in ps]

    given_order, sorted_order = go(np.arange(N)), go(order)
    for a, b in zip(given_order[:3], sorted_order[:3]):
        np.testing.assert_allclose(a[:, order], b, rtol=1e-10, atol=1e-12)
    for a, b in zip(given_order[3], sorted_order[3]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
