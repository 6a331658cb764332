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
        (dict(eps=float("inf")), ValueError, "eps must be a finite number > 0"),
        (dict(eps=0.0), ValueError, "eps must be a finite number > 0"),
        (dict(atol=float("nan")), ValueError, "atol must be a finite number > 0"),
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
