"""A user's cell on the shared drivers gives the built-in cells' numbers: the Elman cell
and the LSTM written as :class:`mygru.Cell` subclasses in plain numpy, through
:func:`mygru.recurrence`, against :func:`mygru.rnn` and :func:`mygru.lstm` (forward, every
gradient, ``.grad`` of every state part), with full and truncated BPTT, lengths and
dropout (both ops draw their masks in the same order from the same seed)."""

from typing import ClassVar

import mygrad as mg
import numpy as np
import pytest

import mygru


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


class Elman(mygru.Cell):
    """S_t = tanh(A_t + S_{t-1} W)."""

    gates, weights = ("",), ("W",)

    def step(self, p, a, s):
        s_new = np.tanh(a[""] + s @ p["W"])
        return s_new, (s, s_new)

    def step_backward(self, p, ds, cache):
        s, s_new = cache
        da = ds * (1 - s_new**2)
        return {"": da}, da @ p["W"].T, {"W": s.T @ da}


class LSTM(mygru.Cell):
    """torch's LSTM cell, the state (S, c) in two parts."""

    gates, weights, state = ("i", "f", "g", "o"), ("Wi", "Wf", "Wg", "Wo"), ("s", "c")

    def step(self, p, a, state):
        s, c = state
        i, f, o = (sigmoid(a[k] + s @ p["W" + k]) for k in "ifo")
        g = np.tanh(a["g"] + s @ p["Wg"])
        c_new = f * c + i * g
        tanh_c = np.tanh(c_new)
        return (o * tanh_c, c_new), (s, c, i, f, g, o, tanh_c)

    def step_backward(self, p, dstate, cache):
        ds, dc = dstate
        s, c, i, f, g, o, tanh_c = cache
        dc = dc + ds * o * (1 - tanh_c**2)
        da = {"i": dc * g * i * (1 - i), "f": dc * c * f * (1 - f), "g": dc * i * (1 - g**2)}
        da["o"] = ds * tanh_c * o * (1 - o)
        ds_prev = sum(da[k] @ p["W" + k].T for k in "ifgo")
        return da, (ds_prev, dc * f), {"W" + k: s.T @ da[k] for k in "ifgo"}


T, N, C, D = 7, 5, 3, 4
CASES = [
    (bp_lim, lengths, dropout)
    for bp_lim in (None, 0, 2, 10)
    for lengths in (None, [7, 3, 5, 1, 7])
    for dropout in (0.0, 0.4)
]


def tensors(rng, shapes):
    return {k: mg.tensor(0.5 * rng.normal(size=shape)) for k, shape in shapes.items()}


def copies(params):
    return {k: mg.tensor(v.data) for k, v in params.items()}


@pytest.mark.parametrize("bp_lim, lengths, dropout", CASES)
def test_elman_user_cell_equals_rnn(bp_lim, lengths, dropout):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(T, N, C))
    p = tensors(rng, {"U": (C, D), "W": (D, D), "b": (D,), "s0": (N, D)})
    s = mygru.rnn(X, p["U"], p["W"], p["b"], p["s0"], bp_lim, dropout, lengths=lengths, rng=3)
    grad = rng.normal(size=s.shape)
    (s * grad).sum().backward()
    q = copies(p)
    s0 = q.pop("s0")
    s2 = mygru.recurrence(Elman(), X, q, s0, bp_lim, dropout, lengths=lengths, rng=3)
    masks = s2.creator.dropout_masks
    if dropout:
        assert set(masks) == {"U", "W"} and masks["W"].shape == (D, D)
    else:
        assert masks is None
    (s2 * grad).sum().backward()
    np.testing.assert_allclose(s2.data, s.data, atol=1e-12)
    np.testing.assert_allclose(s2.grad, s.grad, atol=1e-10)
    for name in ("U", "W", "b"):
        np.testing.assert_allclose(q[name].grad, p[name].grad, atol=1e-10, err_msg=name)
    np.testing.assert_allclose(s0.grad, p["s0"].grad, atol=1e-10)


@pytest.mark.parametrize("bp_lim, lengths, dropout", CASES)
def test_lstm_user_cell_with_two_parts_equals_lstm(bp_lim, lengths, dropout):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(T, N, C))
    shapes = {k + g: {"U": (C, D), "W": (D, D), "b": (D,)}[k] for g in "ifgo" for k in "UWb"}
    p = tensors(rng, {**shapes, "s0": (N, D), "c0": (N, D)})
    args = [p[k + g] for g in "ifgo" for k in "UWb"]
    s, c = mygru.lstm(X, *args, p["s0"], p["c0"], bp_lim, dropout, lengths=lengths, rng=3)
    gs, gc = rng.normal(size=s.shape), rng.normal(size=c.shape)
    ((s * gs).sum() + (c * gc).sum()).backward()
    q = copies(p)
    s0, c0 = q.pop("s0"), q.pop("c0")
    s2, c2 = mygru.recurrence(LSTM(), X, q, (s0, c0), bp_lim, dropout, lengths=lengths, rng=3)
    ((s2 * gs).sum() + (c2 * gc).sum()).backward()
    for got, want in [(s2.data, s.data), (c2.data, c.data), (s2.grad, s.grad), (c2.grad, c.grad)]:
        np.testing.assert_allclose(got, want, atol=1e-10)
    for name in shapes:
        np.testing.assert_allclose(q[name].grad, p[name].grad, atol=1e-10, err_msg=name)
    np.testing.assert_allclose(s0.grad, p["s0"].grad, atol=1e-10)
    np.testing.assert_allclose(c0.grad, p["c0"].grad, atol=1e-10)


class Counted(Elman):
    """The Elman cell, recording the rows of every step it runs."""

    rows: ClassVar[list] = []

    def step(self, p, a, s):
        Counted.rows.append(len(s))
        return super().step(p, a, s)


def test_a_cell_class_is_tried_once_per_setting_not_per_instance():
    """recurrence tries a cell's step on a few rows of its own before the first call with
    a class, its attributes, dtype and sizes; a fresh instance of the same is not tried
    again (modules and loops may make one per call)."""
    X, p = np.ones((3, 2, 2)), {"U": np.ones((2, 5)), "b": np.zeros(5), "W": np.eye(5) * 0.5}
    Counted.rows.clear()
    mygru.recurrence(Counted(), X, p)
    assert Counted.rows == [6, 2, 2, 2]  # the try on 1 + D rows, then the three steps
    Counted.rows.clear()
    mygru.recurrence(Counted(), X, p)
    assert Counted.rows == [2, 2, 2]
    cell = Counted()
    cell.scale = 2.0  # another setting: tried again
    Counted.rows.clear()
    mygru.recurrence(cell, X, p)
    assert Counted.rows == [6, 2, 2, 2]


def test_a_forward_with_no_backward_to_follow_keeps_no_caches(monkeypatch):
    """Under mg.no_autodiff (or with every input constant) no backward can come: the
    steps' caches are not stored."""
    from mygru._kernels.cell import CellKernel

    kept = []
    forward = CellKernel.forward

    def spy(self):
        S = forward(self)
        kept.append(len(self._cache))
        return S

    monkeypatch.setattr(CellKernel, "forward", spy)
    X, p = np.ones((3, 2, 2)), {"U": mg.tensor(np.ones((2, 5))), "b": mg.zeros(5), "W": mg.tensor(np.eye(5))}
    with mg.no_autodiff:
        mygru.recurrence(Elman(), X, p)
    mygru.recurrence(Elman(), X, {k: v.data for k, v in p.items()})  # every input constant
    mygru.recurrence(Elman(), X, p).sum().backward()
    assert kept == [0, 0, 2]  # the Elman cell's cache holds two arrays
