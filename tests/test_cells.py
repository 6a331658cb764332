"""The cells of :mod:`mygru.cells` against their papers' equations.

Each cell's reference is written here from the paper, in mygrad primitives (sigmoid, tanh,
relu, matmul, mean), and unrolled over time by ``tests/reference.py``, which mygrad
differentiates by itself; nothing here calls the cells' ``step`` or ``step_backward``.
:func:`mygru.recurrence` on the cell must give the same states, the same gradient of X,
of every parameter and of every part of the initial state, and the same ``.grad`` of every
state part, with full and truncated BPTT, lengths and dropout (the masks read back from
``.creator.dropout_masks``), in float32 and float64.

A two-part state (S, c) is one array [S | c] in the reference, as ``reference.lstm_cell``
does it, so that a window of truncated BPTT enters with the pair as its constant state.
"""

import functools

import mygrad as mg
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference import reference

import mygru
from mygru.cells import MGU, IndRNN, LayerNormLSTM, PeepholeLSTM

sigmoid, tanh, matmul = mg.nnet.sigmoid, mg.tanh, mg.matmul


def projection(x, p, m, g):
    """A^g_t = (X_t U_g) ⊙ M_g + b_g: the input dropout mask multiplies X_t U_g."""
    xu = matmul(x, p["U" + g])
    if "U" + g in m:
        xu = xu * m["U" + g]
    return xu + p["b" + g] if "b" + g in p else xu


def weight(p, m, name):
    """A weight, times its DropConnect mask if it has one."""
    return p[name] * m[name] if name in m else p[name]


# --- the papers' equations ------------------------------------------------------------


def mgu_ref(x, s, p, m):
    """Zhou et al. 2016: f = σ(W_f [h, x] + b_f), h̃ = tanh(W_h [f ⊙ h, x] + b_h),
    h' = (1 − f) ⊙ h + f ⊙ h̃."""
    f = sigmoid(projection(x, p, m, "f") + matmul(s, weight(p, m, "Wf")))
    h_tilde = tanh(projection(x, p, m, "h") + matmul(f * s, weight(p, m, "Wh")))
    return (1 - f) * s + f * h_tilde


def indrnn_ref(x, s, p, m, nonlinearity):
    """Li et al. 2018: h' = σ(W x + u ⊙ h + b), σ = relu (or tanh)."""
    pre = projection(x, p, m, "") + p["u"] * s
    return mg.nnet.relu(pre) if nonlinearity == "relu" else tanh(pre)


def peephole_ref(x, state, p, m, cifg):
    """Gers et al. 2002 / Greff et al. 2017 (their "vanilla" LSTM, peepholes included):
    i, f look at c_{t-1}; o looks at c_t; CIFG: i = 1 − f."""
    D = p["Wf"].shape[0]
    s, c = state[:, :D], state[:, D:]

    def pre(g):
        return projection(x, p, m, g) + matmul(s, weight(p, m, "W" + g))

    f = sigmoid(pre("f") + p["pf"] * c)
    i = 1 - f if cifg else sigmoid(pre("i") + p["pi"] * c)
    c_new = f * c + i * tanh(pre("g"))
    o = sigmoid(pre("o") + p["po"] * c_new)
    return mg.concatenate([o * tanh(c_new), c_new], axis=1)


def layer_norm(v, gamma, beta, axis=1):
    """Ba et al. 2016: γ ⊙ (v − μ) / √(σ² + ε) + β, μ and σ² over the units of a row
    (``axis=0``: over the rows instead, the wrong axis)."""
    mu = mg.mean(v, axis=axis, keepdims=True)
    var = mg.mean((v - mu) ** 2, axis=axis, keepdims=True)
    return gamma * (v - mu) / mg.sqrt(var + 1e-5) + beta


def per_gate_layer_norm(v, gamma, beta):
    """LN of each gate's D pre-activations on its own: the wrong statistics."""
    D = v.shape[1] // 4
    parts = [slice(k * D, (k + 1) * D) for k in range(4)]
    return mg.concatenate([layer_norm(v[:, k], gamma[k], beta[k]) for k in parts], axis=1)


def layernorm_lstm_ref(x, state, p, m, wrong=None):
    """Ba et al. 2016's LN-LSTM: the gates' pre-activations are LN(W_x x) + LN(W_h h), each
    LN over all 4D of them; h' = o ⊙ tanh(LN(c')), over the D units of c'. ``wrong``:
    "per gate" normalises each gate's pre-activations on their own, "cell over rows"
    normalises c' over the batch; the cell must match neither."""
    D = p["Wi"].shape[0]
    s, c = state[:, :D], state[:, D:]
    xu = mg.concatenate([projection(x, p, m, g) for g in "ifgo"], axis=1)
    sw = mg.concatenate([matmul(s, weight(p, m, "W" + g)) for g in "ifgo"], axis=1)
    ln = per_gate_layer_norm if wrong == "per gate" else layer_norm
    z = ln(xu, p["gamma_x"], p["beta_x"]) + ln(sw, p["gamma_h"], p["beta_h"])
    i, f, o = sigmoid(z[:, :D]), sigmoid(z[:, D : 2 * D]), sigmoid(z[:, 3 * D :])
    c_new = f * c + i * tanh(z[:, 2 * D : 3 * D])
    n = layer_norm(c_new, p["gamma_c"], p["beta_c"], axis=0 if wrong == "cell over rows" else 1)
    return mg.concatenate([o * tanh(n), c_new], axis=1)


def _lstm_shapes(gates, C, D, peepholes):
    """The parameters of a peephole LSTM (with biases), or of the LN-LSTM (no biases; a
    gain and a shift for each of the three normalisations), written from the papers."""
    shapes = {f"U{g}": (C, D) for g in gates} | {f"W{g}": (D, D) for g in gates}
    if peepholes:
        return shapes | {f"b{g}": (D,) for g in gates} | {f"p{g}": (D,) for g in gates if g != "g"}
    norms = {f"{k}_{part}": (4 * D,) for k in ("gamma", "beta") for part in "xh"}
    return shapes | norms | {"gamma_c": (D,), "beta_c": (D,)}


# name -> (the cell, its reference step, the shapes of its parameters for C, D)
CELLS = {
    "MGU": (
        MGU,
        mgu_ref,
        lambda C, D: {"Uf": (C, D), "Uh": (C, D), "bf": (D,), "bh": (D,)} | {"Wf": (D, D), "Wh": (D, D)},
    ),
    "IndRNN-relu": (
        functools.partial(IndRNN, "relu"),
        functools.partial(indrnn_ref, nonlinearity="relu"),
        lambda C, D: {"U": (C, D), "b": (D,), "u": (D,)},
    ),
    "IndRNN-tanh": (
        functools.partial(IndRNN, "tanh"),
        functools.partial(indrnn_ref, nonlinearity="tanh"),
        lambda C, D: {"U": (C, D), "b": (D,), "u": (D,)},
    ),
    "PeepholeLSTM": (
        PeepholeLSTM,
        functools.partial(peephole_ref, cifg=False),
        lambda C, D: _lstm_shapes("ifgo", C, D, peepholes=True),
    ),
    "PeepholeLSTM-cifg": (
        functools.partial(PeepholeLSTM, cifg=True),
        functools.partial(peephole_ref, cifg=True),
        lambda C, D: _lstm_shapes("fgo", C, D, peepholes=True),
    ),
    "LayerNormLSTM": (
        LayerNormLSTM,
        layernorm_lstm_ref,
        lambda C, D: _lstm_shapes("ifgo", C, D, peepholes=False),
    ),
}


def make_problem(name, T, N, C, D, seed, dtype=np.float64):
    """X, the parameters (numpy, ``dtype``) and the initial state parts of a cell."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(T, N, C)).astype(dtype)
    cell = CELLS[name][0]()
    params = {k: (0.6 * rng.normal(size=shape)).astype(dtype) for k, shape in CELLS[name][2](C, D).items()}
    for k in params:  # the LayerNorm gains near their initial value 1, so that the net is in range
        if k.startswith("gamma"):
            params[k] += 1
    s0 = [(0.5 * rng.normal(size=(N, D))).astype(dtype) for _ in cell.state]
    return cell, X, params, s0


def run_both(name, T, N, C, D, *, seed=0, dtype=np.float64, bp_lim=None, lengths=None, dropout=0.0):
    """mygru.recurrence on the cell and the reference, with L = Σ_t Σ grad_t ⊙ [S_t | c_t]."""
    cell, X, params, s0 = make_problem(name, T, N, C, D, seed, dtype)
    parts = len(cell.state)
    grad = np.random.default_rng(seed + 1).normal(size=(T + 1, N, parts * D))
    Xt = mg.tensor(X)
    pt = {k: mg.tensor(v) for k, v in params.items()}
    s0t = [mg.tensor(v) for v in s0]
    out = mygru.recurrence(
        cell, Xt, pt, s0t[0] if parts == 1 else tuple(s0t), bp_lim, dropout, rng=seed, lengths=lengths
    )
    out = (out,) if parts == 1 else out
    masks = out[0].creator.dropout_masks
    assert (masks is None) == (dropout == 0)
    masks = masks or {}
    sum((o * grad[..., k * D : (k + 1) * D]).sum() for k, o in enumerate(out)).backward()

    step = functools.partial(CELLS[name][1], m={k: mg.tensor(v, constant=True) for k, v in masks.items()})
    forward, grads, sgrad = reference(step, X, params, np.concatenate(s0, axis=1), grad, bp_lim, lengths)
    got = {
        "states": np.concatenate([o.data for o in out], axis=-1),
        "s.grad": np.concatenate([o.grad for o in out], axis=-1),
        "X": Xt.grad,
        "s0": np.concatenate([t.grad for t in s0t], axis=-1),
    } | {k: v.grad for k, v in pt.items()}
    want = {"states": forward, "s.grad": sgrad, "X": grads["X"], "s0": grads["s0"]}
    want |= {k: grads[k] for k in params}
    return got, want, masks


def assert_same(got, want, dtype):
    tol = 1e-9 if dtype == np.float64 else 2e-3
    assert got.keys() == want.keys()
    for key in want:
        assert got[key] is not None, key
        assert got[key].dtype == dtype, key
        scale = max(1.0, float(np.abs(want[key]).max(initial=0)))
        np.testing.assert_allclose(got[key], want[key], rtol=tol, atol=tol * scale, err_msg=key)


SETTINGS = [
    dict(),
    dict(bp_lim=0),
    dict(bp_lim=2),
    dict(lengths=[5, 2, 4]),
    dict(dropout=0.4),
    dict(bp_lim=1, lengths=[5, 2, 4], dropout=0.3),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "setting", SETTINGS, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()) or "full"
)
@pytest.mark.parametrize("name", CELLS)
def test_cell_equals_the_papers_equations(name, setting, dtype):
    got, want, masks = run_both(name, T=5, N=3, C=2, D=3, dtype=dtype, **setting)
    assert_same(got, want, dtype)
    if setting.get("dropout"):
        cell = CELLS[name][0]()
        matrices = {w for w in cell.weights if len(CELLS[name][2](2, 3)[w]) == 2}
        assert set(masks) == {f"U{g}" for g in cell.gates} | matrices
        assert any((m == 0).any() for m in masks.values())


@given(
    name=st.sampled_from(list(CELLS)),
    T=st.integers(1, 5),
    N=st.integers(1, 4),
    C=st.integers(1, 3),
    D=st.integers(2, 4),
    seed=st.integers(0, 2**16),
    dtype=st.sampled_from([np.float32, np.float64]),
    bp_lim=st.none() | st.integers(0, 6),
    dropout=st.sampled_from([0.0, 0.3]),
    with_lengths=st.booleans(),
)
def test_cells_on_random_problems(name, T, N, C, D, seed, dtype, bp_lim, dropout, with_lengths):
    lengths = np.random.default_rng(seed).integers(1, T + 1, size=N) if with_lengths else None
    got, want, _ = run_both(
        name, T, N, C, D, seed=seed, dtype=dtype, bp_lim=bp_lim, lengths=lengths, dropout=dropout
    )
    assert_same(got, want, dtype)


@pytest.mark.parametrize("name", CELLS)
def test_check_cell_passes(name):
    mygru.check_cell(CELLS[name][0]())


def test_cifg_couples_the_input_gate_to_the_forget_gate():
    cell = PeepholeLSTM(cifg=True)
    assert cell.gates == ("f", "g", "o")
    assert cell.weights == ("Wf", "Wg", "Wo", "pf", "po")
    assert set(cell.shapes(2, 3)) == {"Wf", "Wg", "Wo", "pf", "po"}
    _, X, params, s0 = make_problem("PeepholeLSTM-cifg", 4, 2, 2, 3, seed=0)
    with pytest.raises(ValueError, match="'Wi'"):  # the coupled cell takes no input gate
        mygru.recurrence(cell, X, {**params, "Wi": np.zeros((3, 3))}, tuple(s0))
    # the full peephole cell with I = 1 - F, made by hand: Ui, bi, Wi and pi are then unused,
    # so set the input gate's pre-activation to minus the forget gate's; σ(-a) = 1 - σ(a)
    full = {**params, "Ui": -params["Uf"], "bi": -params["bf"], "Wi": -params["Wf"], "pi": -params["pf"]}
    s, c = mygru.recurrence(cell, X, params, tuple(s0))
    s_full, c_full = mygru.recurrence(PeepholeLSTM(), X, full, tuple(s0))
    np.testing.assert_allclose(s.data, s_full.data, atol=1e-12)
    np.testing.assert_allclose(c.data, c_full.data, atol=1e-12)


@pytest.mark.parametrize("wrong", ["per gate", "cell over rows"])
def test_layer_norm_statistics_are_over_the_right_axis(wrong):
    """The cell matches the reference with the statistics over all 4D gate pre-activations
    (x and h parts) and over the D units of the cell state, row by row, and not the
    reference with them per gate, or with the cell state's over the batch: so the
    comparisons above tell the axes apart."""
    T, N, C, D = 3, 3, 2, 3
    cell, X, params, s0 = make_problem("LayerNormLSTM", T, N, C, D, seed=0)
    s, c = mygru.recurrence(cell, X, params, tuple(s0))
    got = np.concatenate([s.data[1], c.data[1]], axis=1)
    p = {k: mg.tensor(v) for k, v in params.items()}
    state = mg.tensor(np.concatenate(s0, axis=1))
    np.testing.assert_allclose(got, layernorm_lstm_ref(X[0], state, p, {}).data, atol=1e-12)
    other = layernorm_lstm_ref(X[0], state, p, {}, wrong=wrong).data
    assert np.abs(other - got).max() > 1e-2


@pytest.mark.parametrize("name", CELLS)
def test_rows_are_independent(name):
    # a row's states do not depend on the other rows of the batch
    cell, X, params, s0 = make_problem(name, 4, 3, 2, 3, seed=0)
    one = len(s0) == 1
    whole = mygru.recurrence(cell, X, params, s0[0] if one else tuple(s0))
    row = mygru.recurrence(cell, X[:, 1:2], params, s0[0][1:2] if one else tuple(v[1:2] for v in s0))
    for w, r in zip((whole,) if one else whole, (row,) if one else row):
        np.testing.assert_allclose(w.data[:, 1:2], r.data, atol=1e-13)


def test_initial_values_in_a_module():
    rng = np.random.default_rng(0)
    ln = LayerNormLSTM()
    shapes = ln.shapes(5, 4)
    assert shapes["gamma_x"] == shapes["beta_h"] == (16,) and shapes["gamma_c"] == (4,)
    assert shapes["Wo"] == (4, 4)
    for name in ("gamma_x", "gamma_h", "gamma_c"):
        np.testing.assert_array_equal(ln.init(name, shapes[name], 4, rng), 1)
    for name in ("beta_x", "beta_h", "beta_c"):
        np.testing.assert_array_equal(ln.init(name, shapes[name], 4, rng), 0)
    W = ln.init("Wi", (4, 4), 4, rng)
    assert np.abs(W).max() <= 0.5 and W.std() > 0.05  # the default U(-1/sqrt(H), 1/sqrt(H))

    ind = IndRNN()
    assert ind.shapes(5, 4) == {"u": (4,)}
    u = ind.init("u", (1000,), 4, rng)
    assert u.min() >= 0 and u.max() <= 1 and u.mean() == pytest.approx(0.5, abs=0.05)
    assert ind.dropconnect == ()

    peep = PeepholeLSTM()
    assert peep.shapes(5, 4) == {"Wi": (4, 4), "Wf": (4, 4), "Wg": (4, 4), "Wo": (4, 4)} | {
        "pi": (4,),
        "pf": (4,),
        "po": (4,),
    }
    assert MGU().shapes(5, 4) == {"Wf": (4, 4), "Wh": (4, 4)}


def test_dropout_leaves_the_vectors_alone():
    for name in ("IndRNN-relu", "PeepholeLSTM", "LayerNormLSTM"):
        cell, X, params, s0 = make_problem(name, 3, 2, 2, 3, seed=0)
        out = mygru.recurrence(cell, X, params, s0[0] if len(s0) == 1 else tuple(s0), dropout=0.5, rng=0)
        masks = (out if len(s0) == 1 else out[0]).creator.dropout_masks
        assert all(masks[k].ndim == 2 for k in masks)
        assert not {"u", "pi", "pf", "po", "gamma_x", "beta_c"} & set(masks)


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_no_warning_and_finite_for_huge_pre_activations(name, dtype):
    # the suite turns RuntimeWarning into an error: the gates' sigmoid must not overflow
    cell, X, params, s0 = make_problem(name, 3, 2, 2, 3, seed=0, dtype=dtype)
    params = {k: (v * 1e3 if k[0] in "UW" else v) for k, v in params.items()}
    X = X * 1e3
    if name.startswith("IndRNN-relu"):
        params["u"] = np.clip(params["u"], -1, 1)  # relu has no ceiling; keep the states finite
    out = mygru.recurrence(cell, X, params, s0[0] if len(s0) == 1 else tuple(s0), constant=False)
    out = (out,) if len(s0) == 1 else out
    sum(o.sum() for o in out).backward()
    for o in out:
        assert o.dtype == dtype and np.isfinite(o.data).all() and np.isfinite(o.grad).all()


def test_the_cells_sigmoid_in_both_tails():
    from mygru.cells._sigmoid import sigmoid as cell_sigmoid

    a = np.array([-1000.0, -50.0, -5.0, 0.0, 5.0, 50.0, 1000.0])
    want = np.array(
        [0.0, np.exp(-50) / (1 + np.exp(-50)), 1 / (1 + np.exp(5)), 0.5, 1 / (1 + np.exp(-5)), 1, 1]
    )
    np.testing.assert_allclose(cell_sigmoid(a), want, rtol=1e-15)
    assert cell_sigmoid(a.astype(np.float32)).dtype == np.float32
    np.testing.assert_allclose(cell_sigmoid(a.astype(np.float32)), want, rtol=1e-6)


def test_indrnn_refuses_an_unknown_nonlinearity():
    with pytest.raises(ValueError, match="nonlinearity"):
        IndRNN("sigmoid")


def test_peephole_cifg_must_be_a_bool():
    with pytest.raises(TypeError, match="cifg"):
        PeepholeLSTM(cifg="yes")


def test_mygru_cells_is_importable():
    assert mygru.cells.MGU is MGU
    assert set(mygru.cells.__all__) == {"MGU", "IndRNN", "PeepholeLSTM", "LayerNormLSTM"}
