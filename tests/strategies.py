"""Hypothesis strategies and helpers shared by the tests."""

import mygrad as mg
import numpy as np
from hypothesis import strategies as st

import mygru

DTYPES = st.sampled_from([np.float32, np.float64])


@st.composite
def problems(draw, names, max_T=8, max_size=6, lstm=False):
    """A random problem: sizes, dtypes, values and which inputs are constant.

    Returns a dict with X, params (name -> Tensor or array), s0 (None, array,
    constant or non-constant Tensor), grad (the upstream gradient of every state)
    and compute_dtype. With ``lstm``, also c0 (drawn like s0), maybe the projection
    params["Wp"] (D, P), and P; the states are then [S | c], so grad is
    (T+1, N, P + D).
    """
    T = draw(st.integers(0, max_T))
    N, C, D = (draw(st.integers(1, max_size)) for _ in range(3))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x_dtype, p_dtype, s_dtype = draw(DTYPES), draw(DTYPES), draw(DTYPES)
    P = draw(st.integers(1, max_size)) if lstm and draw(st.booleans()) else D
    shapes = {"U": (C, D), "W": (P, D), "b": (D,)}

    def value(shape, dtype, scale=1.0):
        return (scale * rng.normal(size=shape)).astype(dtype)

    def maybe_tensor(arr):
        return mg.tensor(arr, constant=draw(st.booleans())) if draw(st.booleans()) else arr

    def state(shape):
        kind = draw(st.sampled_from(["none", "array", "constant", "variable"]))
        v = None if kind == "none" else value(shape, s_dtype, 0.5)
        return mg.tensor(v, constant=kind == "constant") if kind in ("constant", "variable") else v

    X = maybe_tensor(value((T, N, C), x_dtype))
    params = {name: maybe_tensor(value(shapes[name[0]], p_dtype, 0.6)) for name in names}
    if P != D or (lstm and draw(st.booleans())):  # the projection, also with P = D
        params["Wp"] = maybe_tensor(value((D, P), p_dtype, 0.6))
    s0 = state((N, P))
    c0 = state((N, D)) if lstm else None
    given = [v for v in (X, *params.values(), s0, c0) if v is not None]
    dtypes = [np.asarray(v.data if isinstance(v, mg.Tensor) else v).dtype for v in given]
    compute = np.result_type(*dtypes)
    grad = rng.normal(size=(T + 1, N, P + D if lstm else D))
    return dict(
        X=X, params=params, s0=s0, c0=c0, grad=grad, compute_dtype=compute, T=T, N=N, D=D, P=P, lstm=lstm
    )


def data(v):
    return np.asarray(v.data if isinstance(v, mg.Tensor) else v)


def initial_state(prob):
    """The reference's initial state: s0, or for the LSTM the pair [s0 | c0]; zeros
    where not given."""
    N, D = prob["N"], prob["D"]
    P = prob.get("P", D)
    s0 = np.zeros((N, P)) if prob["s0"] is None else data(prob["s0"])
    if not prob.get("lstm"):
        return s0
    c0 = np.zeros((N, D)) if prob["c0"] is None else data(prob["c0"])
    return np.concatenate([s0, c0], axis=1)


def call_lstm(prob, **kwargs):
    """mygru.lstm on a problem drawn with ``lstm=True``: returns (s, c)."""
    params = dict(prob["params"])
    Wp = params.pop("Wp", None)
    return mygru.lstm(prob["X"], *params.values(), s0=prob["s0"], c0=prob["c0"], Wp=Wp, **kwargs)


def lstm_backward(s, c, grad, loss="both"):
    """Backward of L = Σ g_s ⊙ s + Σ g_c ⊙ c, ``grad`` = [g_s | g_c]: on s only, c only
    or both; the part of ``grad`` the loss does not use is zeroed in place."""
    P = s.shape[-1]
    if loss == "s":
        grad[..., P:] = 0
        s.backward(grad[..., :P])
    elif loss == "c":
        grad[..., :P] = 0
        c.backward(grad[..., P:])
    else:
        ((s * grad[..., :P]).sum() + (c * grad[..., P:]).sum()).backward()


def is_variable(v):
    return isinstance(v, mg.Tensor) and not v.constant


def tolerances(dtype):
    """(atol, rtol) for forward values and for gradients, by compute dtype."""
    if np.dtype(dtype) == np.float64:
        return dict(atol=1e-12, rtol=1e-12), dict(atol=1e-10, rtol=1e-10)
    return dict(atol=1e-5, rtol=1e-5), dict(atol=2e-4, rtol=2e-4)


def check_against_reference(s, prob, ref):
    """Compare the output of a mygru op after backward with a reference triple.

    ``s`` is the op's output, or the LSTM's pair (s, c), whose reference states are
    [S | c] side by side (see ``reference.lstm_cell``)."""
    forward, grads, sgrad = ref
    tol_f, tol_g = tolerances(prob["compute_dtype"])
    inputs = [("X", prob["X"]), ("s0", prob["s0"]), *prob["params"].items()]
    outputs = [(s, forward, sgrad, "s.grad")]
    if isinstance(s, tuple):
        (s, c), P = s, s[0].shape[-1]
        outputs = [
            (s, forward[..., :P], sgrad[..., :P], "s.grad"),
            (c, forward[..., P:], sgrad[..., P:], "c.grad"),
        ]
        grads = dict(grads, s0=grads["s0"][:, :P], c0=grads["s0"][:, P:])
        inputs.append(("c0", prob["c0"]))
    for out, values, _, _ in outputs:
        assert out.dtype == prob["compute_dtype"]
        np.testing.assert_allclose(out.data, values, **tol_f)
    for name, v in inputs:
        if is_variable(v):
            assert v.grad is not None, name
            assert v.grad.dtype == v.dtype, name
            # a float32 input gets its (float64-computed) gradient rounded to float32
            tol = tol_g if v.dtype == np.float64 else tolerances(np.float32)[1]
            np.testing.assert_allclose(v.grad, grads[name], err_msg=name, **tol)
        elif isinstance(v, mg.Tensor):
            assert v.grad is None, name
    for out, _, total, label in outputs:
        if not out.constant:
            np.testing.assert_allclose(out.grad, total, err_msg=label, **tol_g)
