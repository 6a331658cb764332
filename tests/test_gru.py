"""mygru.gru against the recurrence unrolled in mygrad primitives (full BPTT)."""

import warnings

import mygrad as mg
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference import GRU_NAMES, gru_cell, reference
from strategies import check_against_reference, data, problems

import mygru


def run(prob, **kwargs):
    s = mygru.gru(prob["X"], *prob["params"].values(), s0=prob["s0"], **kwargs)
    s.backward(prob["grad"])
    return s


def s0_of(prob):
    return np.zeros((prob["N"], prob["D"])) if prob["s0"] is None else data(prob["s0"])


@given(problems(GRU_NAMES))
def test_gru_matches_unrolled_reference(prob):
    ref = reference(
        gru_cell, data(prob["X"]), {k: data(v) for k, v in prob["params"].items()}, s0_of(prob), prob["grad"]
    )
    s = run(prob)
    assert s.shape == (prob["T"] + 1, prob["N"], prob["D"])
    check_against_reference(s, prob, ref)


def test_s0_is_first_state_and_zeros_when_none():
    rng = np.random.default_rng(1)
    params = [rng.normal(size=sh) for sh in [(3, 4), (4, 4), (4,)] * 3]
    X = rng.normal(size=(2, 5, 3))
    s0 = rng.normal(size=(5, 4))
    np.testing.assert_array_equal(mygru.gru(X, *params, s0=s0).data[0], s0)
    np.testing.assert_array_equal(mygru.gru(X, *params).data[0], np.zeros((5, 4)))


def test_creator_is_gruop_and_no_masks_without_dropout():
    rng = np.random.default_rng(2)
    params = [mg.tensor(rng.normal(size=sh)) for sh in [(3, 4), (4, 4), (4,)] * 3]
    s = mygru.gru(rng.normal(size=(2, 5, 3)), *params)
    assert isinstance(s.creator, mygru.GRUOp)
    assert s.creator.dropout_masks is None


def test_t0_returns_s0_alone_and_its_gradient():
    s0 = mg.tensor(np.arange(6.0).reshape(2, 3))
    Uz = mg.tensor(np.ones((4, 3)))
    params = [Uz, np.eye(3), np.zeros(3)] * 3
    s = mygru.gru(np.zeros((0, 2, 4)), *params, s0=s0)
    assert s.shape == (1, 2, 3)
    np.testing.assert_array_equal(s.data[0], s0.data)
    s.backward(np.full((1, 2, 3), 2.0))
    np.testing.assert_array_equal(s0.grad, np.full((2, 3), 2.0))
    np.testing.assert_array_equal(Uz.grad, np.zeros((4, 3)))


@pytest.mark.parametrize("reset_after", [False, True])
@pytest.mark.parametrize("shape", [(0, 2, 4), (3, 0, 4)])
def test_empty_sequence_or_batch_gives_zero_weight_and_bias_gradients(shape, reset_after):
    """T = 0 (no cell: the GRU's dWh is never summed) or N = 0 (cells of no rows): every
    weight and bias gradient is zeros of its shape, through the same products as always."""
    C, D = shape[2], 3
    rng = np.random.default_rng(5)
    params = [mg.tensor(rng.normal(size=sh)) for sh in [(C, D), (D, D), (D,)] * 3]
    extra = {"bhn": mg.tensor(rng.normal(size=D))} if reset_after else {}
    s = mygru.gru(np.zeros(shape), *params, reset_after=reset_after, **extra)
    s.backward(np.ones(s.shape))
    for p in [*params, *extra.values()]:
        np.testing.assert_array_equal(p.grad, np.zeros(p.shape))


@pytest.mark.parametrize(
    "dtypes, expected",
    [
        ((np.float32, np.float32), np.float32),
        ((np.float32, np.float64), np.float64),
        ((np.int64, np.int32), np.float64),
        ((np.float16, np.float16), np.float32),
        ((np.int32, np.float32), np.float64),  # numpy's result type of int32 and float32
    ],
)
def test_compute_dtype_and_gradient_dtypes(dtypes, expected):
    x_dtype, p_dtype = dtypes
    rng = np.random.default_rng(3)
    X = (rng.normal(size=(3, 2, 2)) * 3).astype(x_dtype)
    params = [
        mg.tensor(
            rng.normal(size=sh).astype(p_dtype)
            if np.dtype(p_dtype).kind == "f"
            else rng.integers(-2, 3, size=sh).astype(p_dtype)
        )
        for sh in [(2, 3), (3, 3), (3,)] * 3
    ]
    s = mygru.gru(X, *params)
    assert s.dtype == expected
    s.sum().backward()
    for p in params:
        if not p.constant:  # integer tensors are always constant in mygrad
            assert p.grad.dtype == p.dtype


def test_constant_flag():
    rng = np.random.default_rng(4)
    params = [rng.normal(size=sh) for sh in [(2, 3), (3, 3), (3,)] * 3]
    X = rng.normal(size=(3, 2, 2))
    assert mygru.gru(X, *params).constant  # all inputs are arrays
    assert not mygru.gru(X, *params, constant=False).constant
    tensors = [mg.tensor(p) for p in params]
    assert not mygru.gru(X, *tensors).constant
    s = mygru.gru(X, *tensors, constant=True)
    assert s.constant
    s.sum().backward()
    assert all(t.grad is None for t in tensors)


def test_constant_false_on_constant_inputs_still_gives_s_grad():
    rng = np.random.default_rng(5)
    params = [rng.normal(size=sh) for sh in [(2, 3), (3, 3), (3,)] * 3]
    s = mygru.gru(rng.normal(size=(3, 2, 2)), *params, constant=False)
    s[-1].sum().backward()
    assert s.grad.shape == (4, 2, 3)
    assert np.all(s.grad[-1] == 1) and np.any(s.grad[0] != 0)


def test_inputs_are_not_mutated():
    rng = np.random.default_rng(6)
    arrays = [rng.normal(size=sh) for sh in [(2, 3), (3, 3), (3,)] * 3]
    X, s0 = rng.normal(size=(4, 2, 2)), rng.normal(size=(2, 3))
    copies = [a.copy() for a in [X, s0, *arrays]]
    tensors = [mg.tensor(a) for a in arrays]
    for reset_after in (False, True):
        s = mygru.gru(
            X,
            *tensors,
            s0=mg.tensor(s0),
            dropout=0.3,
            bp_lim=2,
            rng=0,
            reset_after=reset_after,
            lengths=[2, 4],
        )
        s.backward(rng.normal(size=s.shape))
    for before, after in zip(copies, [X, s0, *[t.data for t in tensors]]):
        np.testing.assert_array_equal(before, after)


def test_no_warning_for_huge_preactivations():
    X = np.full((3, 2, 2), 1e4, dtype=np.float32)
    params = [np.full(sh, sign, dtype=np.float32) for sh in [(2, 3), (3, 3), (3,)] for sign in (1,)] * 3
    params = [mg.tensor(p * (-1) ** i) for i, p in enumerate(params)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = mygru.gru(X, *params, s0=np.full((2, 3), -1e4, dtype=np.float32))
        s.sum().backward()
    assert np.all(np.isfinite(s.data)) and all(np.all(np.isfinite(p.grad)) for p in params)


def test_activations_released_after_backward():
    rng = np.random.default_rng(7)
    params = [mg.tensor(rng.normal(size=sh)) for sh in [(2, 3), (3, 3), (3,)] * 3]
    s = mygru.gru(rng.normal(size=(3, 2, 2)), *params)
    op = s.creator
    assert op._kernel is not None
    s.sum().backward()
    assert op._kernel is None  # nor does the op keep any gradient
    assert not any(isinstance(v, dict) for v in vars(op).values())


def test_no_cache_kept_when_nothing_can_backprop():
    rng = np.random.default_rng(8)
    params = [rng.normal(size=sh) for sh in [(2, 3), (3, 3), (3,)] * 3]
    s = mygru.gru(rng.normal(size=(3, 2, 2)), *params)
    assert s.creator._kernel is None
    with mg.no_autodiff:
        s = mygru.gru(rng.normal(size=(3, 2, 2)), *[mg.tensor(p) for p in params])
    assert isinstance(s, mg.Tensor) and s.shape == (4, 2, 3)


@given(st.integers(0, 2**32 - 1))
def test_s_grad_is_total_derivative_through_a_downstream_graph(seed):
    """s used twice downstream: s.grad must add both and the states' flow-back."""
    rng = np.random.default_rng(seed)
    params = [mg.tensor(rng.normal(size=sh) * 0.5) for sh in [(2, 3), (3, 3), (3,)] * 3]
    X = rng.normal(size=(4, 2, 2))
    s = mygru.gru(X, *params)
    w1, w2 = rng.normal(size=s.shape), rng.normal(size=(3,))
    ((s * w1).sum() + (s[-1] @ w2).sum()).backward()
    upstream = w1.copy()
    upstream[-1] += w2
    _, _, sgrad = reference(
        gru_cell, X, {n: p.data for n, p in zip(GRU_NAMES, params)}, np.zeros((2, 3)), upstream
    )
    np.testing.assert_allclose(s.grad, sgrad, atol=1e-10, rtol=1e-10)
