"""Dropout masks: shapes, values, kept fraction, reproducibility, and that the
gradients flow through the masked values (the reference uses the op's masks)."""

import mygrad as mg
import numpy as np
import pytest
from reference import GRU_NAMES, LSTM_NAMES, gru_cell, lstm_cell, reference

import mygru


def gru_inputs(T=4, N=3, C=2, D=5, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(T, N, C)).astype(dtype)
    params = [(rng.normal(size=sh) * 0.6).astype(dtype) for sh in [(C, D), (D, D), (D,)] * 3]
    return X, params


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_mask_shapes_values_and_dtype(dtype, p):
    X, params = gru_inputs(N=30, D=20, dtype=dtype)
    masks = mygru.gru(X, *params, dropout=p, rng=1).creator.dropout_masks
    assert isinstance(masks, mygru.DropoutMasks)
    assert masks._fields == ("Uz", "Ur", "Uh", "Wz", "Wr", "Wh")
    scale = np.asarray(1 / (1 - p), dtype=dtype)
    for name, m in masks._asdict().items():
        assert m.shape == ((30, 20) if name[0] == "U" else (20, 20)), name
        assert m.dtype == dtype
        assert np.all((m == 0) | (m == scale)) and np.any(m == scale), name


def test_rnn_masks():
    rng = np.random.default_rng(0)
    s = mygru.rnn(
        rng.normal(size=(3, 2, 4)),
        rng.normal(size=(4, 6)),
        rng.normal(size=(6, 6)),
        np.zeros(6),
        dropout=0.3,
        rng=0,
    )
    masks = s.creator.dropout_masks
    assert isinstance(masks, mygru.RNNDropoutMasks)
    assert masks.U.shape == (2, 6) and masks.W.shape == (6, 6)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_kept_fraction_on_a_large_draw(p):
    X, params = gru_inputs(T=1, N=400, C=1, D=200)
    masks = mygru.gru(X, *params, dropout=p, rng=7).creator.dropout_masks
    for m in masks:
        assert abs(np.mean(m != 0) - (1 - p)) < 0.02


def test_no_dropout_means_no_masks_and_masks_are_applied():
    X, params = gru_inputs()
    plain = mygru.gru(X, *params)
    assert plain.creator.dropout_masks is None
    assert not np.allclose(mygru.gru(X, *params, dropout=0.5, rng=0).data, plain.data)


def test_same_seed_same_output_other_seed_other_output():
    X, params = gru_inputs()
    a = mygru.gru(X, *params, dropout=0.5, rng=3).data
    b = mygru.gru(X, *params, dropout=0.5, rng=3).data
    c = mygru.gru(X, *params, dropout=0.5, rng=4).data
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_generator_is_used_as_given():
    X, params = gru_inputs()
    gen = np.random.default_rng(5)
    a = mygru.gru(X, *params, dropout=0.5, rng=gen).data
    b = mygru.gru(X, *params, dropout=0.5, rng=gen).data  # the generator has moved on
    c = mygru.gru(X, *params, dropout=0.5, rng=np.random.default_rng(5)).data
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(a, c)


def test_global_seed_reproduces_rng_none():
    X, params = gru_inputs()
    np.random.seed(11)
    a = mygru.gru(X, *params, dropout=0.5).data
    np.random.seed(11)
    b = mygru.gru(X, *params, dropout=0.5).data
    np.random.seed(12)
    c = mygru.gru(X, *params, dropout=0.5).data
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_forward_applies_each_mask_where_documented():
    """The output equals the reference run with the op's own masks, and not with
    any one mask left out."""
    X, params = gru_inputs()
    s = mygru.gru(X, *params, dropout=0.5, rng=2)
    masks = {k: np.asarray(v) for k, v in s.creator.dropout_masks._asdict().items()}
    named = dict(zip(GRU_NAMES, params))
    s0 = np.zeros((3, 5))
    grad = np.zeros(s.shape)
    forward, _, _ = reference(lambda x, st, p: gru_cell(x, st, p, masks), X, named, s0, grad)
    np.testing.assert_allclose(s.data, forward, atol=1e-12)
    for left_out in masks:
        partial = {k: v for k, v in masks.items() if k != left_out}
        other, _, _ = reference(
            lambda x, st, p, partial=partial: gru_cell(x, st, p, partial), X, named, s0, grad
        )
        assert not np.allclose(s.data, other), left_out


def test_gradients_flow_through_masked_values():
    X, params = gru_inputs()
    tensors = [mg.tensor(p) for p in params]
    Xt = mg.tensor(X)
    s = mygru.gru(Xt, *tensors, dropout=0.5, rng=2)
    masks = {k: np.asarray(v) for k, v in s.creator.dropout_masks._asdict().items()}
    grad = np.random.default_rng(1).normal(size=s.shape)
    s.backward(grad)
    _, ref, _ = reference(
        lambda x, st, p: gru_cell(x, st, p, masks), X, dict(zip(GRU_NAMES, params)), np.zeros((3, 5)), grad
    )
    np.testing.assert_allclose(Xt.grad, ref["X"], atol=1e-10)
    for name, t in zip(GRU_NAMES, tensors):
        np.testing.assert_allclose(t.grad, ref[name], atol=1e-10, err_msg=name)
    # a dropped hidden weight gets no gradient
    Wz_mask = masks["Wz"]
    assert np.all(tensors[1].grad[Wz_mask == 0] == 0)


def lstm_inputs(T=4, N=3, C=2, D=5, P=None, dtype=np.float64, seed=0):
    """X, the twelve LSTM parameters in the call's order, and Wp (D, P) or None."""
    rng = np.random.default_rng(seed)
    Q = D if P is None else P
    X = rng.normal(size=(T, N, C)).astype(dtype)
    params = [(rng.normal(size=sh) * 0.6).astype(dtype) for sh in [(C, D), (Q, D), (D,)] * 4]
    Wp = None if P is None else (rng.normal(size=(D, P)) * 0.6).astype(dtype)
    return X, params, Wp


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("P", [None, 7])
def test_lstm_mask_shapes_values_and_dtype(dtype, P):
    X, params, Wp = lstm_inputs(N=30, D=20, P=P, dtype=dtype)
    s, _c = mygru.lstm(X, *params, Wp=Wp, dropout=0.3, rng=1)
    masks = s.creator.dropout_masks
    assert isinstance(masks, mygru.LSTMDropoutMasks)
    assert masks._fields == ("Ui", "Uf", "Ug", "Uo", "Wi", "Wf", "Wg", "Wo")
    scale = np.asarray(1 / 0.7, dtype=dtype)
    for name, m in masks._asdict().items():
        assert m.shape == ((30, 20) if name[0] == "U" else (P or 20, 20)), name
        assert m.dtype == dtype
        assert np.all((m == 0) | (m == scale)) and np.any(m == scale) and np.any(m == 0), name


def test_lstm_kept_fraction_reproducibility_and_no_masks_without_dropout():
    X, params, _ = lstm_inputs(T=1, N=400, C=1, D=200)
    for p in (0.2, 0.7):
        for m in mygru.lstm(X, *params, dropout=p, rng=7)[0].creator.dropout_masks:
            assert abs(np.mean(m != 0) - (1 - p)) < 0.02
    X, params, Wp = lstm_inputs(P=2)
    plain = mygru.lstm(X, *params, Wp=Wp)
    assert plain[0].creator.dropout_masks is None
    a, b, other = (mygru.lstm(X, *params, Wp=Wp, dropout=0.5, rng=r) for r in (3, 3, 4))
    for i in range(2):  # s and c
        np.testing.assert_array_equal(a[i].data, b[i].data)
        assert not np.allclose(a[i].data, other[i].data)
        assert not np.allclose(a[i].data, plain[i].data)


def test_lstm_forward_applies_each_mask_and_a_dropped_weight_gets_no_gradient():
    X, arrays, _ = lstm_inputs()
    params = [mg.tensor(a) for a in arrays]
    s, c = mygru.lstm(X, *params, dropout=0.5, rng=2)
    masks = {k: np.asarray(v) for k, v in s.creator.dropout_masks._asdict().items()}
    named = dict(zip(LSTM_NAMES, arrays))
    zeros, grad = np.zeros((3, 10)), np.zeros((5, 3, 10))
    forward, _, _ = reference(lambda x, st, p: lstm_cell(x, st, p, masks), X, named, zeros, grad)
    np.testing.assert_allclose(np.concatenate([s.data, c.data], axis=-1), forward, atol=1e-12)
    for left_out in masks:
        partial = {k: v for k, v in masks.items() if k != left_out}
        other, _, _ = reference(
            lambda x, st, p, partial=partial: lstm_cell(x, st, p, partial), X, named, zeros, grad
        )
        assert not np.allclose(forward, other), left_out
    (s.sum() + c.sum()).backward()
    for name, t in zip(LSTM_NAMES, params):
        if name[0] == "W":
            assert np.all(t.grad[masks[name] == 0] == 0) and np.any(t.grad != 0), name
