"""The work memory kept between calls (``mygru.workspace``): what it keeps, and that
reusing it changes no number and never hands out an array a caller still holds."""

import sys
import threading
import time

import mygrad as mg
import numpy as np
import pytest

import mygru
from mygru import Workspace

F64 = np.dtype(np.float64)


def test_an_array_of_the_same_size_reuses_a_returned_buffer():
    ws, taken = Workspace(limit=2**20, min_bytes=0), []
    ws.empty((4, 8), F64, taken)
    (buf,) = taken
    ws.give(taken)
    assert taken == [] and ws.held == 256
    again = []
    a = ws.empty((16, 4), np.dtype(np.float32), again)  # same 256 bytes, other shape and dtype
    assert again == [buf] and np.shares_memory(a, buf) and ws.held == 0
    assert a.shape == (16, 4) and a.dtype == np.float32 and a.flags.c_contiguous


def test_small_arrays_come_from_numpy_and_are_not_kept():
    ws, taken = Workspace(limit=2**20, min_bytes=1024), []
    a = ws.empty((10, 10), F64, taken)  # 800 bytes
    b = ws.empty((20, 10), F64, taken)  # 1600 bytes
    assert a.shape == (10, 10) and len(taken) == 1 and np.shares_memory(b, taken[0])
    ws.give(taken)
    assert ws.held == 1600


def test_the_limit_drops_the_sizes_returned_least_recently():
    ws = Workspace(limit=3000, min_bytes=0)
    first, second, third = [], [], []
    ws.empty((125,), F64, first)  # 1000 bytes
    ws.empty((250,), F64, second)  # 2000 bytes
    ws.empty((125,), F64, third)  # 1000 bytes
    dropped = second[0]
    ws.give(first)
    ws.give(second)
    assert ws.held == 3000
    ws.give(third)  # 4000 > 3000: the 2000-byte size was returned less recently than 1000
    assert ws.held == 2000
    fresh = []
    ws.empty((250,), F64, fresh)
    assert not np.shares_memory(fresh[0], dropped)
    big = []
    ws.empty((1000,), F64, big)  # 8000 bytes, more than the limit: never kept
    ws.give(big)
    assert ws.held == 2000
    ws.clear()
    assert ws.held == 0
    reused = []
    ws.empty((125,), F64, reused)
    assert ws.held == 0 and len(reused) == 1


def poison(ws):
    """Fill every kept buffer with NaN bytes: a kernel that reads work memory before
    writing it then shows NaN."""
    for bufs in ws._free.values():
        for buf in bufs:
            buf.fill(0xFF)


def run(kind, dtype, bp_lim, dropout, lengths, seed):
    T, N, C, D = 6, 4, 5, 16
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(T, N, C)).astype(dtype)
    shapes = [(C, D), (D, D), (D,)] * (3 if kind.startswith("gru") else 1)
    params = [mg.tensor((rng.normal(size=sh) / 3).astype(dtype)) for sh in shapes]
    s0 = mg.tensor(rng.normal(size=(N, D)).astype(dtype))
    Xt = mg.tensor(X)
    kw = dict(s0=s0, bp_lim=bp_lim, dropout=dropout, rng=0, lengths=lengths)
    if kind == "gru":
        s = mygru.gru(Xt, *params, **kw)
    elif kind == "gru_reset_after":
        bhn = mg.tensor(rng.normal(size=D).astype(dtype))
        params.append(bhn)
        s = mygru.gru(Xt, *params[:-1], reset_after=True, bhn=bhn, **kw)
    else:
        s = mygru.rnn(Xt, *params, nonlinearity=kind.split("_")[1], **kw)
    s.backward(rng.normal(size=s.shape))
    return [s.data, s.grad, Xt.grad, s0.grad, *(p.grad for p in params)]


@pytest.mark.parametrize("kind", ["gru", "gru_reset_after", "rnn_tanh", "rnn_relu"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "bp_lim, dropout, lengths", [(None, 0.0, None), (2, 0.3, None), (None, 0.3, [6, 2, 5, 1])]
)
def test_reused_work_memory_changes_no_number_and_no_result(
    monkeypatch, kind, dtype, bp_lim, dropout, lengths
):
    """Every work array from the workspace (min_bytes 0), filled with NaN between
    two calls on different data: the second gives the numbers it gives with a
    fresh workspace, and the arrays the first returned (states, s.grad,
    gradients) are untouched by the second."""
    monkeypatch.setattr(mygru.workspace, "min_bytes", 0)
    mygru.workspace.clear()
    expected = run(kind, dtype, bp_lim, dropout, lengths, seed=4)
    mygru.workspace.clear()
    first = run(kind, dtype, bp_lim, dropout, lengths, seed=3)
    kept = [a.copy() for a in first]
    assert mygru.workspace.held > 0
    poison(mygru.workspace)
    second = run(kind, dtype, bp_lim, dropout, lengths, seed=4)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    names = ["s", "s.grad", "X", "s0"] + [f"parameter {i}" for i in range(10)]
    for name, a, b, c, d in zip(names, first, kept, second, expected):
        np.testing.assert_array_equal(a, b, err_msg=f"{name} of the first call changed")
        np.testing.assert_allclose(c, d, err_msg=name, **tol)


def test_a_forward_that_keeps_nothing_gives_its_work_memory_back(monkeypatch):
    monkeypatch.setattr(mygru.workspace, "min_bytes", 0)
    mygru.workspace.clear()
    rng = np.random.default_rng(4)
    params = [rng.normal(size=sh) for sh in [(2, 3), (3, 3), (3,)] * 3]
    s = mygru.gru(rng.normal(size=(3, 2, 2)), *params)  # nothing to differentiate
    assert s.creator._kernel is None and mygru.workspace.held > 0


@pytest.mark.parametrize("name", ["limit", "min_bytes"])
@pytest.mark.parametrize(
    "value, error, message",
    [
        (-1, ValueError, "must be an int number of bytes >= 0, got -1"),
        (1.5, TypeError, "must be an int number of bytes >= 0, got 1.5 of type float"),
        (True, TypeError, "must be an int number of bytes >= 0, got True of type bool"),
    ],
)
def test_bad_sizes_are_refused_by_name(name, value, error, message):
    ws = Workspace()
    with pytest.raises(error, match=f"workspace.{name} {message}"):
        setattr(ws, name, value)
    with pytest.raises(error, match=f"workspace.{name} {message}"):
        Workspace(**{name: value})
    assert ws.limit == 128 * 2**20 and ws.min_bytes == 64 * 2**10  # unchanged


def test_lowering_the_limit_drops_what_no_longer_fits():
    ws, taken = Workspace(limit=2**20, min_bytes=0), []
    ws.empty((125,), F64, taken)
    ws.empty((250,), F64, taken)
    ws.give(taken)
    assert ws.held == 3000
    ws.limit = 2500
    assert ws.held == 2000  # the 1000-byte buffer was returned first, so it goes first
    ws.limit = 0
    assert ws.held == 0


# --------------------------------------------------------------------------- threads


def in_threads(work, count=4, seconds=2.0):
    """Run ``work(i, deadline)`` in ``count`` threads at once, the interpreter switching
    threads every microsecond (so that a check-then-act race shows within seconds);
    returns the exceptions the threads raised."""
    errors = []

    def target(i):
        try:
            work(i, time.perf_counter() + seconds)
        except Exception as e:  # reported by the test, with the thread that raised it
            errors.append(f"thread {i}: {type(e).__name__}: {e!r}")

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    return errors


def assert_held_is_exact(ws):
    bufs = [buf for free in ws._free.values() for buf in free]
    assert len({id(b) for b in bufs}) == len(bufs), "a buffer is kept twice"
    assert ws.held == sum(b.size for b in bufs)
    ws.limit = 0  # over-counted, this would pop from an empty workspace
    assert ws.held == 0 and not ws._free


def test_threads_taking_and_giving_at_once_share_no_buffer():
    """Four threads take buffers of the same few sizes, fill them with their own mark, read
    the mark back and give them back, again and again for 2 s: no buffer reaches two
    threads at once, nothing raises, and ``held`` is exact afterwards. (Without the lock:
    KeyError / IndexError from the check-then-pop within a second, and an over-counted
    ``held`` that made lowering the limit raise StopIteration.)"""
    ws = Workspace(limit=2**20, min_bytes=0)

    def work(i, deadline):
        mark = i + 1
        while time.perf_counter() < deadline:
            taken = []
            arrays = [ws.empty((n,), F64, taken) for n in (8, 16, 8, 24)]
            for a in arrays:
                a.fill(mark)
            for a in arrays:
                assert np.all(a == mark), "a buffer was handed to two threads"
            ws.give(taken)
            ws.limit = 2**20  # setting the limit trims under the same lock

    assert in_threads(work) == []
    assert_held_is_exact(ws)


def test_threads_calling_the_ops_at_once_get_their_own_numbers(monkeypatch):
    """gru, gru with reset_after and rnn, forward and backward, in four threads at once on
    their own data for 2 s, all going through the kinds in the same order (so that they
    ask for the same sizes at the same time): each call gives exactly the numbers it
    gives alone, and ``held`` is exact afterwards."""
    monkeypatch.setattr(mygru.workspace, "min_bytes", 0)
    mygru.workspace.clear()
    kinds = ["gru", "gru_reset_after", "rnn_tanh", "rnn_relu"]
    cases = [(None, 0.0, None), (2, 0.3, (6, 2, 5, 1))]  # (bp_lim, dropout, lengths)
    expected = {(k, c, i): run(k, np.float64, *c, seed=i) for k in kinds for c in cases for i in range(4)}

    def work(i, deadline):
        while time.perf_counter() < deadline:
            for kind in kinds:
                for case in cases:
                    for got, want in zip(run(kind, np.float64, *case, seed=i), expected[kind, case, i]):
                        np.testing.assert_array_equal(got, want)

    assert in_threads(work) == []
    assert_held_is_exact(mygru.workspace)


def test_large_work_arrays_and_states_start_on_a_cache_line():
    """Arrays of 64 KiB and more start on a 64-byte boundary (numpy's own start 16 bytes
    into one), kept buffers and fresh ones alike, and so do the states a kernel returns;
    a kept buffer comes back aligned."""
    from mygru._kernels.workspace import aligned_empty

    ws, taken = Workspace(limit=2**24, min_bytes=0), []
    for shape in [(1, 16384), (100, 333), (51, 32, 128)]:
        a = ws.empty(shape, np.dtype(np.float32), taken)
        assert a.ctypes.data % 64 == 0 and a.shape == shape and a.flags.c_contiguous
    ws.give(taken)
    assert ws.empty((100, 333), np.dtype(np.float32), taken).ctypes.data % 64 == 0
    assert aligned_empty((51, 32, 128), F64).ctypes.data % 64 == 0
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 32, 8))
    params = [rng.normal(size=s) for s in [(8, 128), (128, 128), (128,)] * 3]
    s = mygru.gru(X, *params)
    assert s.data.ctypes.data % 64 == 0


@pytest.mark.parametrize("T, min_bytes", [(50, 64 * 2**10), (1, 0)])
def test_a_dropped_work_array_is_freed_not_kept(T, min_bytes):
    """``drop`` takes a work array's buffer out of what the kernel gives back, for a large
    buffer (an aligned view of the array that owns it) and a small one (numpy's own)."""
    from mygru._kernels import LSTM

    saved = mygru.workspace.min_bytes
    mygru.workspace.min_bytes = min_bytes
    try:
        rng = np.random.default_rng(0)
        N, C, D = 32, 4, 128
        params = {
            k + g: rng.normal(size=s) for g in "oifg" for k, s in (("U", (C, D)), ("W", (D, D)), ("b", (D,)))
        }
        k = LSTM.build(rng.normal(size=(T, N, C)), params, (np.zeros((N, D)),) * 2)
        Tc = k.Tc
        before = len(k._taken)
        assert any(np.shares_memory(Tc, buf) for buf in k._taken)
        k.drop("Tc")
        assert len(k._taken) == before - 1 and not any(np.shares_memory(Tc, buf) for buf in k._taken)
        k.release()
    finally:
        mygru.workspace.min_bytes = saved
