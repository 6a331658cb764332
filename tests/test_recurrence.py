"""``mygru.recurrence`` running users' cells (``user_cells``) against references written
from the equations (``reference_cells``): forward, every gradient, ``.grad`` of every
state part, bp_lim windows, lengths, dropout masks, dtypes, constant flags and s0 forms;
the GRU and LSTM written as user cells against ``mygru.gru`` and ``mygru.lstm``; bad
arguments and bad cells named; ``mygru.check_cell`` on good cells and planted bugs."""

import re

import mygrad as mg
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference_cells import CORES, reference_parts, widths
from user_cells import CELLS, MGU, BuggyMGU, IndRNN

import mygru

DTYPES = st.sampled_from([np.float32, np.float64])
GRU_ORDER = ("Uz", "Wz", "bz", "Ur", "Wr", "br", "Uh", "Wh", "bh")
LSTM_ORDER = tuple(k + g for g in "ifgo" for k in "UWb")
# the weights DropConnect masks by default (the 2-D ones), or as the cell says
DROPCONNECT = {
    "mgu": ("Wf", "Wh"),
    "gru": ("Wz", "Wr", "Wh"),
    "lstm": ("Wi", "Wf", "Wg", "Wo"),
    "lstmp": ("Wi", "Wf", "Wg", "Wo"),
    "indrnn": (),
    "carry3": ("W",),
    "linear": ("W",),
    "twogates": ("W",),
    "copy": (),
}


def data(v):
    return np.asarray(v.data if isinstance(v, mg.Tensor) else v)


def is_variable(v):
    return isinstance(v, mg.Tensor) and not v.constant


def param_shapes(kind, C, D, P):
    """Every param's shape: U{g} (C, D), b{g} (D,), the cell's weights."""
    _, gates, weights, _ = CORES[kind]
    P = P if kind == "lstmp" else D
    shapes = {}
    for g in gates:
        shapes["U" + g], shapes["b" + g] = (C, D), (D,)
    for w in weights:
        shapes[w] = (D,) if kind == "indrnn" else (D, P) if w == "Wp" else (P, D)
    return shapes


@st.composite
def problems(draw, kind, max_T=6, max_size=5, options=True):
    """A random problem for one cell: sizes, dtypes, values (arrays, constant or variable
    Tensors), s0 (None, or per part an array, a constant or a variable Tensor), the upstream
    gradient of every part (zero on the parts the loss leaves out) and, with ``options``,
    bp_lim, lengths, dropout and constant."""
    T = draw(st.integers(0, max_T), label="T")
    N, C, D = (draw(st.integers(1, max_size)) for _ in range(3))
    P = draw(st.integers(1, max_size)) if kind == "lstmp" else D
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x_dtype, p_dtype, s_dtype = draw(DTYPES), draw(DTYPES), draw(DTYPES)

    def value(shape, dtype, scale=1.0):
        return (scale * rng.normal(size=shape)).astype(dtype)

    def wrap(arr, kinds=("array", "constant", "variable")):
        how = draw(st.sampled_from(kinds))
        return arr if how == "array" else mg.tensor(arr, constant=how == "constant")

    X = wrap(value((T, N, C), x_dtype))
    params = {k: wrap(value(sh, p_dtype, 0.6)) for k, sh in param_shapes(kind, C, D, P).items()}
    ws = widths(kind, D, params)
    s0 = None
    if draw(st.booleans()):
        s0 = tuple(wrap(value((N, w), s_dtype, 0.5)) for w in ws)
        s0 = s0 if len(ws) > 1 else s0[0]
    used = draw(st.sampled_from(["all", "first", "last"])) if len(ws) > 1 else "all"
    grads = [rng.normal(size=(T + 1, N, w)) for w in ws]
    for k in range(len(ws)):
        if (used == "first" and k > 0) or (used == "last" and k < len(ws) - 1):
            grads[k][...] = 0
    given_ = [X, *params.values(), *(s0 if isinstance(s0, tuple) else (s0,))]
    compute = np.result_type(*(data(v).dtype for v in given_ if v is not None))
    prob = dict(kind=kind, X=X, params=params, s0=s0, grads=tuple(grads), used=used, T=T, N=N, D=D)
    prob.update(widths=ws, compute=compute, bp_lim=None, lengths=None, dropout=0.0, constant=None)
    if options:
        prob["bp_lim"] = draw(st.none() | st.integers(0, T + 1), label="bp_lim")
        if T and draw(st.booleans()):
            prob["lengths"] = draw(st.lists(st.integers(1, T), min_size=N, max_size=N), label="lengths")
        prob["dropout"] = draw(st.sampled_from([0.0, 0.3]), label="dropout")
        prob["constant"] = draw(st.sampled_from([None, None, None, False, True]), label="constant")
    return prob


def s0_parts(prob):
    """s0 as a tuple of one entry per part (None where not given)."""
    s0 = prob["s0"]
    if isinstance(s0, tuple):
        return s0
    return (s0,) if len(prob["widths"]) == 1 else (None,) * len(prob["widths"])


def run(prob, rng=0, **options):
    """mygru.recurrence on the problem, always returned as a tuple of parts (the form is
    checked here: a Tensor for one part, a tuple for several)."""
    opts = {k: prob[k] for k in ("bp_lim", "lengths", "dropout", "constant")}
    opts.update(options)
    cell = prob.get("cell") or CELLS[prob["kind"]]()
    out = mygru.recurrence(cell, prob["X"], prob["params"], prob["s0"], opts.pop("bp_lim"), rng=rng, **opts)
    if len(prob["widths"]) == 1:
        assert isinstance(out, mg.Tensor)
        return (out,)
    assert isinstance(out, tuple) and len(out) == len(prob["widths"])
    return out


def backward(parts, prob):
    """L = Σ over the parts the loss uses of Σ grad ⊙ part."""
    used = {"all": range(len(parts)), "first": [0], "last": [len(parts) - 1]}[prob["used"]]
    sum((parts[k] * prob["grads"][k]).sum() for k in used).backward()


def masks_of(parts):
    masks = parts[0].creator.dropout_masks
    return None if masks is None else {k: np.asarray(v) for k, v in masks.items()}


def check_masks(masks, prob):
    kind, p = prob["kind"], prob["dropout"]
    if p == 0:
        assert masks is None
        return
    gates = CORES[kind][1]
    assert set(masks) == {"U" + g for g in gates} | set(prob.get("dropconnect", DROPCONNECT[kind]))
    scale = np.asarray(1 / (1 - p), dtype=prob["compute"])
    for name, m in masks.items():
        shape = (prob["N"], prob["D"]) if name.startswith("U") else np.shape(prob["params"][name])
        assert m.shape == shape, name
        assert m.dtype == prob["compute"], name
        assert np.all((m == 0) | (m == scale)), name


def reference_of(prob, masks):
    s0 = tuple(
        np.zeros((prob["N"], w)) if v is None else data(v) for v, w in zip(s0_parts(prob), prob["widths"])
    )
    params = {k: data(v) for k, v in prob["params"].items()}
    args = (data(prob["X"]), params, s0, prob["grads"], prob["bp_lim"], prob["lengths"], masks)
    return reference_parts(prob["kind"], *args, bias=prob.get("bias", True))


def tolerances(dtype):
    """(forward, gradient) tolerances by the dtype computed in."""
    if np.dtype(dtype) == np.float64:
        return dict(atol=1e-11, rtol=1e-11), dict(atol=1e-9, rtol=1e-9)
    return dict(atol=5e-5, rtol=5e-5), dict(atol=1e-3, rtol=1e-3)


def expected_constant(prob):
    if prob["constant"] is not None:
        return prob["constant"]
    inputs = [prob["X"], *prob["params"].values(), *s0_parts(prob)]
    return not any(is_variable(v) for v in inputs)


def check(prob, parts, ref, backward_done):
    """The op's parts (and, after backward, every gradient) against the reference triple."""
    forward, grads, sgrads = ref
    tol_f, tol_g = tolerances(prob["compute"])
    constant = expected_constant(prob)
    for k, (part, values) in enumerate(zip(parts, forward)):
        assert part.dtype == prob["compute"], k
        assert part.shape == values.shape, k
        assert part.constant == constant, k
        np.testing.assert_allclose(part.data, values, err_msg=f"part {k}", **tol_f)
    inputs = [("X", prob["X"]), *prob["params"].items()]
    inputs += [(f"s0[{k}]", v) for k, v in enumerate(s0_parts(prob))]
    expected = dict(grads, **{f"s0[{k}]": g for k, g in enumerate(grads["s0"])})
    for name, v in inputs:
        if backward_done and is_variable(v) and not constant:
            assert v.grad is not None, name
            assert v.grad.dtype == v.dtype, name
            tol = tol_g if v.dtype == np.float64 else tolerances(np.float32)[1]
            np.testing.assert_allclose(v.grad, expected[name], err_msg=name, **tol)
        elif isinstance(v, mg.Tensor):
            assert v.grad is None, name
    if backward_done and not constant:
        for k, (part, total) in enumerate(zip(parts, sgrads)):
            assert part.grad is not None, f"part {k}"
            np.testing.assert_allclose(part.grad, total, err_msg=f"part {k}.grad", **tol_g)


def run_and_check(prob):
    parts = run(prob)
    masks = masks_of(parts)
    check_masks(masks, prob)
    ref = reference_of(prob, masks)
    done = not parts[0].constant
    if done:
        backward(parts, prob)
    check(prob, parts, ref, done)
    return parts, masks


# --- user cells against the windowed reference ---------------------------------------


@pytest.mark.parametrize(
    "kind", ["mgu", "lstm", "lstmp", "indrnn", "gru", "carry3", "linear", "twogates", "copy"]
)
@given(data_=st.data())
def test_user_cells_match_the_windowed_reference(kind, data_):
    """Every cell of ``user_cells``: the gated ones, a vector weight, several parts, and
    cells that hand back the very arrays they were given (Carry3, Linear, TwoGates, Copy),
    which a driver must not write into or mix up."""
    run_and_check(data_.draw(problems(kind)))


def fixed_problem(kind, rng, T, N, C, D, P=None, dtype=np.float64, **options):
    """A problem of these sizes with every input a variable Tensor of ``dtype``; ``options``
    (bp_lim, lengths, dropout, constant, and cell, bias, dropconnect for a variant cell)
    go into it as they are."""

    def tensor(shape, scale=1.0):
        return mg.tensor((rng.normal(size=shape) * scale).astype(dtype))

    shapes = param_shapes(kind, C, D, D if P is None else P)
    if not options.get("bias", True):
        shapes = {k: v for k, v in shapes.items() if not k.startswith("b")}
    params = {k: tensor(sh, 0.6) for k, sh in shapes.items()}
    ws = widths(kind, D, params)
    s0 = tuple(tensor((N, w), 0.5) for w in ws)
    prob = dict(kind=kind, X=tensor((T, N, C)), params=params, s0=s0 if len(ws) > 1 else s0[0])
    prob.update(grads=tuple(rng.normal(size=(T + 1, N, w)) for w in ws), used="all", T=T, N=N, D=D)
    prob.update(widths=ws, compute=np.dtype(dtype), bp_lim=None, lengths=None, dropout=0.0, constant=None)
    prob.update(options)
    return prob


@pytest.mark.parametrize("kind", ["mgu", "lstm"])
def test_every_bp_lim_with_lengths_and_dropout_float64(kind):
    """A fixed problem, every input a variable float64 Tensor, every bp_lim from 0 to T+1
    and None, with and without lengths and dropout."""
    rng = np.random.default_rng(4)
    for lengths in (None, [5, 2, 4]):
        for dropout in (0.0, 0.4):
            for bp_lim in [*range(7), None]:
                prob = fixed_problem(kind, rng, 5, 3, 2, 3, bp_lim=bp_lim, lengths=lengths, dropout=dropout)
                run_and_check(prob)


@pytest.mark.parametrize(
    "kind, P", [("mgu", None), ("gru", None), ("lstm", None), ("lstmp", 5), ("indrnn", None)]
)
@pytest.mark.parametrize("dtype, D", [(np.float64, 130), (np.float32, 9)])
def test_wider_states_and_batches(kind, P, dtype, D):
    """Batches of 6 and 130 units in float64 (where the built-ins change their layouts),
    full and truncated, with lengths and dropout."""
    rng = np.random.default_rng(7)
    for bp_lim, lengths, dropout in ((None, None, 0.0), (1, [4, 2, 4, 1, 3, 4], 0.3), (2, None, 0.3)):
        scale = {"P": P, "dtype": dtype}
        prob = fixed_problem(kind, rng, 4, 6, 3, D, bp_lim=bp_lim, lengths=lengths, dropout=dropout, **scale)
        if D > 100:  # keep the pre-activations in range
            prob["params"] = {k: v / np.sqrt(D) for k, v in prob["params"].items()}
            prob["params"] = {k: mg.tensor(v.data) for k, v in prob["params"].items()}
        run_and_check(prob)


@pytest.mark.parametrize("kind", ["mgu", "lstm", "carry3"])
def test_longer_sequences(kind):
    """T = 15: windows of several lengths over many cells, with lengths and dropout."""
    rng = np.random.default_rng(13)
    lengths = [15, 4, 11, 15, 1]
    for bp_lim, dropout in ((None, 0.0), (3, 0.3), (7, 0.0), (14, 0.3)):
        run_and_check(fixed_problem(kind, rng, 15, 5, 2, 3, bp_lim=bp_lim, lengths=lengths, dropout=dropout))


@pytest.mark.parametrize("kind", ["mgu", "lstm", "carry3"])
def test_several_graphs_alive_at_once(kind):
    """Three calls before any backward (the same cell and shapes, so that any work memory
    could be shared; a built-in in between), then their backwards in another order: each
    equals the reference."""
    rng = np.random.default_rng(14)
    cell = CELLS[kind]()
    probs = [
        fixed_problem(kind, rng, 5, 3, 2, 3, bp_lim=b, lengths=[5, 3, 4], dropout=0.3) for b in (None, 2, 1)
    ]
    for prob in probs:
        prob["cell"] = cell
    runs = []
    for prob in probs:
        parts = run(prob)
        runs.append((parts, masks_of(parts)))
        gru_params = [rng.normal(size=sh) for sh in [(2, 3), (3, 3), (3,)] * 3]
        mygru.gru(mg.tensor(rng.normal(size=(5, 3, 2))), *gru_params, dropout=0.3).sum().backward()
    for i in (1, 2, 0):
        parts, masks = runs[i]
        backward(parts, probs[i])
        check(probs[i], parts, reference_of(probs[i], masks), True)


def test_bias_false_against_the_reference():
    class NoBiasMGU(MGU):
        bias = False

    rng = np.random.default_rng(8)
    for bp_lim, dropout in ((None, 0.0), (2, 0.3)):
        opts = dict(bp_lim=bp_lim, dropout=dropout, lengths=[4, 1, 3], bias=False, cell=NoBiasMGU())
        run_and_check(fixed_problem("mgu", rng, 4, 3, 2, 3, **opts))


def test_dropconnect_on_a_vector_weight_when_the_cell_asks():
    """IndRNN's u (D,) gets no mask by default; named in ``dropconnect`` it gets one of
    its own shape, which multiplies u (and its gradient)."""

    class DroppedU(IndRNN):
        dropconnect = ("u",)

    rng = np.random.default_rng(9)
    for bp_lim in (None, 1):
        opts = dict(bp_lim=bp_lim, dropout=0.5, cell=DroppedU(), dropconnect=("u",))
        prob = fixed_problem("indrnn", rng, 5, 4, 2, 6, **opts)
        assert run_and_check(prob)[1]["u"].shape == (6,)


@pytest.mark.parametrize("kind", ["mgu", "lstm"])
def test_any_memory_layout(kind):
    """Inputs, params, s0 and the upstream gradient as non-contiguous views (X batch-first
    transposed, params in Fortran order) give what their contiguous copies give."""
    rng = np.random.default_rng(10)
    T, N, C, D = 4, 3, 2, 5
    Xb = rng.normal(size=(N, T, C))
    params = {k: rng.normal(size=sh) * 0.6 for k, sh in param_shapes(kind, C, D, D).items()}
    s0 = [rng.normal(size=(D, N)).T for _ in range(CORES[kind][3])]
    grads = [rng.normal(size=(N, T + 1, D)).transpose(1, 0, 2) for _ in s0]
    results = []
    for contiguous in (False, True):
        if contiguous:
            X = mg.tensor(np.ascontiguousarray(Xb.transpose(1, 0, 2)))
            ps = {k: mg.tensor(np.ascontiguousarray(v)) for k, v in params.items()}
            s0t = [mg.tensor(np.ascontiguousarray(v)) for v in s0]
            gs = [np.ascontiguousarray(g) for g in grads]
        else:
            X = mg.tensor(Xb).transpose(1, 0, 2)
            ps = {k: mg.tensor(np.asfortranarray(v)) for k, v in params.items()}
            s0t = [mg.tensor(v) for v in s0]
            gs = grads
        assert contiguous or not (X.data.flags.c_contiguous or s0t[0].data.flags.c_contiguous)
        out = mygru.recurrence(CELLS[kind](), X, ps, tuple(s0t) if len(s0t) > 1 else s0t[0], bp_lim=2)
        parts = out if isinstance(out, tuple) else (out,)
        sum((p * g).sum() for p, g in zip(parts, gs)).backward()
        results.append([*(p.data for p in parts), *(p.grad for p in parts), X.grad, *(v.grad for v in s0t)])
        results[-1] += [v.grad for v in ps.values()]
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


def test_tied_and_reused_params_add_their_gradients():
    """One Tensor passed as both Wf and Wh, and also used outside the op: its gradient is
    the sum of all three uses."""
    rng = np.random.default_rng(11)
    X, params = small("mgu", T=4, N=3, D=3, seed=11)
    W = mg.tensor(rng.normal(size=(3, 3)) * 0.6)
    s = mygru.recurrence(MGU(), X, dict(params, Wf=W, Wh=W), bp_lim=2)
    grad = rng.normal(size=s.shape)
    ((s * grad).sum() + (W**2).sum()).backward()
    _, grads, _ = reference_parts(
        "mgu", X, dict(params, Wf=W.data, Wh=W.data), (np.zeros((3, 3)),), (grad,), 2
    )
    np.testing.assert_allclose(W.grad, grads["Wf"] + grads["Wh"] + 2 * W.data, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("bp_lim", [None, 1])
def test_part_grads_are_total_derivatives_through_a_downstream_graph(bp_lim):
    """h used twice and c[-1] squared downstream: each part's .grad adds every use and
    what flowed back from the later cells."""
    rng = np.random.default_rng(12)
    X, params = small("lstm", T=4, N=2, D=3, seed=12)
    tensors = {k: mg.tensor(v) for k, v in params.items()}
    h, c = mygru.recurrence(CELLS["lstm"](), X, tensors, bp_lim=bp_lim)
    w1, w2 = rng.normal(size=h.shape), rng.normal(size=(3,))
    ((h * w1).sum() + (h[-1] @ w2).sum() + (c[-1] ** 2).sum()).backward()
    gh, gc = w1.copy(), np.zeros(c.shape)
    gh[-1] += w2
    gc[-1] = 2 * c.data[-1]
    zeros = (np.zeros((2, 3)),) * 2
    _, grads, (sh, sc) = reference_parts("lstm", X, params, zeros, (gh, gc), bp_lim)
    np.testing.assert_allclose(h.grad, sh, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(c.grad, sc, rtol=1e-10, atol=1e-12)
    for k, v in tensors.items():
        np.testing.assert_allclose(v.grad, grads[k], rtol=1e-10, atol=1e-12, err_msg=k)


def test_under_no_autodiff():
    X, params = small("lstm")
    with mg.no_autodiff:
        s, c = mygru.recurrence(CELLS["lstm"](), X, {k: mg.tensor(v) for k, v in params.items()})
    forward, _, _ = reference_parts("lstm", X, params, (np.zeros((3, 3)),) * 2, (np.zeros((5, 3, 3)),) * 2)
    np.testing.assert_allclose(s.data, forward[0], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(c.data, forward[1], rtol=1e-12, atol=1e-13)


def test_steps_see_the_running_rows_in_the_compute_dtype():
    """Only the sequences still running reach ``step`` (lengths [3, 1, 2]: 3, 2, 1 rows),
    as arrays of the dtype computed in; ``step_backward`` sees the same row counts."""
    seen = []

    class Spy(MGU):
        def step(self, p, a, s):
            seen.append(("step", s.shape[0], s.dtype, a["f"].dtype, p["Wf"].dtype))
            return super().step(p, a, s)

        def step_backward(self, p, ds, cache):
            seen.append(("back", ds.shape[0], ds.dtype, cache[0].dtype, p["Wf"].dtype))
            return super().step_backward(p, ds, cache)

    X, params = small("mgu", T=3, N=3, D=2, dtype=np.float32)
    s = mygru.recurrence(Spy(), X, {k: mg.tensor(v) for k, v in params.items()}, lengths=[3, 1, 2])
    assert [n for kind, n, *_ in seen if kind == "step"][-3:] == [3, 2, 1]  # (after any probe)
    forward, seen[:] = list(seen), []
    s.sum().backward()
    assert sum(n for _, n, *_ in seen) == 6  # Σ lengths rows, stacked or not
    assert all(dt == np.float32 for _, _, *dtypes in forward + seen for dt in dtypes)


def test_integer_inputs_compute_in_float64():
    X = np.arange(12).reshape(2, 3, 2) % 3
    params = {k: np.ones(sh, dtype=np.int64) for k, sh in param_shapes("mgu", 2, 2, 2).items()}
    s = mygru.recurrence(MGU(), X, params)
    assert s.dtype == np.float64
    forward, _, _ = reference_parts("mgu", X, params, (np.zeros((3, 2)),), (np.zeros((3, 3, 2)),))
    np.testing.assert_allclose(s.data, forward[0], rtol=1e-12, atol=1e-13)


def test_bp_lim_zero_keeps_each_cells_own_step():
    """With k = 0 nothing flows between steps: every part's .grad is its upstream gradient."""
    rng = np.random.default_rng(10)
    params = {k: mg.tensor(rng.normal(size=sh)) for k, sh in param_shapes("lstm", 2, 3, 3).items()}
    s0, c0 = mg.tensor(rng.normal(size=(4, 3))), mg.tensor(rng.normal(size=(4, 3)))
    s, c = mygru.recurrence(CELLS["lstm"](), rng.normal(size=(5, 4, 2)), params, (s0, c0), bp_lim=0)
    gs, gc = rng.normal(size=s.shape), rng.normal(size=c.shape)
    ((s * gs).sum() + (c * gc).sum()).backward()
    np.testing.assert_array_equal(s.grad, gs)
    np.testing.assert_array_equal(c.grad, gc)
    np.testing.assert_array_equal(s0.grad, gs[0])
    np.testing.assert_array_equal(c0.grad, gc[0])


# --- the GRU and the LSTM as user cells against the built-ins ----------------------------


def builtin(prob, **options):
    """mygru.gru or mygru.lstm on the same problem (params mapped by name)."""
    p, kind = prob["params"], prob["kind"]
    s0 = s0_parts(prob)
    if kind == "gru":
        return (mygru.gru(prob["X"], *(p[k] for k in GRU_ORDER), s0=s0[0], **options),)
    return mygru.lstm(prob["X"], *(p[k] for k in LSTM_ORDER), s0=s0[0], c0=s0[1], Wp=p.get("Wp"), **options)


def gradients(prob, parts):
    inputs = {"X": prob["X"], **prob["params"], **{f"s0[{k}]": v for k, v in enumerate(s0_parts(prob))}}
    out = {k: v.grad for k, v in inputs.items() if isinstance(v, mg.Tensor)}
    out.update({f"part {k}.grad": part.grad for k, part in enumerate(parts)})
    return out


@pytest.mark.parametrize("kind", ["gru", "lstm", "lstmp"])
@given(data_=st.data())
def test_gru_and_lstm_user_cells_equal_the_builtins(kind, data_):
    """Same numbers and every same gradient, with the same bp_lim, lengths, constant and s0;
    with dropout each runs its own masks, and both equal the reference given their masks."""
    prob = data_.draw(problems(kind))
    opts = {k: prob[k] for k in ("bp_lim", "lengths", "constant")}
    results = []
    for f in (run, builtin):
        parts = f(prob, **opts, dropout=0.0) if f is builtin else f(prob, dropout=0.0)
        if not parts[0].constant:
            backward(parts, prob)
        results.append((parts, gradients(prob, parts)))
        for v in [prob["X"], *prob["params"].values(), *s0_parts(prob)]:
            if isinstance(v, mg.Tensor):
                v.null_grad()
    (mine, mine_grads), (theirs, theirs_grads) = results
    tol_f, tol_g = tolerances(prob["compute"])
    for a, b in zip(mine, theirs):
        assert a.dtype == b.dtype and a.constant == b.constant
        np.testing.assert_allclose(a.data, b.data, **tol_f)
    assert mine_grads.keys() == theirs_grads.keys()
    for name, g in mine_grads.items():
        other = theirs_grads[name]
        assert (g is None) == (other is None), name
        if g is not None:
            assert g.dtype == other.dtype, name
            tol = tol_g if g.dtype == np.float64 else tolerances(np.float32)[1]
            np.testing.assert_allclose(g, other, err_msg=name, **tol)
    if prob["dropout"]:
        for f in (run, builtin):
            parts = f(prob, **opts, dropout=prob["dropout"], rng=3) if f is builtin else f(prob, rng=3)
            masks = parts[0].creator.dropout_masks
            masks = masks if isinstance(masks, dict) else masks._asdict()
            if f is run:
                check_masks(masks, prob)
            check(prob, parts, reference_of(prob, masks), backward_done=False)


# --- dropout ------------------------------------------------------------------------------


def small(kind, T=4, N=3, C=2, D=3, P=None, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    P = D if P is None else P
    params = {k: (rng.normal(size=sh) * 0.6).astype(dtype) for k, sh in param_shapes(kind, C, D, P).items()}
    return rng.normal(size=(T, N, C)).astype(dtype), params


@pytest.mark.parametrize("kind", ["mgu", "indrnn", "lstmp"])
def test_dropout_masks_are_named_by_the_params_they_multiply(kind):
    X, params = small(kind, N=30, D=20, P=7)
    out = mygru.recurrence(CELLS[kind](), X, params, dropout=0.5, rng=1)
    parts = out if isinstance(out, tuple) else (out,)
    masks = masks_of(parts)
    gates = CORES[kind][1]
    assert set(masks) == {"U" + g for g in gates} | set(DROPCONNECT[kind])
    for name, m in masks.items():
        assert m.shape == ((30, 20) if name.startswith("U") else params[name].shape)
        assert np.all((m == 0) | (m == 2.0)) and np.any(m == 0) and np.any(m == 2.0), name
    out = mygru.recurrence(CELLS[kind](), X, params)
    assert (out[0] if isinstance(out, tuple) else out).creator.dropout_masks is None


def test_dropout_rng_int_generator_and_global_seed():
    X, params = small("mgu")
    cell = MGU()

    def go(rng, seed=None):
        if seed is not None:
            np.random.seed(seed)
        return mygru.recurrence(cell, X, params, dropout=0.5, rng=rng).data

    np.testing.assert_array_equal(go(3), go(3))
    assert not np.allclose(go(3), go(4))
    gen = np.random.default_rng(5)
    a, b = go(gen), go(gen)
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(a, go(np.random.default_rng(5)))
    np.testing.assert_array_equal(go(None, seed=11), go(None, seed=11))
    assert not np.allclose(go(None, seed=11), go(None, seed=12))


def test_a_cell_can_choose_its_dropconnect_weights():
    class OnlyWh(MGU):
        dropconnect = ("Wh",)

    class Nothing(MGU):
        dropconnect = ()

    X, params = small("mgu")
    assert set(masks_of((mygru.recurrence(OnlyWh(), X, params, dropout=0.3, rng=0),))) == {"Uf", "Uh", "Wh"}
    assert set(masks_of((mygru.recurrence(Nothing(), X, params, dropout=0.3, rng=0),))) == {"Uf", "Uh"}


# --- s0, T = 0, constant, dtypes, array-likes, no mutation --------------------------------


def test_s0_none_is_zeros_and_a_tuple_for_several_parts():
    X, params = small("lstm", T=3, N=2, D=3)
    s, c = mygru.recurrence(CELLS["lstm"](), X, params)
    assert s.shape == c.shape == (4, 2, 3)
    assert np.all(s.data[0] == 0) and np.all(c.data[0] == 0)
    s0, c0 = np.full((2, 3), 0.5), np.full((2, 3), -0.5)
    s, c = mygru.recurrence(CELLS["lstm"](), X, params, (s0, c0))
    np.testing.assert_array_equal(s.data[0], s0)
    np.testing.assert_array_equal(c.data[0], c0)
    X, params = small("mgu", T=3, N=2, D=3)
    s = mygru.recurrence(MGU(), X, params, s0)
    np.testing.assert_array_equal(s.data[0], s0)


@pytest.mark.parametrize("kind", ["mgu", "lstm"])
def test_t0_returns_s0_alone_and_its_gradient(kind):
    X, params = small(kind, T=0, N=2, D=3)
    s0 = tuple(mg.tensor(np.full((2, 3), v)) for v in (0.5, -0.25))[: CORES[kind][3]]
    out = mygru.recurrence(CELLS[kind](), X, params, s0 if len(s0) > 1 else s0[0])
    parts = out if isinstance(out, tuple) else (out,)
    sum(((k + 1) * p).sum() for k, p in enumerate(parts)).backward()
    for k, (part, v) in enumerate(zip(parts, s0)):
        assert part.shape == (1, 2, 3)
        np.testing.assert_array_equal(part.data[0], v.data)
        np.testing.assert_array_equal(v.grad, np.full((2, 3), k + 1.0))


def test_constant_flag():
    X, params = small("mgu")
    cell = MGU()
    assert mygru.recurrence(cell, X, params).constant  # every input an array
    assert not mygru.recurrence(cell, X, params, constant=False).constant
    tensors = {k: mg.tensor(v) for k, v in params.items()}
    assert not mygru.recurrence(cell, X, tensors).constant
    s = mygru.recurrence(cell, X, tensors, constant=True)
    assert s.constant
    s = mygru.recurrence(cell, X, params, constant=False)
    s[-1].sum().backward()
    assert s.grad.shape == s.shape and np.all(s.grad[-1] == 1) and np.any(s.grad[0] != 0)


@pytest.mark.parametrize(
    "dtypes, expected",
    [
        ((np.float32, np.float32, np.float32), np.float32),
        ((np.float32, np.float64, np.float32), np.float64),
        ((np.float64, np.float32, np.float32), np.float64),
        ((np.float32, np.float32, np.float64), np.float64),
    ],
)
def test_compute_dtype_and_gradient_dtypes(dtypes, expected):
    x_dtype, p_dtype, s_dtype = dtypes
    X, params = small("lstm")
    X = mg.tensor(X.astype(x_dtype))
    params = {k: mg.tensor(v.astype(p_dtype)) for k, v in params.items()}
    s0 = tuple(mg.tensor(np.full((3, 3), 0.1, s_dtype)) for _ in range(2))
    s, c = mygru.recurrence(CELLS["lstm"](), X, params, s0, dropout=0.2, rng=0)
    assert s.dtype == c.dtype == expected
    assert all(m.dtype == expected for m in s.creator.dropout_masks.values())
    (s.sum() + c.sum()).backward()
    for v in [X, *params.values(), *s0]:
        assert v.grad.dtype == v.dtype
    assert s.grad.dtype == c.grad.dtype == expected


def test_params_may_be_array_likes():
    X, params = small("indrnn")
    a = mygru.recurrence(IndRNN(), X.tolist(), {k: v.tolist() for k, v in params.items()}, [[0.1] * 3] * 3)
    b = mygru.recurrence(IndRNN(), X, params, np.full((3, 3), 0.1))
    np.testing.assert_allclose(a.data, b.data, rtol=1e-14, atol=0)


@pytest.mark.parametrize("kind", ["mgu", "lstm", "indrnn"])
def test_inputs_are_not_mutated(kind):
    X, params = small(kind, T=5, N=3, D=3, seed=6)
    s0 = tuple(np.full((3, 3), v) for v in (0.3, -0.3))[: CORES[kind][3]]
    copies = [a.copy() for a in [X, *params.values(), *s0]]
    tensors = {k: mg.tensor(v) for k, v in params.items()}
    s0t = tuple(mg.tensor(v) for v in s0)
    for bp_lim in (None, 2):
        out = mygru.recurrence(
            CELLS[kind](),
            X,
            tensors,
            s0t if len(s0t) > 1 else s0t[0],
            bp_lim,
            dropout=0.3,
            rng=0,
            lengths=[5, 2, 4],
        )
        parts = out if isinstance(out, tuple) else (out,)
        sum((p * 1.5).sum() for p in parts).backward()
    for before, after in zip(copies, [X, *(t.data for t in tensors.values()), *(t.data for t in s0t)]):
        np.testing.assert_array_equal(before, after)


def test_gate_named_empty_gives_params_U_and_b_and_bias_false_drops_b():
    class NoBiasElman(mygru.Cell):
        gates = ("",)
        weights = ("W",)
        bias = False

        def step(self, p, a, s):
            H = np.tanh(a[""] + s @ p["W"])
            return H, (s, H)

        def step_backward(self, p, ds, cache):
            s, H = cache
            dA = ds * (1 - H**2)
            return {"": dA}, dA @ p["W"].T, {"W": s.T @ dA}

    rng = np.random.default_rng(2)
    X, U, W = (
        rng.normal(size=(4, 2, 3)),
        mg.tensor(rng.normal(size=(3, 2))),
        mg.tensor(rng.normal(size=(2, 2))),
    )
    s = mygru.recurrence(NoBiasElman(), X, {"U": U, "W": W})
    b = mg.tensor(np.zeros(2))
    r = mygru.rnn(X, U, W, b)
    np.testing.assert_allclose(s.data, r.data, rtol=1e-12, atol=1e-14)


# --- bad arguments and bad cells -----------------------------------------------------------


def mgu_problem():
    X, params = small("mgu")
    return X, params


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda p: p.pop("Wh"), "Wh"),
        (lambda p: p.pop("bf"), "bf"),
        (lambda p: p.pop("Uh"), "Uh"),
        (lambda p: p.update(Wq=np.zeros((3, 3))), "Wq"),
        (lambda p: p.update(Uh=np.zeros((3, 3))), "Uh"),
        (lambda p: p.update(Uf=np.zeros((1, 3))), "Uf"),
        (lambda p: p.update(bh=np.zeros((4,))), "bh"),
        (lambda p: p.update(bf=np.zeros((1, 3))), "bf"),
    ],
)
def test_a_missing_extra_or_misshapen_param_is_named(change, match):
    X, params = mgu_problem()
    change(params)
    with pytest.raises((ValueError, TypeError), match=match):
        mygru.recurrence(MGU(), X, params)


@pytest.mark.parametrize("name, shape", [("Wf", (3, 2)), ("Wh", (3,)), ("Wh", (2, 3))])
def test_a_misshapen_weight_fails_at_the_call(name, shape):
    """A weight's shape is the cell's business (any shapes): the call fails, in the cell's
    step or by the driver's own checks, before any result."""
    X, params = mgu_problem()
    params[name] = mg.tensor(np.zeros(shape))
    with pytest.raises((ValueError, TypeError)):
        mygru.recurrence(MGU(), X, params)


def test_bias_false_refuses_a_bias_by_name():
    class NoBias(MGU):
        bias = False

    X, params = mgu_problem()
    with pytest.raises((ValueError, TypeError), match="bf|bh"):
        mygru.recurrence(NoBias(), X, params)
    del params["bf"], params["bh"]
    assert mygru.recurrence(NoBias(), X, params).shape == (5, 3, 3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(X=np.zeros((4, 3))), "X"),
        (dict(s0=np.zeros((3, 4))), "s0"),
        (dict(s0=np.zeros((2, 3))), "s0"),
        (dict(bp_lim=-1), "bp_lim"),
        (dict(bp_lim=1.5), "bp_lim"),
        (dict(bp_lim=True), "bp_lim"),
        (dict(dropout=1.0), "dropout"),
        (dict(dropout=-0.1), "dropout"),
        (dict(lengths=[4, 4]), "lengths"),
        (dict(lengths=[0, 4, 4]), "lengths"),
        (dict(lengths=[5, 4, 4]), "lengths"),
        (dict(rng=-1, dropout=0.3), "rng|seed"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    X, params = mgu_problem()
    kwargs = dict(kwargs)
    X = kwargs.pop("X", X)
    with pytest.raises((ValueError, TypeError), match=match):
        mygru.recurrence(MGU(), X, params, **kwargs)


def test_a_cell_class_or_an_object_that_is_no_cell_is_refused():
    X, params = mgu_problem()
    with pytest.raises(TypeError, match="MGU|cell"):
        mygru.recurrence(MGU, X, params)
    with pytest.raises(TypeError, match="cell|Cell"):
        mygru.recurrence(object(), X, params)


@pytest.mark.parametrize(
    "s0",
    [
        np.zeros((3, 3)),  # one array for two parts
        (np.zeros((3, 3)),),  # one part of two
        (np.zeros((3, 3)), np.zeros((3, 3)), np.zeros((3, 3))),
        (np.zeros((3, 3)), np.zeros((3, 2))),  # c0 misshapen
    ],
)
def test_a_bad_tuple_s0_is_named(s0):
    X, params = small("lstm")
    with pytest.raises((ValueError, TypeError), match="s0|c0|part|state"):
        mygru.recurrence(CELLS["lstm"](), X, params, s0)


class Elman(mygru.Cell):
    """S' = tanh(A^xin + S Wrec): distinctive names, for the bad-cell tests to look for."""

    gates = ("xin",)
    weights = ("Wrec",)

    def step(self, p, a, s):
        H = np.tanh(a["xin"] + s @ p["Wrec"])
        return H, (s, H)

    def step_backward(self, p, ds, cache):
        s, H = cache
        dA = ds * (1 - H**2)
        return {"xin": dA}, dA @ p["Wrec"].T, {"Wrec": s.T @ dA}


class WrongShape(Elman):
    def step(self, p, a, s):
        H, cache = super().step(p, a, s)
        return H[:, :-1], cache


class WrongParts(Elman):
    def step(self, p, a, s):
        H, cache = super().step(p, a, s)
        return (H, H), cache


class NoGateGradient(Elman):
    def step_backward(self, p, ds, cache):
        _, ds_prev, dp = super().step_backward(p, ds, cache)
        return {}, ds_prev, dp


class NoWeightGradient(Elman):
    def step_backward(self, p, ds, cache):
        da, ds_prev, _ = super().step_backward(p, ds, cache)
        return da, ds_prev, {}


class WrongWeightGradientShape(Elman):
    def step_backward(self, p, ds, cache):
        da, ds_prev, dp = super().step_backward(p, ds, cache)
        return da, ds_prev, {"Wrec": dp["Wrec"][:-1]}


class WrongStateGradientShape(Elman):
    def step_backward(self, p, ds, cache):
        da, ds_prev, dp = super().step_backward(p, ds, cache)
        return da, ds_prev[:, :-1], dp


class CacheList(Elman):
    def step(self, p, a, s):
        H, cache = super().step(p, a, s)
        return H, list(cache)


class CacheNotRowsFirst(Elman):
    def step(self, p, a, s):
        H, (s_, H_) = super().step(p, a, s)
        return H, (s_.T, H_)


class CacheScalar(Elman):
    def step(self, p, a, s):
        H, cache = super().step(p, a, s)
        return H, (*cache, 1.0)


@pytest.mark.parametrize(
    "cell, match",
    [
        (WrongShape, "step"),
        (WrongParts, "step"),
        (NoGateGradient, "xin"),
        (NoWeightGradient, "Wrec"),
        (WrongWeightGradientShape, "Wrec"),
        (WrongStateGradientShape, "step_backward|state|ds"),
        (CacheList, "cache"),
        (CacheNotRowsFirst, "cache"),
        (CacheScalar, "cache"),
    ],
)
def test_a_bad_cell_is_named_at_the_first_call(cell, match):
    """Caught at the call (N = 4 rows, D = 3, so a transposed (3, 4) cache is not rows-first),
    not at a later backward."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3, 4, 2))
    params = {
        "Uxin": mg.tensor(rng.normal(size=(2, 3))),
        "bxin": np.zeros(3),
        "Wrec": rng.normal(size=(3, 3)),
    }
    with pytest.raises((ValueError, TypeError), match=match):
        mygru.recurrence(cell(), X, params)


def test_the_good_elman_cell_runs():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3, 4, 2))
    U, W = mg.tensor(rng.normal(size=(2, 3))), mg.tensor(rng.normal(size=(3, 3)))
    s = mygru.recurrence(Elman(), X, {"Uxin": U, "bxin": np.zeros(3), "Wrec": W})
    s.sum().backward()
    r = mygru.rnn(X, U.data, W.data, np.zeros(3), constant=False)
    np.testing.assert_allclose(s.data, r.data, rtol=1e-12, atol=1e-14)


# --- check_cell ----------------------------------------------------------------------------


def check_params(kind, C=3, D=4, P=2, seed=0):
    return small(kind, C=C, D=D, P=P, seed=seed)[1]


@pytest.mark.parametrize("kind", [*CELLS])
def test_check_cell_passes_the_real_cells(kind):
    assert mygru.check_cell(CELLS[kind](), 3, 4, params=check_params(kind)) is None


def test_check_cell_draws_its_own_params_for_square_weights():
    assert mygru.check_cell(MGU()) is None


def test_check_cell_fails_a_dropped_carry_path_naming_the_state_gradient():
    with pytest.raises(AssertionError, match=r"(?i)\bs\b|s0|s_prev|ds|state"):
        mygru.check_cell(BuggyMGU(), 3, 4, params=check_params("mgu"))


class HalfWf(MGU):
    """A planted bug in one weight's gradient only."""

    def step_backward(self, p, ds, cache):
        da, ds_prev, dp = super().step_backward(p, ds, cache)
        return da, ds_prev, dict(dp, Wf=dp["Wf"] * 0.5)


class WrongGateH(MGU):
    """A planted bug in one gate's gradient only."""

    def step_backward(self, p, ds, cache):
        da, ds_prev, dp = super().step_backward(p, ds, cache)
        return dict(da, h=-da["h"]), ds_prev, dp


def test_check_cell_names_a_wrong_weight_gradient():
    with pytest.raises(AssertionError, match="Wf"):
        mygru.check_cell(HalfWf(), 3, 4, params=check_params("mgu"))


def test_check_cell_names_a_wrong_gate_gradient():
    with pytest.raises(AssertionError, match=r"\bh\b|Uh|bh"):
        mygru.check_cell(WrongGateH(), 3, 4, params=check_params("mgu"))


class RowCoupled(Elman):
    """S' = tanh(P − mean over rows of P), P = A + S Wrec: a step whose backward is right
    (it passes finite differences on one step) but whose rows are not independent, which the
    protocol forbids (steps see the running rows only, or several cells' rows stacked)."""

    def step(self, p, a, s):
        P = a["xin"] + s @ p["Wrec"]
        H = np.tanh(P - P.mean(axis=0))
        return H, (s, H)

    def step_backward(self, p, ds, cache):
        s, H = cache
        dC = ds * (1 - H**2)
        dP = dC - dC.mean(axis=0)  # C = P − mean(P): each row of P reaches every row of C
        return {"xin": dP}, dP @ p["Wrec"].T, {"Wrec": s.T @ dP}


def test_check_cell_fails_a_cell_whose_rows_are_coupled():
    rng = np.random.default_rng(1)
    params = {"Uxin": rng.normal(size=(3, 4)), "bxin": rng.normal(size=4), "Wrec": rng.normal(size=(4, 4))}
    with pytest.raises(AssertionError):
        mygru.check_cell(RowCoupled(), 3, 4, params=params)


class ForgetfulLSTM(CELLS["lstm"]):
    """A planted bug in the second state part only: dc_prev misses the carry F ⊙ dc."""

    def step_backward(self, p, ds, cache):
        da, (dh_prev, _), dp = super().step_backward(p, ds, cache)
        return da, (dh_prev, np.zeros_like(ds[1])), dp


def test_check_cell_names_a_wrong_second_state_part():
    with pytest.raises(AssertionError, match=r"(?i)\bc\b|\bc0\b|c_prev|\bdc|part 1|\[1\]"):
        mygru.check_cell(ForgetfulLSTM(), 3, 4, params=check_params("lstm"))


class ScribblesOnItsCache(MGU):
    """Right the first time its backward reads a cache, wrong after: it halves F in place.
    recurrence with bp_lim >= 1 reads a cell's cache once per window, so its gradients are
    wrong there (the windowed reference says so); check_cell must not pass it."""

    def step_backward(self, p, ds, cache):
        out = super().step_backward(p, ds, cache)
        cache[1][...] *= 0.5
        return out


class WritesIntoA(MGU):
    """The MGU computing its candidate in place in the driver's a["h"]: recurrence gives
    the right numbers for it (each step's a is its own), so check_cell must pass it, or
    refuse it by naming the write, never blame its (right) backward."""

    def step(self, p, a, s):
        F = 0.5 * (1.0 + np.tanh(0.5 * (a["f"] + s @ p["Wf"])))
        FS = F * s
        H = a["h"]
        H += FS @ p["Wh"]
        np.tanh(H, out=H)
        return (1 - F) * s + F * H, (s, F, FS, H)


def test_a_cache_scribbled_on_gives_wrong_truncated_gradients():
    """What the next test guards against: the op itself is fine, the cell is not."""
    rng = np.random.default_rng(15)
    run_and_check(fixed_problem("mgu", rng, 5, 3, 2, 3, bp_lim=None, cell=ScribblesOnItsCache()))
    with pytest.raises(AssertionError):
        run_and_check(fixed_problem("mgu", rng, 5, 3, 2, 3, bp_lim=1, cell=ScribblesOnItsCache()))


def test_check_cell_fails_a_backward_that_writes_into_its_cache():
    with pytest.raises((AssertionError, ValueError, TypeError)):
        mygru.check_cell(ScribblesOnItsCache(), 3, 4, params=check_params("mgu"))


def test_check_cell_does_not_blame_the_backward_of_a_step_that_writes_into_a():
    rng = np.random.default_rng(16)
    run_and_check(fixed_problem("mgu", rng, 5, 3, 2, 3, bp_lim=1, lengths=[5, 2, 4], cell=WritesIntoA()))
    try:
        mygru.check_cell(WritesIntoA(), 3, 4, params=check_params("mgu"))
    except (AssertionError, ValueError, TypeError) as e:
        assert re.search(r"(?i)in place|wr[io]te|writes|modif|changed", str(e)), str(e)


def test_check_cell_names_a_missing_param():
    params = check_params("mgu")
    del params["Wh"]
    with pytest.raises((ValueError, TypeError), match="Wh"):
        mygru.check_cell(MGU(), 3, 4, params=params)
