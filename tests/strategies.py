"""Hypothesis strategies and helpers shared by the tests."""

import mygrad as mg
import numpy as np
from hypothesis import strategies as st

DTYPES = st.sampled_from([np.float32, np.float64])


@st.composite
def problems(draw, names, gates=3, max_T=8, max_size=6):
    """A random problem: sizes, dtypes, values and which inputs are constant.

    Returns a dict with X, params (name -> Tensor or array), s0 (None, array,
    constant or non-constant Tensor), grad (the upstream gradient) and compute_dtype.
    """
    T = draw(st.integers(0, max_T))
    N, C, D = (draw(st.integers(1, max_size)) for _ in range(3))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x_dtype, p_dtype, s_dtype = draw(DTYPES), draw(DTYPES), draw(DTYPES)
    shapes = {"U": (C, D), "W": (D, D), "b": (D,)}

    def value(shape, dtype, scale=1.0):
        return (scale * rng.normal(size=shape)).astype(dtype)

    X = value((T, N, C), x_dtype)
    X = mg.tensor(X, constant=draw(st.booleans())) if draw(st.booleans()) else X
    params = {}
    for name in names:
        arr = value(shapes[name[0]], p_dtype, 0.6)
        params[name] = mg.tensor(arr, constant=draw(st.booleans())) if draw(st.booleans()) else arr
    s0_kind = draw(st.sampled_from(["none", "array", "constant", "variable"]))
    s0 = None if s0_kind == "none" else value((N, D), s_dtype, 0.5)
    if s0_kind in ("constant", "variable"):
        s0 = mg.tensor(s0, constant=s0_kind == "constant")
    given = [X, *params.values()] + ([] if s0 is None else [s0])
    dtypes = [np.asarray(v.data if isinstance(v, mg.Tensor) else v).dtype for v in given]
    compute = np.result_type(*dtypes)
    grad = rng.normal(size=(T + 1, N, D))
    return dict(X=X, params=params, s0=s0, grad=grad, compute_dtype=compute, T=T, N=N, D=D)


def data(v):
    return np.asarray(v.data if isinstance(v, mg.Tensor) else v)


def is_variable(v):
    return isinstance(v, mg.Tensor) and not v.constant


def tolerances(dtype):
    """(atol, rtol) for forward values and for gradients, by compute dtype."""
    if np.dtype(dtype) == np.float64:
        return dict(atol=1e-12, rtol=1e-12), dict(atol=1e-10, rtol=1e-10)
    return dict(atol=1e-5, rtol=1e-5), dict(atol=2e-4, rtol=2e-4)


def check_against_reference(s, prob, ref):
    """Compare the output of a mygru op after backward with a reference triple."""
    forward, grads, sgrad = ref
    tol_f, tol_g = tolerances(prob["compute_dtype"])
    assert s.dtype == prob["compute_dtype"]
    np.testing.assert_allclose(s.data, forward, **tol_f)
    for name, v in [("X", prob["X"]), ("s0", prob["s0"]), *prob["params"].items()]:
        if is_variable(v):
            assert v.grad is not None, name
            assert v.grad.dtype == v.dtype, name
            # a float32 input gets its (float64-computed) gradient rounded to float32
            tol = tol_g if v.dtype == np.float64 else tolerances(np.float32)[1]
            np.testing.assert_allclose(v.grad, grads[name], err_msg=name, **tol)
        elif isinstance(v, mg.Tensor):
            assert v.grad is None, name
    if not s.constant:
        np.testing.assert_allclose(s.grad, sgrad, err_msg="s.grad", **tol_g)
