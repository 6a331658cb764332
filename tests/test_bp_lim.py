"""Truncated BPTT against the windowed reference: for every output t, the loss term at t
back-propagated through the unrolled graph of its own window only, summed over t."""

import mygrad as mg
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference import GRU_NAMES, LSTM_NAMES, RNN_NAMES, gru_cell, lstm_cell, reference, rnn_cell
from strategies import call_lstm, check_against_reference, data, initial_state, lstm_backward, problems

import mygru

OPS = {
    "gru": (GRU_NAMES, lambda x, s, p, m: gru_cell(x, s, p, m)),
    "gru_reset_after": (GRU_NAMES + ("bhn",), lambda x, s, p, m: gru_cell(x, s, p, m, reset_after=True)),
    "rnn_tanh": (RNN_NAMES, lambda x, s, p, m: rnn_cell(x, s, p, m, "tanh")),
    "rnn_relu": (RNN_NAMES, lambda x, s, p, m: rnn_cell(x, s, p, m, "relu")),
    "lstm": (LSTM_NAMES, lstm_cell),  # the problems draw the projection in half the cases
}


def call(kind, prob, **kwargs):
    if kind == "lstm":
        return call_lstm(prob, **kwargs)
    params = dict(prob["params"])
    if kind.startswith("gru"):
        if kind == "gru_reset_after":
            kwargs.update(reset_after=True, bhn=params.pop("bhn"))
        return mygru.gru(prob["X"], *params.values(), s0=prob["s0"], **kwargs)
    return mygru.rnn(prob["X"], *params.values(), s0=prob["s0"], nonlinearity=kind.split("_")[1], **kwargs)


def run_and_reference(kind, prob, bp_lim, dropout=0.0, lengths=None):
    _names, cell = OPS[kind]
    s = call(kind, prob, bp_lim=bp_lim, dropout=dropout, rng=0, lengths=lengths)
    masks = (s[0] if kind == "lstm" else s).creator.dropout_masks
    m = {} if masks is None else {k: np.asarray(v, np.float64) for k, v in masks._asdict().items()}
    ref = reference(
        lambda x, st_, p: cell(x, st_, p, m),
        data(prob["X"]),
        {k: data(v) for k, v in prob["params"].items()},
        initial_state(prob),
        prob["grad"],
        bp_lim=bp_lim,
        lengths=lengths,
    )
    if kind == "lstm":  # the loss on both states: s (and c) are the pair (s, c) here
        lstm_backward(*s, prob["grad"].copy())
    else:
        s.backward(prob["grad"])
    return s, ref


def fixed_problem(kind, rng, T, N, C, D, scale=0.6, P=None, dtype=np.float64):
    """A problem of these sizes in ``dtype`` (float64 unless given) with every input a
    non-constant Tensor (for the LSTM also c0, and the projection Wp (D, P) when P is
    given)."""
    lstm, P = kind == "lstm", D if P is None else P
    shapes = {"U": (C, D), "W": (P, D), "b": (D,)}

    def tensor(shape, s=1.0):
        return mg.tensor((rng.normal(size=shape) * s).astype(dtype))

    params = {n: tensor(shapes[n[0]], scale) for n in OPS[kind][0]}
    if P != D:
        params["Wp"] = tensor((D, P), scale)
    return dict(
        X=tensor((T, N, C)),
        params=params,
        s0=tensor((N, P)),
        c0=tensor((N, D)) if lstm else None,
        grad=rng.normal(size=(T + 1, N, P + D if lstm else D)).astype(dtype),
        compute_dtype=np.dtype(dtype),
        T=T,
        N=N,
        D=D,
        P=P,
        lstm=lstm,
    )


def bp_lims(T):
    """k in {0, 1, 2, T-2, T-1, T, T+5, None}, those that are >= 0."""
    return sorted({k for k in (0, 1, 2, T - 2, T - 1, T, T + 5) if k >= 0}) + [None]


@pytest.mark.parametrize("kind", list(OPS))
@pytest.mark.parametrize("dropout", [0.0, 0.4])
@given(data_=st.data())
def test_truncated_gradients_match_windowed_reference(kind, dropout, data_):
    prob = data_.draw(problems(OPS[kind][0], max_T=7, max_size=4, lstm=kind == "lstm"))
    for k in bp_lims(prob["T"]):  # (mygrad clears the inputs' grads at each new call)
        s, ref = run_and_reference(kind, prob, k, dropout)
        check_against_reference(s, prob, ref)


@pytest.mark.parametrize("kind, P", [*((kind, None) for kind in OPS), ("lstm", 2)])
def test_float32_batches_of_four_or_more_multiply_by_copies_and_match(kind, P, monkeypatch):
    """In float32 from N = 4 the backward multiplies by C-contiguous copies of Wᵀ
    (``backward_operands``): full and truncated BPTT, with lengths that leave fewer than 4
    sequences running (the copies do not depend on a step's rows), against the windowed
    reference."""
    from mygru._kernels.common import Recurrence

    seen, original = [], Recurrence.backward_operands

    def spy(self, *blocks):
        seen.append(self.backward_copies)
        return original(self, *blocks)

    monkeypatch.setattr(Recurrence, "backward_operands", spy)
    rng = np.random.default_rng(11)
    for k, lengths in ((None, None), (2, None), (None, [6, 2, 5, 1, 6, 3]), (3, [6, 2, 5, 1, 6, 3])):
        prob = fixed_problem(kind, rng, T=6, N=6, C=3, D=4, P=P, dtype=np.float32)
        s, ref = run_and_reference(kind, prob, k, lengths=lengths)
        check_against_reference(s, prob, ref)
    assert seen and all(seen)


@pytest.mark.parametrize("kind, P", [*((kind, None) for kind in OPS), ("lstm", 2)])
@pytest.mark.parametrize("dropout", [0.0, 0.4])
def test_truncation_with_lengths(kind, P, dropout):
    rng = np.random.default_rng(5)
    for k in (0, 1, 2, 5, 6, None):
        prob = fixed_problem(kind, rng, T=6, N=3, C=2, D=3, P=P)
        s, ref = run_and_reference(kind, prob, k, dropout, lengths=[6, 2, 4])
        check_against_reference(s, prob, ref)


@pytest.mark.parametrize("kind", list(OPS))
@given(data_=st.data())
def test_truncation_with_any_lengths(kind, data_):
    """The packed passes (only the running rows move; a finished sequence's later loss
    terms enter at its last state) against the windowed reference with the lengths as
    masks: any lengths, sorted or not, some or all stopping before T, every bp_lim."""
    prob = data_.draw(problems(OPS[kind][0], max_T=7, max_size=4, lstm=kind == "lstm"))
    T, N = prob["T"], prob["N"]
    if T == 0 or N == 0:
        return
    lengths = data_.draw(st.lists(st.integers(1, T), min_size=N, max_size=N), label="lengths")
    dropout = data_.draw(st.sampled_from([0.0, 0.4]), label="dropout")
    for k in bp_lims(T):
        s, ref = run_and_reference(kind, prob, k, dropout, lengths=lengths)
        check_against_reference(s, prob, ref)


def test_bp_lim_at_least_T_is_full_bptt_and_T_minus_1_differs_only_for_s0():
    rng = np.random.default_rng(9)
    T, N, C, D = 5, 2, 3, 4
    X = rng.normal(size=(T, N, C))
    arrays = [rng.normal(size=sh) * 0.6 for sh in [(C, D), (D, D), (D,)] * 3]
    s0 = rng.normal(size=(N, D))
    grad = rng.normal(size=(T + 1, N, D))

    def grads(bp_lim):
        tensors = [mg.tensor(a) for a in [X, s0, *arrays]]
        s = mygru.gru(tensors[0], *tensors[2:], s0=tensors[1], bp_lim=bp_lim)
        s.backward(grad)
        return [t.grad for t in tensors]

    full = grads(None)
    for k in (T, T + 1, 100):
        for a, b in zip(full, grads(k)):
            np.testing.assert_array_equal(a, b)
    almost = grads(T - 1)
    for i, (a, b) in enumerate(zip(full, almost)):
        if i == 1:  # s0
            assert not np.allclose(a, b)
        else:
            np.testing.assert_allclose(a, b, atol=1e-12, rtol=1e-12)


def test_bp_lim_zero_keeps_each_cells_own_step():
    """With k = 0 nothing flows between steps: s.grad equals the upstream gradient."""
    rng = np.random.default_rng(10)
    params = [mg.tensor(rng.normal(size=sh)) for sh in [(2, 3), (3, 3), (3,)] * 3]
    s0 = mg.tensor(rng.normal(size=(4, 3)))
    s = mygru.gru(rng.normal(size=(5, 4, 2)), *params, s0=s0, bp_lim=0)
    grad = rng.normal(size=s.shape)
    s.backward(grad)
    np.testing.assert_array_equal(s.grad, grad)
    np.testing.assert_array_equal(s0.grad, grad[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_truncated_gradients_as_mygrad_gru(dtype):
    pytest.importorskip("numba")
    pytest.importorskip("scipy")
    from mygrad.nnet.layers import gru as mygrad_gru

    rng = np.random.default_rng(12)
    T, N, C, D = 9, 3, 4, 5
    X = rng.normal(size=(T, N, C)).astype(dtype)
    arrays = [(rng.normal(size=sh) * 0.5).astype(dtype) for sh in [(C, D), (D, D), (D,)] * 3]
    grad = rng.normal(size=(T + 1, N, D)).astype(dtype)
    tol = dict(atol=1e-10, rtol=1e-10) if dtype == np.float64 else dict(atol=1e-4, rtol=1e-4)
    for k in range(0, T):  # mygrad accepts 0 <= bp_lim < T
        results = []
        for f in (mygru.gru, mygrad_gru):
            tensors = [mg.tensor(a) for a in [X, *arrays]]
            f(tensors[0], *tensors[1:], bp_lim=k).backward(grad)
            results.append([t.grad for t in tensors])
        for a, b in zip(*results):
            np.testing.assert_allclose(a, b, err_msg=f"bp_lim={k}", **tol)


@pytest.mark.parametrize("kind", list(OPS))
def test_wide_float64_states_with_the_transposed_forward_layout(kind):
    """From N = 4 and D = 128 up, in float64, the forward multiplies by transposed
    views of contiguous weight copies (``Recurrence.operands``): same results, with
    full and truncated BPTT and with dropout."""
    rng = np.random.default_rng(11)
    prob = fixed_problem(kind, rng, T=3, N=4, C=2, D=128, scale=1 / np.sqrt(128))
    out = call(kind, prob)
    kernel = (out[0] if kind == "lstm" else out).creator._kernel
    forward_weights = [kernel.Wh, kernel.Wzr_neg] if kind == "gru" else [kernel.Wf]
    assert kernel.transposed
    assert all(w.T.flags.c_contiguous and not w.flags.c_contiguous for w in forward_weights)
    for k, dropout in ((None, 0.0), (1, 0.0), (None, 0.4)):
        s, ref = run_and_reference(kind, prob, k, dropout)
        check_against_reference(s, prob, ref)


@pytest.mark.parametrize("kind", list(OPS))
def test_an_upstream_gradient_in_any_layout(kind):
    """A gradient that is not C-contiguous (here a column permutation of one) gives the
    same results as its contiguous copy, also with truncated BPTT, whose passes view the
    states' gradients as stacked rows (this raised an AssertionError)."""
    rng = np.random.default_rng(12)
    prob = fixed_problem(kind, rng, T=5, N=4, C=2, D=3)
    grad = prob["grad"][:, [1, 0, 3, 2]]
    assert not grad.flags.c_contiguous
    for bp_lim in (None, 2):
        results = []
        for g in (grad, np.ascontiguousarray(grad)):
            out = call(kind, prob, bp_lim=bp_lim)
            if kind == "lstm":
                lstm_backward(*out, g.copy() if g.flags.c_contiguous else g)
                results.append([out[0].grad, out[1].grad])
            else:
                out.backward(g)
                results.append([out.grad])
            results[-1] += [p.grad for p in prob["params"].values()]
            for p in prob["params"].values():
                p.null_grad()
        for a, b in zip(*results):
            np.testing.assert_array_equal(a, b)
