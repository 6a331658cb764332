"""Zoneout (Krueger et al. 2016) on every cell, built-in or a user's: each state part's
new value is S_t = M_t ⊙ S_{t-1} + (1 − M_t) ⊙ cell(...), the masks read back from
``.creator.zoneout_masks`` and applied in a reference unrolled in mygrad primitives (the
masks ride along as extra input columns, so the windowed reference of tests/reference.py
serves unchanged): forward, every gradient, ``.grad`` of every part, with bp_lim, lengths
and dropout; out of training the expectation, S_t = z S_{t-1} + (1 − z) cell(...)."""

import mygrad as mg
import numpy as np
import pytest
import reference as ref
import reference_cells as rc
import user_cells

import mygru

T, N, C, D = 6, 4, 3, 5
LENGTHS = [6, 2, 4, 1]


def zoned(cell, widths):
    """cell(x, s, p) with s the parts side by side, zoned out by the masks that follow the
    C input columns of x."""

    def step(x, s, p):
        M = x[:, C:]
        return M * s + (1 - M) * cell(x[:, :C], s, p)

    return step


def run_reference(cell, widths, X, params, s0, grads, masks, bp_lim, lengths):
    cat = lambda parts: np.concatenate([np.asarray(v, np.float64) for v in parts], axis=-1)  # noqa: E731
    X_aug = np.concatenate([X, cat(masks)], axis=-1)
    forward, total, sgrad = ref.reference(
        zoned(cell, widths), X_aug, params, cat(s0), cat(grads), bp_lim=bp_lim, lengths=lengths
    )
    total["X"] = total["X"][..., :C]
    total["s0"] = rc.split(total["s0"], widths)
    return rc.split(forward, widths), total, rc.split(sgrad, widths)


def problem(names, widths, seed):
    rng = np.random.default_rng(seed)
    shapes = {"U": (C, D), "W": (widths[0], D), "b": (D,)}
    params = {n: 0.5 * rng.normal(size=shapes[n[0]]) for n in names}
    X = rng.normal(size=(T, N, C))
    s0 = tuple(0.5 * rng.normal(size=(N, w)) for w in widths)
    grads = tuple(rng.normal(size=(T + 1, N, w)) for w in widths)
    return X, params, s0, grads


def call(kind, X, params, s0, **kw):
    """The op on Tensors; returns (parts, the op, the Tensors)."""
    P = {k: mg.tensor(v) for k, v in params.items()}
    S0 = tuple(mg.tensor(v) for v in s0)
    if kind == "gru":
        out = (mygru.gru(X, *(P[k] for k in ref.GRU_NAMES), S0[0], **kw),)
    elif kind == "rnn":
        out = (mygru.rnn(X, P["U"], P["W"], P["b"], S0[0], **kw),)
    elif kind == "lstm":
        out = mygru.lstm(X, *(P[k] for k in ref.LSTM_NAMES), *S0, **kw)
    elif kind == "mgu":
        out = (mygru.recurrence(user_cells.MGU(), X, P, S0[0], **kw),)
    else:  # the LSTM as a user's cell of two parts
        out = mygru.recurrence(user_cells.LSTM(), X, P, S0, **kw)
    return out, out[0].creator, P, S0


def reference_cell(kind, dmasks):
    m = {k: np.asarray(v, np.float64) for k, v in (dmasks or {}).items()}
    if kind == "gru":
        return lambda x, s, p: ref.gru_cell(x, s, p, m)
    if kind == "rnn":
        return lambda x, s, p: ref.rnn_cell(x, s, p, m)
    if kind == "lstm":
        return lambda x, s, p: ref.lstm_cell(x, s, p, m)
    return rc.concat_cell(
        {"mgu": "mgu", "user_lstm": "lstm"}[kind], (D, D) if kind == "user_lstm" else (D,), m
    )


NAMES = {
    "gru": ref.GRU_NAMES,
    "rnn": ref.RNN_NAMES,
    "lstm": ref.LSTM_NAMES,
    "mgu": ("Uf", "bf", "Uh", "bh", "Wf", "Wh"),
    "user_lstm": ref.LSTM_NAMES,
}
PARTS = {"gru": 1, "rnn": 1, "lstm": 2, "mgu": 1, "user_lstm": 2}


@pytest.mark.parametrize("kind", list(NAMES))
@pytest.mark.parametrize(
    "bp_lim, lengths, dropout", [(None, None, 0.0), (2, None, 0.0), (None, LENGTHS, 0.3), (1, LENGTHS, 0.3)]
)
def test_zoneout_against_the_reference_with_the_masks_read_back(kind, bp_lim, lengths, dropout):
    widths = (D,) * PARTS[kind]
    X, params, s0, grads = problem(NAMES[kind], widths, seed=len(kind))
    rates = 0.4 if len(widths) == 1 else (0.2, 0.6)
    out, op, P, S0 = call(
        kind, X, params, s0, bp_lim=bp_lim, lengths=lengths, dropout=dropout, rng=7, zoneout=rates
    )
    masks = op.zoneout_masks
    assert isinstance(masks, tuple) and len(masks) == len(widths)
    for M, z in zip(masks, np.broadcast_to(rates, len(widths))):
        assert M.shape == (T, N, D) and set(np.unique(M)) <= {0.0, 1.0}
        assert abs(M.mean() - z) < 0.2
    dmasks = op.dropout_masks
    dmasks = None if dmasks is None else (dmasks._asdict() if hasattr(dmasks, "_asdict") else dmasks)
    sum((o * g).sum() for o, g in zip(out, grads)).backward()
    want, total, sgrad = run_reference(
        reference_cell(kind, dmasks), widths, X, params, s0, grads, masks, bp_lim, lengths
    )
    for o, w, sg in zip(out, want, sgrad):
        np.testing.assert_allclose(o.data, w, atol=1e-12)
        np.testing.assert_allclose(o.grad, sg, atol=1e-10)
    for name in NAMES[kind]:
        np.testing.assert_allclose(P[name].grad, total[name], atol=1e-10, err_msg=name)
    for t, w in zip(S0, total["s0"]):
        np.testing.assert_allclose(t.grad, w, atol=1e-10)


@pytest.mark.parametrize("kind", ["gru", "rnn", "lstm", "mgu"])
def test_out_of_training_zoneout_is_its_expectation(kind):
    widths = (D,) * PARTS[kind]
    X, params, s0, grads = problem(NAMES[kind], widths, seed=3)
    rates = 0.3 if len(widths) == 1 else (0.1, 0.5)
    out, op, P, _ = call(kind, X, params, s0, zoneout=rates, training=False, bp_lim=2, lengths=LENGTHS)
    assert op.zoneout_masks is None
    sum((o * g).sum() for o, g in zip(out, grads)).backward()
    expectation = tuple(np.full((T, N, w), z) for w, z in zip(widths, np.broadcast_to(rates, len(widths))))
    want, total, sgrad = run_reference(
        reference_cell(kind, None), widths, X, params, s0, grads, expectation, 2, LENGTHS
    )
    for o, w, sg in zip(out, want, sgrad):
        np.testing.assert_allclose(o.data, w, atol=1e-12)
        np.testing.assert_allclose(o.grad, sg, atol=1e-10)
    for name in NAMES[kind]:
        np.testing.assert_allclose(P[name].grad, total[name], atol=1e-10, err_msg=name)


def test_no_zoneout_and_training_false_drops_the_dropout_masks_too():
    X, params, s0, _ = problem(ref.GRU_NAMES, (D,), seed=4)
    out, op, *_ = call("gru", X, params, s0, dropout=0.5, training=False)
    plain, *_ = call("gru", X, params, s0)
    assert op.dropout_masks is None and op.zoneout_masks is None
    np.testing.assert_array_equal(out[0].data, plain[0].data)


def test_a_finished_sequence_keeps_its_state_whatever_the_mask():
    X, params, s0, _ = problem(ref.GRU_NAMES, (D,), seed=5)
    out, *_ = call("gru", X, params, s0, zoneout=0.5, lengths=LENGTHS, rng=1)
    for n, L in enumerate(LENGTHS):
        np.testing.assert_array_equal(out[0].data[L:, n], np.broadcast_to(out[0].data[L, n], (T + 1 - L, D)))


def test_float32_zoneout_agrees_with_float64():
    X, params, s0, _ = problem(ref.LSTM_NAMES, (D, D), seed=6)
    f32 = {k: v.astype(np.float32) for k, v in params.items()}
    a, *_ = call(
        "lstm", X.astype(np.float32), f32, tuple(v.astype(np.float32) for v in s0), zoneout=(0.2, 0.5), rng=2
    )
    b, *_ = call("lstm", X, params, s0, zoneout=(0.2, 0.5), rng=2)
    np.testing.assert_allclose(a[0].data, b[0].data, atol=1e-5)
    assert a[0].dtype == np.float32


@pytest.mark.parametrize(
    "zoneout, error, match",
    [
        (1.0, ValueError, r"zoneout must be in \[0, 1\)"),
        ((0.1, 0.2), ValueError, "zoneout must be a number or a tuple of 1 rates"),
        ("0.1", TypeError, "zoneout must be a number"),
        ((0.1, -0.1), ValueError, r"zoneout\[1\] must be in"),
    ],
)
def test_bad_zoneout_is_named(zoneout, error, match):
    X, params, s0, _ = problem(ref.GRU_NAMES, (D,), seed=8)
    if isinstance(zoneout, tuple) and len(zoneout) == 2 and zoneout[1] < 0:
        with pytest.raises(error, match=match):
            call("lstm", X, problem(ref.LSTM_NAMES, (D, D), seed=8)[1], (s0[0], s0[0]), zoneout=zoneout)
        return
    with pytest.raises(error, match=match):
        call("gru", X, params, s0, zoneout=zoneout)


def test_modules_zone_out_in_training_and_use_the_expectation_in_eval():
    from mygru import nn

    x = np.random.default_rng(9).normal(size=(T, N, C))
    for m in [
        nn.GRU(C, D, num_layers=2, dtype=np.float64, rng=0, zoneout=0.3),
        nn.LSTM(C, D, dtype=np.float64, rng=0, zoneout=(0.1, 0.5)),
        nn.Recurrent(user_cells.MGU(), C, D, dtype=np.float64, rng=0, zoneout=0.2),
    ]:
        m.eval()
        a, b = m(x)[0].data, m(x)[0].data
        np.testing.assert_array_equal(a, b)  # no masks: the expectation, the same every call
        m.train()
        c, d = m(x)[0].data, m(x)[0].data
        assert not np.allclose(c, d)  # fresh masks every call
        plain = type(m).__new__(type(m))
        plain.__dict__.update(m.__dict__, zoneout=0.0)
        assert not np.allclose(plain.eval()(x)[0].data, a)  # the expectation is not the plain cell
    layer = nn.GRU(C, D, dtype=np.float64, rng=0, zoneout=0.3).eval()
    g = {k: getattr(layer, k) for k in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")}
    H = D
    Uz, Ur, Uh = (g["weight_ih_l0"].data[k * H : (k + 1) * H].T for k in (1, 0, 2))
    Wz, Wr, Wh = (g["weight_hh_l0"].data[k * H : (k + 1) * H].T for k in (1, 0, 2))
    bi, bh = g["bias_ih_l0"].data, g["bias_hh_l0"].data
    bz, br = bi[H : 2 * H] + bh[H : 2 * H], bi[:H] + bh[:H]
    s = mygru.gru(
        x,
        Uz,
        Wz,
        bz,
        Ur,
        Wr,
        br,
        Uh,
        Wh,
        bi[2 * H :],
        reset_after=True,
        bhn=bh[2 * H :],
        zoneout=0.3,
        training=False,
    )
    np.testing.assert_allclose(layer(x)[0].data, s.data[1:], atol=1e-12)


def test_a_module_refuses_a_bad_zoneout_by_name():
    from mygru import nn

    with pytest.raises(ValueError, match="zoneout must be a number or a tuple of 2 rates"):
        nn.LSTM(C, D, zoneout=(0.1, 0.2, 0.3))
    with pytest.raises(ValueError, match=r"zoneout must be in \[0, 1\)"):
        nn.GRU(C, D, zoneout=1.5)


def test_training_must_be_a_bool_named():
    X, params, s0, _ = problem(ref.GRU_NAMES, (D,), seed=10)
    with pytest.raises(TypeError, match="training must be True or False, got 1"):
        call("gru", X, params, s0, training=1)
