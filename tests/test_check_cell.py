"""mygru.check_cell passes right cells and names the first wrong gradient of a wrong one."""

import numpy as np
import pytest
from test_cell_parity import LSTM, Elman

import mygru


class DroppedCarry(LSTM):
    """The LSTM with its carry path c_{t-1} <- c_t left out of step_backward."""

    def step_backward(self, p, dstate, cache):
        da, (ds_prev, dc_prev), dp = super().step_backward(p, dstate, cache)
        return da, (ds_prev, np.zeros_like(dc_prev)), dp


class ScaledWeightGrad(Elman):
    def step_backward(self, p, ds, cache):
        da, ds_prev, dp = super().step_backward(p, ds, cache)
        return da, ds_prev, {"W": 1.01 * dp["W"]}


@pytest.mark.parametrize("cell", [Elman(), LSTM()], ids=["Elman", "LSTM"])
def test_right_cells_pass(cell):
    assert mygru.check_cell(cell, 2, 3, steps=4, batch=3, seed=1) is None


@pytest.mark.parametrize(
    "cell, named",
    [
        (DroppedCarry(), r"ds_prev \(part 'c'\)"),
        (ScaledWeightGrad(), r"dp\['W'\]"),
    ],
    ids=["dropped carry", "scaled weight gradient"],
)
def test_a_wrong_backward_fails_naming_the_gradient(cell, named):
    with pytest.raises(AssertionError, match=named):
        mygru.check_cell(cell)


def test_a_driver_disagreement_is_named(monkeypatch):
    """The second half compares the operation with the plain driver: a kernel that takes
    the weights' gradients from the truncation passes too is caught there, by name."""
    from mygru._kernels.cell import CellKernel

    original = CellKernel.backward_cell

    def every_pass(self, cells, out, rows):
        return original(self, cells, self.G, rows)  # the passes write into G and add dp

    monkeypatch.setattr(CellKernel, "backward_cell", every_pass)
    with pytest.raises(AssertionError, match=r"recurrence \(bp_lim=1.*the gradient of W"):
        mygru.check_cell(Elman())


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(eps=float("inf")), ValueError, "eps must be finite"),
        (dict(eps=0.0), ValueError, "eps must be > 0"),
        (dict(atol=float("nan")), ValueError, "atol must be >= 0"),
        (dict(rtol="1e-5"), TypeError, "rtol must be a real number"),
        (dict(steps=1), ValueError, "steps must be an int >= 2"),
        (dict(batch=2.0), TypeError, "batch must be an int >= 2"),
        (
            dict(params={"U": [[np.nan] * 4] * 3, "b": np.zeros(4), "W": np.eye(4)}),
            ValueError,
            r"params\['U'\]",
        ),
    ],
)
def test_bad_arguments_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        mygru.check_cell(Elman(), **kwargs)


def test_a_class_is_not_a_cell():
    with pytest.raises(TypeError, match=r"call it, Elman\(\)"):
        mygru.check_cell(Elman)


class WritesIntoItsState(Elman):
    def step(self, p, a, s):
        s_new, cache = super().step(p, a, s)
        s *= 0.5  # the driver's S_{t-1}: one of the results
        return s_new, cache


class VectorWeight(mygru.Cell):
    """S_t = relu(A_t + u ⊙ S_{t-1}) with u (D,), without a shapes() of its own."""

    gates, weights = ("",), ("u",)

    def step(self, p, a, s):
        s_new = np.maximum(a[""] + p["u"] * s, 0)
        return s_new, (s, s_new)

    def step_backward(self, p, ds, cache):
        s, s_new = cache
        da = ds * (s_new > 0)
        return {"": da}, da * p["u"], {"u": (da * s).sum(axis=0)}


def test_a_step_that_writes_into_its_state_is_named():
    with pytest.raises(
        AssertionError, match=r"Elman.step wrote into s \(part 's'\)|WritesIntoItsState.step wrote into s"
    ):
        mygru.check_cell(WritesIntoItsState())


def test_default_shapes_that_do_not_fit_the_cell_point_to_shapes():
    with pytest.raises(
        ValueError, match=r"VectorWeight.shapes\(3, 4\) gives, \{'u': \(4, 4\)\}.*shapes\(\) method"
    ):
        mygru.check_cell(VectorWeight())
    mygru.check_cell(VectorWeight(), params={"U": np.ones((3, 4)), "b": np.zeros(4), "u": np.full(4, 0.5)})


class ForgetsTheWeightGradient(Elman):
    def step_backward(self, p, ds, cache):
        da, ds_prev, _dp = super().step_backward(p, ds, cache)
        return da, ds_prev


def test_a_backward_that_returns_the_wrong_thing_is_named_not_blamed_on_shapes():
    with pytest.raises(TypeError, match="ForgetsTheWeightGradient.step_backward must return a triple"):
        mygru.check_cell(ForgetsTheWeightGradient())


def test_recurrence_and_a_user_cell_with_no_rows_and_bp_lim():
    """N = 0 with truncation: no rows move back, and every gradient is zero."""
    import mygrad as mg

    p = {"U": mg.tensor(np.ones((3, 4))), "b": mg.tensor(np.zeros(4)), "W": mg.tensor(np.eye(4) / 2)}
    s = mygru.recurrence(Elman(), np.ones((4, 0, 3)), p, bp_lim=1)
    s.sum().backward()
    assert s.shape == (5, 0, 4) and not p["W"].grad.any() and p["U"].grad.shape == (3, 4)


def test_a_recurrence_with_no_hidden_units_is_refused_by_the_input_weights_name():
    with pytest.raises(ValueError, match=r"U must have at least one column \(D >= 1\)"):
        mygru.recurrence(
            Elman(), np.ones((2, 2, 3)), {"U": np.ones((3, 0)), "b": np.zeros(0), "W": np.ones((0, 0))}
        )
