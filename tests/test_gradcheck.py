"""``gradcheck`` passes on mygru's ops, catches wrong gradients and names them."""

import mygrad as mg
import numpy as np
import pytest
from mygrad.operation_base import Operation

import mygru
from mygru.gradcheck import GradcheckError, GradcheckReport, gradcheck

T, N, C, D = 3, 2, 3, 2


def tensors(*shapes, seed=0, scale=0.7):
    rng = np.random.default_rng(seed)
    return [mg.tensor(rng.normal(size=shape) * scale) for shape in shapes]


def row(table, name):
    """The table line of one input, split into cells."""
    return next(line.split() for line in table.splitlines() if line.split()[:1] == [name])


GRU_NAMES = ["X", "s0", "Uz", "Wz", "bz", "Ur", "Wr", "br", "Uh", "Wh", "bh"]


def gru_inputs(extra=0):
    return tensors((T, N, C), (N, D), *[(C, D), (D, D), (D,)] * 3, *[(D,)] * extra)


@pytest.mark.parametrize("kwargs", [{}, {"dropout": 0.4, "rng": 3}, {"bp_lim": T}])
def test_passes_on_gru_with_s0_as_a_tensor(kwargs):
    def f(X, s0, Uz, Wz, bz, Ur, Wr, br, Uh, Wh, bh):
        return mygru.gru(X, Uz, Wz, bz, Ur, Wr, br, Uh, Wh, bh, s0=s0, **kwargs)

    report = gradcheck(f, *gru_inputs())
    assert isinstance(report, GradcheckReport) and report.ok
    assert [c.name for c in report.inputs] == GRU_NAMES
    assert all(c.ok for c in report.inputs)  # every input was checked, none skipped


def test_passes_on_gru_reset_after_with_bhn():
    def f(X, s0, Uz, Wz, bz, Ur, Wr, br, Uh, Wh, bh, bhn):
        return mygru.gru(
            X, Uz, Wz, bz, Ur, Wr, br, Uh, Wh, bh, s0=s0, reset_after=True, bhn=bhn, dropout=0.3, rng=3
        )

    report = gradcheck(f, *gru_inputs(extra=1))
    assert [c.name for c in report.inputs] == GRU_NAMES + ["bhn"]
    assert all(c.ok for c in report.inputs)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_passes_on_rnn(nonlinearity):
    def f(X, s0, U, W, b):
        return mygru.rnn(X, U, W, b, s0=s0, nonlinearity=nonlinearity, dropout=0.25, rng=3)

    # a positive bias keeps relu's pre-activations away from its kink at 0
    X, s0, U, W, b = tensors((T, N, C), (N, D), (C, D), (D, D), (D,), scale=0.3)
    report = gradcheck(f, X, s0, U, W, b + 2.0)
    assert all(c.ok for c in report.inputs)


def test_truncated_bptt_is_not_the_true_gradient():
    def f(X, s0, Uz, Wz, bz, Ur, Wr, br, Uh, Wh, bh):
        return mygru.gru(X, Uz, Wz, bz, Ur, Wr, br, Uh, Wh, bh, s0=s0, bp_lim=1)

    with pytest.raises(GradcheckError) as info:
        gradcheck(f, *gru_inputs())
    assert not info.value.report.inputs[GRU_NAMES.index("Wz")].ok


class WrongMultiply(Operation):
    """a * b with the gradient for b 1% too large."""

    def __call__(self, a, b):
        self.variables = (a, b)
        return a.data * b.data

    def backward_var(self, grad, index, **kwargs):
        a, b = self.variables
        return grad * b.data if index == 0 else 1.01 * grad * a.data


class ReversedGradient(Operation):
    """The identity, with the gradient handed back in reverse order."""

    def __call__(self, x):
        self.variables = (x,)
        return x.data.copy()

    def backward_var(self, grad, index, **kwargs):
        return grad[::-1]


def test_raises_on_a_wrong_gradient_and_names_the_input():
    a, b = tensors((2, 3), (2, 3))
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda a, b: mg.Tensor._op(WrongMultiply, a, b), a, b)
    assert isinstance(info.value, AssertionError)
    message = str(info.value)
    assert message.startswith("gradient check failed for b\n")
    assert row(message, "a")[-1] == "ok"
    assert row(message, "b")[-1] == "FAILED"
    checks = {c.name: c for c in info.value.report.inputs}
    assert checks["b"].max_rel_err == pytest.approx(0.01, rel=1e-3)


def test_a_plain_sum_would_miss_this_error_the_random_weighting_does_not():
    # the gradient of sum(x) is all ones, which reads the same in reverse
    x = tensors((5,))[0]
    with pytest.raises(GradcheckError, match="failed for x"):
        gradcheck(lambda x: mg.Tensor._op(ReversedGradient, x), x)


def test_catches_a_graph_broken_by_leaving_mygrad():
    x = tensors((3,))[0]
    with pytest.raises(GradcheckError, match="failed for x"):
        gradcheck(lambda x: mg.tensor(np.exp(x.data)), x)


def test_skips_constant_inputs_and_says_so():
    X, *params = gru_inputs()[:1] + gru_inputs()[2:]
    X_const = mg.tensor(X, constant=True)
    report = gradcheck(lambda X, *p: mygru.gru(X, *p), X_const, *params)
    assert report.inputs[0].ok is None and report.inputs[0].max_abs_err is None
    assert row(str(report), "X")[-2:] == ["skipped", "(constant)"]
    assert [c.name for c in report.inputs[1:]] == [f"p[{k}]" for k in range(9)]
    assert all(c.ok for c in report.inputs[1:])


def test_an_input_f_ignores_has_gradient_zero():
    x, y = tensors((3,), (2,))
    report = gradcheck(lambda x, y: 2 * x, x, y)
    assert report.inputs[1].ok and report.inputs[1].max_abs_err == 0.0


class _NoSignature:
    """A callable whose signature cannot be read (inspect.signature raises TypeError)."""

    __signature__ = "not a Signature"

    def __call__(self, a, b):
        return a * b


def test_names_inputs_by_position_without_a_signature():
    report = gradcheck(_NoSignature(), mg.tensor(1.0), mg.tensor(2.0))
    assert [c.name for c in report.inputs] == ["input 0", "input 1"]


def test_inputs_are_not_written_to_and_float32_is_checked_in_float64():
    x = mg.tensor(np.linspace(-1, 1, 4, dtype=np.float32))
    w = mg.tensor([1.0, 2.0, 3.0, 4.0], constant=True)
    before = x.data.copy()
    # in float32, a step of 1e-6 would be lost to rounding and this would fail
    report = gradcheck(lambda x, w: mg.sin(x) * w, x, w, atol=1e-8, rtol=1e-7)
    assert report.ok
    assert x.dtype == np.float32 and np.array_equal(x.data, before) and x.grad is None
    assert w.grad is None


@pytest.mark.parametrize(
    "args, kwargs, error, match",
    [
        (("not callable", mg.tensor(1.0)), {}, TypeError, "f must be callable"),
        ((mg.sin,), {}, ValueError, "at least one input tensor"),
        ((mg.multiply, mg.tensor(1.0), np.ones(1)), {}, TypeError, r"tensors\[1\] must be a mygrad Tensor"),
        ((mg.sin, mg.tensor(1.0, constant=True)), {}, ValueError, "every input tensor is constant"),
        ((mg.sin, mg.tensor(1.0)), {"eps": 0}, ValueError, "eps must be > 0, got 0"),
        ((mg.sin, mg.tensor(1.0)), {"eps": -1e-6}, ValueError, "eps must be > 0"),
        ((mg.sin, mg.tensor(1.0)), {"eps": float("nan")}, ValueError, "eps must be > 0"),
        ((mg.sin, mg.tensor(1.0)), {"eps": "1e-6"}, TypeError, "eps must be a real number"),
        ((mg.sin, mg.tensor(1.0)), {"eps": True}, TypeError, "eps must be a real number"),
        ((mg.sin, mg.tensor(1.0)), {"atol": -1.0}, ValueError, "atol must be >= 0"),
        ((mg.sin, mg.tensor(1.0)), {"rtol": -1.0}, ValueError, "rtol must be >= 0"),
        ((lambda x: 1.0, mg.tensor(1.0)), {}, TypeError, "f must return a mygrad Tensor, got float"),
    ],
)
def test_bad_arguments_name_the_argument(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        gradcheck(*args, **kwargs)


@pytest.mark.parametrize("name", ["eps", "atol", "rtol"])
@pytest.mark.parametrize("value", [float("inf"), -float("inf"), np.float64("inf")])
def test_a_non_finite_step_or_tolerance_is_refused(name, value):
    with pytest.raises(ValueError, match=f"{name} must be .*finite, got -?inf"):
        gradcheck(mg.sin, mg.tensor(1.0), **{name: value})


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_an_input_holding_nan_or_inf_is_named_instead_of_blaming_the_backward(bad):
    x, w = mg.tensor([0.5, 1.0, 2.0]), mg.tensor([1.0, 2.0, 3.0])
    w.data[1] = bad
    calls = []

    def f(x, w):
        calls.append(1)
        return mg.tanh(x) * w

    with pytest.raises(ValueError, match=rf"w holds {bad} at \(1,\): gradcheck needs finite inputs"):
        gradcheck(f, x, w)
    assert calls == []  # refused before any work
