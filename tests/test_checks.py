"""Every bad-input rule: the right exception, before any work, naming the argument."""

import re

import mygrad as mg
import numpy as np
import pytest

import mygru

T, N, C, D = 3, 2, 4, 5


def gru_args(**override):
    rng = np.random.default_rng(0)
    args = dict(X=rng.normal(size=(T, N, C)))
    for g in "zrh":
        args["U" + g] = rng.normal(size=(C, D))
        args["W" + g] = rng.normal(size=(D, D))
        args["b" + g] = rng.normal(size=(D,))
    args.update(override)
    return args


def call_gru(**override):
    a = gru_args(**override)
    pos = [a.pop(k) for k in ("X", "Uz", "Wz", "bz", "Ur", "Wr", "br", "Uh", "Wh", "bh")]
    return mygru.gru(*pos, **a)


def call_rnn(**override):
    rng = np.random.default_rng(0)
    a = dict(
        X=rng.normal(size=(T, N, C)),
        U=rng.normal(size=(C, D)),
        W=rng.normal(size=(D, D)),
        b=rng.normal(size=(D,)),
    )
    a.update(override)
    pos = [a.pop(k) for k in ("X", "U", "W", "b")]
    return mygru.rnn(*pos, **a)


LSTM_ORDER = ("X", "Ui", "Wi", "bi", "Uf", "Wf", "bf", "Ug", "Wg", "bg", "Uo", "Wo", "bo")


def call_lstm(P=None, **override):
    """mygru.lstm with good arguments of T, N, C, D (and the projection to P), but
    for ``override``."""
    rng = np.random.default_rng(0)
    Q = D if P is None else P
    a = dict(X=rng.normal(size=(T, N, C)))
    for g in "ifgo":
        a["U" + g] = rng.normal(size=(C, D))
        a["W" + g] = rng.normal(size=(Q, D))
        a["b" + g] = rng.normal(size=(D,))
    if P is not None:
        a["Wp"] = rng.normal(size=(D, P))
    a.update(override)
    pos = [a.pop(k) for k in LSTM_ORDER]
    return mygru.lstm(*pos, **a)


SHAPE_CASES = [
    ("X", np.zeros((T, N)), "X must have shape (T, N, C)"),
    ("X", np.zeros((T, N, C, 1)), "got shape (3, 2, 4, 1)"),
    ("Uz", np.zeros((C + 1, D)), "Uz must have shape (C, D) with C = 4 from X"),
    ("Uz", np.zeros(C), "Uz must have shape (C, D)"),
    ("Ur", np.zeros((C, D + 1)), "Ur must have shape (C, D) = (4, 5)"),
    ("Uh", np.zeros((C + 1, D)), "Uh must have shape (C, D) = (4, 5)"),
    ("Wz", np.zeros((D, D + 1)), "Wz must have shape (D, D) = (5, 5) with D = 5 (D from Uz)"),
    ("Wr", np.zeros((D + 1, D)), "Wr must have shape (D, D)"),
    ("Wh", np.zeros(D), "Wh must have shape (D, D)"),
    ("bz", np.zeros(D + 1), "bz must have shape (D,) = (5,)"),
    ("br", np.zeros((1, D)), "br must have shape (D,)"),
    ("bh", np.zeros(D - 1), "bh must have shape (D,)"),
    ("s0", np.zeros((N + 1, D)), "s0 must have shape (N, D) = (2, 5) with N = 2 (N from X)"),
    ("s0", np.zeros((N, D + 2)), "got shape (2, 7)"),
    ("bhn", np.zeros(D), "bhn (the candidate's recurrent bias) is only used with reset_after=True"),
]


@pytest.mark.parametrize("name, value, message", SHAPE_CASES)
def test_wrong_shapes_raise_value_error_naming_the_argument(name, value, message):
    with pytest.raises(ValueError) as err:
        call_gru(**{name: value})
    assert message in str(err.value)
    assert str(err.value).startswith(name)


def test_bhn_shape_with_reset_after():
    with pytest.raises(ValueError, match=r"bhn must have shape \(D,\) = \(5,\)"):
        call_gru(reset_after=True, bhn=np.zeros(D + 1))


@pytest.mark.parametrize("name", ["X", "Uz", "Wr", "bh", "s0"])
@pytest.mark.parametrize("bad", [np.array([["a"]]), np.zeros((1, 1), complex), np.ones((1, 1), bool)])
def test_non_real_dtypes_raise_type_error_naming_the_argument(name, bad):
    with pytest.raises(TypeError, match=rf"^{name} must hold real numbers.*got dtype {bad.dtype}"):
        call_gru(**{name: bad})


@pytest.mark.parametrize(
    "value, exc, message",
    [
        (-1, ValueError, "bp_lim must be None or an int >= 0, got -1"),
        (2.0, TypeError, "bp_lim must be None or an int >= 0, got 2.0 of type float"),
        (True, TypeError, "bp_lim must be None or an int >= 0, got True of type bool"),
        ("3", TypeError, "bp_lim must be None or an int >= 0"),
    ],
)
def test_bad_bp_lim(value, exc, message):
    with pytest.raises(exc, match=message.replace("(", r"\(")):
        call_gru(bp_lim=value)


@pytest.mark.parametrize(
    "value, exc, message",
    [
        (1.0, ValueError, "dropout must be in [0, 1), got 1.0"),
        (-0.1, ValueError, "dropout must be in [0, 1), got -0.1"),
        (float("nan"), ValueError, "dropout must be in [0, 1), got nan"),
        (True, TypeError, "dropout must be a number in [0, 1), got True"),
        ("0.5", TypeError, "dropout must be a number in [0, 1)"),
    ],
)
def test_bad_dropout(value, exc, message):
    with pytest.raises(exc) as err:
        call_gru(dropout=value)
    assert message in str(err.value)


@pytest.mark.parametrize("value", [1.5, "seed", True, np.random.RandomState(0)])
def test_bad_rng(value):
    with pytest.raises(TypeError, match="rng must be None, an int seed >= 0 or a numpy.random.Generator"):
        call_gru(rng=value, dropout=0.5)


def test_bad_constant_and_reset_after():
    with pytest.raises(TypeError, match="constant must be None, True or False"):
        call_gru(constant="yes")
    with pytest.raises(TypeError, match="reset_after must be True or False"):
        call_gru(reset_after=1)


@pytest.mark.parametrize(
    "value, exc, message",
    [
        ([1, 2, 3], ValueError, "lengths must have shape (N,) = (2,) with N from X, got shape (3,)"),
        ([0, 2], ValueError, "lengths must lie in 1..T = 1..3 with T from X, got values from 0 to 2"),
        ([1, 4], ValueError, "lengths must lie in 1..T = 1..3 with T from X, got values from 1 to 4"),
        ([1.0, 2.0], TypeError, "lengths must hold integers, got dtype float64"),
    ],
)
def test_bad_lengths(value, exc, message):
    for call in (call_gru, call_rnn, call_lstm):
        with pytest.raises(exc) as err:
            call(lengths=value)
        assert message in str(err.value)


def test_bad_nonlinearity_names_the_allowed_values():
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu', got 'sigmoid'"):
        call_rnn(nonlinearity="sigmoid")


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("U", np.zeros((C + 1, D)), "U must have shape (C, D) with C = 4 from X"),
        ("W", np.zeros((D, 1)), "W must have shape (D, D) = (5, 5) with D = 5 (D from U)"),
        ("b", np.zeros(2), "b must have shape (D,) = (5,)"),
        ("s0", np.zeros((1, D)), "s0 must have shape (N, D) = (2, 5)"),
    ],
)
def test_rnn_wrong_shapes(name, value, message):
    with pytest.raises(ValueError) as err:
        call_rnn(**{name: value})
    assert message in str(err.value)


def test_checks_come_before_any_work():
    """A bad late argument must not leave a graph behind on the tensors."""
    Uz = mg.tensor(np.zeros((C, D)))
    with pytest.raises(ValueError):
        call_gru(Uz=Uz, bp_lim=-1)
    assert not Uz._ops


LSTM_SHAPE_CASES = [
    (None, "Ui", np.zeros((C + 1, D)), "Ui must have shape (C, D) with C = 4 from X"),
    (None, "Uo", np.zeros((C, D + 1)), "Uo must have shape (C, D) = (4, 5)"),
    (None, "Wf", np.zeros((D, D + 1)), "Wf must have shape (D, D) = (5, 5) with D = 5 (D from Ui)"),
    (None, "bg", np.zeros(D + 1), "bg must have shape (D,) = (5,)"),
    (None, "s0", np.zeros((N, D + 1)), "s0 must have shape (N, D) = (2, 5) with N = 2 (N from X)"),
    (None, "c0", np.zeros((N + 1, D)), "c0 must have shape (N, D) = (2, 5) with N = 2 (N from X)"),
    (
        3,
        "Wi",
        np.zeros((D, D)),
        "Wi must have shape (P, D) = (3, 5) with P = 3 (P from Wp), D = 5 (D from Ui)",
    ),
    (
        3,
        "s0",
        np.zeros((N, D)),
        "s0 must have shape (N, P) = (2, 3) with N = 2 (N from X), P = 3 (P from Wp)",
    ),
    (3, "c0", np.zeros((N, 3)), "c0 must have shape (N, D) = (2, 5)"),
    (
        3,
        "Wp",
        np.zeros((D + 1, 3)),
        "Wp must have shape (D, P) with D = 5 (D from Ui) and P >= 1, got shape (6, 3)",
    ),
    (3, "Wp", np.zeros(D), "Wp must have shape (D, P) with D = 5 (D from Ui) and P >= 1, got shape (5,)"),
    (
        3,
        "Wp",
        np.zeros((D, 0)),
        "Wp must have shape (D, P) with D = 5 (D from Ui) and P >= 1, got shape (5, 0)",
    ),
]


@pytest.mark.parametrize("P, name, value, message", LSTM_SHAPE_CASES)
def test_lstm_wrong_shapes_raise_value_error_naming_the_argument(P, name, value, message):
    with pytest.raises(ValueError) as err:
        call_lstm(P, **{name: value})
    assert message in str(err.value)
    assert str(err.value).startswith(name)


@pytest.mark.parametrize("name", ["X", "Ug", "Wo", "bi", "s0", "c0", "Wp"])
def test_lstm_non_real_dtypes_raise_type_error_naming_the_argument(name):
    with pytest.raises(TypeError, match=rf"^{name} must hold real numbers.*got dtype complex128"):
        call_lstm(2 if name == "Wp" else None, **{name: np.zeros((1, 1), complex)})


@pytest.mark.parametrize(
    "kwargs, exc, message",
    [
        (dict(bp_lim=-1), ValueError, "bp_lim must be None or an int >= 0, got -1"),
        (dict(bp_lim=1.0), TypeError, "bp_lim must be None or an int >= 0, got 1.0 of type float"),
        (dict(dropout=1.0), ValueError, "dropout must be in [0, 1), got 1.0"),
        (
            dict(rng="seed", dropout=0.5),
            TypeError,
            "rng must be None, an int seed >= 0 or a numpy.random.Generator",
        ),
        (dict(constant=1), TypeError, "constant must be None, True or False"),
    ],
)
def test_lstm_bad_options(kwargs, exc, message):
    with pytest.raises(exc) as err:
        call_lstm(**kwargs)
    assert message in str(err.value)


def test_lstm_checks_come_before_any_work():
    Ui = mg.tensor(np.zeros((C, D)))
    with pytest.raises(ValueError):
        call_lstm(Ui=Ui, c0=np.zeros((N, D + 1)))
    assert not Ui._ops


# --------------------------------------------------------------------------- DESIGN §8: anything a user can pass

# every kind of dtype numpy has, with what mygru does with it: the result dtype, or None (refused)
ALL_DTYPES = [
    (np.bool_, None),
    (np.int8, np.float64),
    (np.uint16, np.float64),
    (np.int64, np.float64),
    (np.uint64, np.float64),
    (np.float16, np.float32),
    (np.float32, np.float32),
    (np.float64, np.float64),
    (np.longdouble, None),
    (np.complex64, None),
    (np.clongdouble, None),
    (object, None),
    (np.str_, None),
    (np.bytes_, None),
    ("datetime64[s]", None),
    ("timedelta64[s]", None),
    ("V8", None),
]


@pytest.mark.parametrize("dtype, result", ALL_DTYPES)
@pytest.mark.parametrize("call, name", [(call_gru, "X"), (call_gru, "Wh"), (call_rnn, "s0"), (call_rnn, "b")])
def test_every_dtype_is_computed_in_or_refused_up_front(call, name, dtype, result):
    """One dtype rule for gru and rnn: a dtype mygru cannot compute in (longdouble among
    them: the kernels have no float128 sigmoid, BLAS no float128 product) is a TypeError
    naming the argument, before any work; the others, given for every argument, compute
    in their result type."""
    first = "U" if call is call_rnn else "Uz"
    U = mg.tensor(np.zeros((C, D)))
    if result is None:
        shape = {"X": (T, N, C), "Wh": (D, D), "s0": (N, D), "b": (D,)}[name]
        value = np.ones(shape).astype(dtype) if dtype != "V8" else np.zeros(shape, dtype)
        message = f"^{name} must hold real numbers of an integer, float16, float32 or float64 dtype, got dtype {re.escape(str(value.dtype))}"
        with pytest.raises(TypeError, match=message):
            call(**{name: value, first: U})
        assert not U._ops  # no work was started
    else:
        names = ["X", *(gru_args() if call is call_gru else ["U", "W", "b"]), "s0"]
        ones = {
            k: np.ones({"X": (T, N, C), "s0": (N, D)}.get(k) or {"U": (C, D), "W": (D, D), "b": (D,)}[k[0]])
            for k in names
        }
        s = call(**{k: v.astype(dtype) for k, v in ones.items()})
        assert s.dtype == result and np.all(np.isfinite(s.data))


def test_longdouble_names_the_fix():
    with pytest.raises(
        TypeError, match=r"got dtype float128: convert it first, e.g. with .astype\(numpy.float64\)"
    ):
        call_gru(bz=np.zeros(D, np.longdouble))


@pytest.mark.parametrize(
    "call, name, value",
    [
        (call_rnn, "X", [[[1.0, 2.0, 3.0, 4.0]], [[1.0]]]),
        (call_gru, "X", [[[1.0] * C] * N, [[1.0] * C]]),
        (call_gru, "bz", [1.0, [2.0, 3.0], 4.0, 5.0, 6.0]),
        (call_rnn, "b", [[1.0], [2.0, 3.0]]),
        (call_rnn, "W", [[0.0] * D] * (D - 1) + [[0.0]]),
        (call_gru, "s0", [[0.0] * D, [0.0] * (D - 1)]),
        (call_gru, "lengths", [1, [2, 3]]),
        (call_rnn, "lengths", [[1], [2, 3]]),
    ],
)
def test_ragged_lists_name_the_argument(call, name, value):
    with pytest.raises(
        ValueError, match=rf"^{name} must be an array or a nested sequence of one shape, got a ragged one"
    ):
        call(**{name: value})


@pytest.mark.parametrize("dropout", [0.0, 0.5])
@pytest.mark.parametrize("call", [call_gru, call_rnn])
def test_negative_seeds_are_refused_by_name_with_or_without_dropout(call, dropout):
    msg = "rng must be None, an int seed >= 0 or a numpy.random.Generator, got -1"
    with pytest.raises(ValueError, match=msg):
        call(rng=-1, dropout=dropout)
    with pytest.raises(ValueError, match=msg.replace("-1", "-5")):
        call(rng=np.int64(-5), dropout=dropout)
    call(rng=np.uint64(2**64 - 1), dropout=dropout)  # any seed >= 0 is numpy's


@pytest.mark.parametrize(
    "value", [["tanh"], {"tanh"}, np.array("tanh"), {"tanh": 1}, ("relu",), None, 1, "TANH"]
)
def test_any_other_nonlinearity_is_the_same_named_error(value):
    with pytest.raises(ValueError, match=r"^nonlinearity must be 'tanh' or 'relu', got "):
        call_rnn(nonlinearity=value)


def test_a_nonlinearity_that_is_a_str_subclass_is_fine():
    np.testing.assert_array_equal(
        call_rnn(nonlinearity=np.str_("relu")).data, call_rnn(nonlinearity="relu").data
    )


def test_empty_lengths_with_an_empty_batch():
    """``lengths=[]`` (float64 to numpy, but holding no value) fits N = 0."""
    X = np.zeros((T, 0, C))
    for call in (call_gru, call_rnn):
        assert call(X=X, lengths=[]).shape == (T + 1, 0, D)
        assert call(X=X, lengths=np.array([], np.int64)).shape == (T + 1, 0, D)
    with pytest.raises(
        ValueError, match=r"lengths must have shape \(N,\) = \(2,\) with N from X, got shape \(0,\)"
    ):
        call_gru(lengths=[])


def empty_dims_call(kind, X, params, s0, **kw):
    """Call ``kind`` ("gru", "gru_reset_after", "rnn_tanh", "rnn_relu", "lstm") with Tensors;
    the LSTM's two results side by side."""
    if kind == "lstm":
        return mg.concatenate(mygru.lstm(X, *params, s0=s0, **kw), axis=-1)
    if kind.startswith("gru"):
        extra = dict(reset_after=True, bhn=params[9]) if kind == "gru_reset_after" else {}
        return mygru.gru(X, *params[:9], s0=s0, **extra, **kw)
    return mygru.rnn(X, *params, s0=s0, nonlinearity=kind[4:], **kw)


def empty_dims_case(kind, C_, D_, seed=0):
    rng = np.random.default_rng(seed)
    gates = {"gru": 3, "gru_reset_after": 3, "lstm": 4}.get(kind, 1)
    shapes = [(C_, D_), (D_, D_), (D_,)] * gates + ([(D_,)] if kind == "gru_reset_after" else [])
    X = rng.normal(size=(T, N, C_))
    return X, [rng.normal(size=sh) * 0.5 for sh in shapes], rng.normal(size=(N, D_))


KINDS = ["gru", "gru_reset_after", "rnn_tanh", "rnn_relu", "lstm"]
OPTIONS = [{}, dict(bp_lim=1), dict(dropout=0.3, rng=0), dict(lengths=[3, 1])]


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_no_input_features_is_a_recurrence_driven_by_its_state_alone(kind, options):
    """C = 0: X_t U is an empty sum, 0, so the states and the gradients of W, b and s0 are
    those of C = 1 with X = 0; X and U get gradients of their own (empty) shapes."""
    X, params, s0 = empty_dims_case(kind, 0, D)
    X1, params1, _ = empty_dims_case(kind, 1, D)
    for p, p1 in zip(params, params1):
        if p.shape == p1.shape:
            p1[...] = p  # W, b (and bhn) the same; U of C = 1 is anything, X = 0 hides it
    results = []
    for X_, ps in ((X, params), (np.zeros_like(X1), params1)):
        tensors = [mg.tensor(p) for p in ps]
        Xt, s0t = mg.tensor(X_), mg.tensor(s0)
        s = empty_dims_call(kind, Xt, tensors, s0t, **options)
        s.backward(np.ones(s.shape))
        results.append((s, Xt, s0t, tensors))
    (s, Xt, s0t, tensors), (s1, _, s0t1, tensors1) = results
    np.testing.assert_allclose(s.data, s1.data, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(s0t.grad, s0t1.grad, rtol=1e-13, atol=1e-14)
    assert Xt.grad.shape == (T, N, 0)
    for p, p1 in zip(tensors, tensors1):
        if p.shape != p1.shape:  # U: (0, D)
            assert p.grad.shape == p.shape
        else:
            np.testing.assert_allclose(p.grad, p1.grad, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_no_hidden_units_gives_empty_states_and_zero_input_gradients(kind, options):
    """D = 0: states of shape (T+1, N, 0); X's gradient is zeros (nothing depends on X), the
    parameters' and s0's gradients have their own (empty) shapes."""
    X, params, s0 = empty_dims_case(kind, C, 0)
    tensors = [mg.tensor(p) for p in params]
    Xt, s0t = mg.tensor(X), mg.tensor(s0)
    s = empty_dims_call(kind, Xt, tensors, s0t, **options)
    assert s.shape == (T + 1, N, 0)
    s.backward(np.ones(s.shape))
    np.testing.assert_array_equal(Xt.grad, np.zeros((T, N, C)))
    assert s0t.grad.shape == (N, 0) and all(p.grad.shape == p.shape for p in tensors)
