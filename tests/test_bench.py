"""The bench command's plumbing, never its timings: the table, --json, missing peers."""

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest

from mygru import bench

# the lowest-dependencies CI job runs these tests without torch: its rows are then absent
HAS_TORCH = importlib.util.find_spec("torch") is not None
LENGTH_CASES = ["mygru.nn.GRU"] + ["torch.nn.GRU packed"] * HAS_TORCH + ["mygru.nn.GRU without lengths"]

MISSING = {"mygrad": "missing (hidden by the test)", "torch": "missing (hidden by the test)"}


@pytest.fixture
def no_peers(monkeypatch):
    monkeypatch.setattr(bench, "peers", lambda: dict(MISSING))


def test_table_and_json_with_the_peers_missing(no_peers, tmp_path, capsys):
    path = tmp_path / "bench.json"
    args = ["--sizes", "tiny", "--dtype", "float32", "--repeat", "1", "--no-cold", "--json", str(path)]
    assert bench.main(args) == 0
    text = capsys.readouterr().out
    for name, reason in MISSING.items():
        assert f"{name}: {reason}" in text
    rows = [line.split() for line in text.splitlines() if line.startswith("tiny")]
    assert [r[:3] for r in rows] == [["tiny", "float32", "fwd"], ["tiny", "float32", "fwd+bwd"]]
    for r in rows:
        assert float(r[3]) > 0 and r[4:] == ["—"] * 4  # mygru's ms; no peer time, no ratio
    data = json.loads(path.read_text())
    assert [(r["size"], r["dtype"], r["pass_"]) for r in data["rows"]] == [
        ("tiny", "float32", "fwd"),
        ("tiny", "float32", "fwd+bwd"),
    ]
    for r, line in zip(data["rows"], rows):
        assert r["seconds"]["mygrad"] is None and r["seconds"]["torch"] is None
        assert r["seconds"]["mygru"] * 1e3 == pytest.approx(float(line[3]), abs=1e-3)
    assert "cold_start" not in data and "memory" not in data and "cell_rows" not in data
    # the LSTM's rows: mygru's time, no torch time, no ratio
    lstm = [line.split() for line in text.splitlines() if line.startswith("lstm ")]
    assert [r[:4] for r in lstm] == [
        ["lstm", "tiny", "float32", "fwd"],
        ["lstm", "tiny", "float32", "fwd+bwd"],
    ]
    for r, row in zip(lstm, data["lstm_rows"]):
        assert float(r[4]) > 0 and r[5:] == ["—"] * 2
        assert (row["size"], row["dtype"], row["seconds"]["torch"]) == ("tiny", "float32", None)
        assert row["seconds"]["mygru"] * 1e3 == pytest.approx(float(r[4]), abs=1e-3)


def test_repeat_must_be_positive(no_peers, capsys):
    with pytest.raises(SystemExit) as exc:
        bench.main(["--sizes", "tiny", "--repeat", "0"])
    assert exc.value.code == 2
    assert "argument --repeat: must be an int > 0, got '0'" in capsys.readouterr().err


def test_peak_memory_covers_what_backward_returns():
    """The peak is measured around forward+backward, so it includes at least the cache
    and the results that make up the reference amount."""
    X, params, grad = bench.make_case("small", "float64")
    peak, needed, _held = bench.peak_memory(X, params, grad)
    T, N, _C = X.shape
    D = params[2].shape[0]
    assert needed == 8 * (2 * (T + 1) * N * D + 3 * T * N * D + sum(p.size for p in params))
    assert peak >= needed


def test_peak_memory_counts_the_workspace(monkeypatch):
    """The work memory the workspace keeps is allocated within the measured call (the
    workspace is emptied first), and what it keeps afterwards is reported."""
    import mygru

    monkeypatch.setattr(mygru.workspace, "min_bytes", 0)
    X, params, grad = bench.make_case("small", "float64")
    mygru.gru(X, *params)  # leaves work memory in the workspace
    peak, needed, held = bench.peak_memory(X, params, grad)
    T, N, _C = X.shape
    D = params[2].shape[0]
    assert held == mygru.workspace.held and held >= 8 * 3 * T * N * D  # at least H and [Z | R]
    assert peak >= needed + held - 8 * 3 * T * N * D  # the cache's arrays are the workspace's


def test_cold_start_child_can_hide_numba():
    """The 'mygru without numba' cold start runs mygru in a child where numba cannot be imported."""
    code = (
        bench.HIDE_NUMBA
        + "\nimport mygru\ntry:\n    import numba\nexcept ImportError:\n    print('numba hidden')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "numba hidden"


def test_a_peer_that_writes_into_its_gradient_gets_a_copy():
    """mygrad's gru updates the dL/ds it is given in place; the bench's shared gradient
    must stay as it was, or each timed call would see a larger one (and at last inf)."""

    class Writes:
        def backward(self, g):
            g *= 2

    X, params, grad = bench.make_case("tiny", np.float32)
    before = grad.copy()
    _fwd, fwd_bwd = bench.runners("mygrad", lambda X, *p, bp_lim=None: Writes(), X, params, grad)
    fwd_bwd()
    fwd_bwd()
    np.testing.assert_array_equal(grad, before)


@pytest.mark.parametrize("kind", ["GRU", "LSTM"])
def test_lengths_row_times_the_three_cases_on_lengths_from_a_quarter_to_all_of_T(kind):
    cases, lengths = bench.lengths_cases("small", np.float32, kind=kind)
    T, N, _C, _D = bench.SIZES["small"]
    assert list(cases) == [name.replace("GRU", kind) for name in LENGTH_CASES]
    assert lengths.shape == (N,) and lengths.min() >= T // 4 and lengths.max() <= T
    row = bench.lengths_row("small", np.float32, repeat=1, kind=kind)
    assert set(row["seconds"]) == set(cases) and all(s > 0 for s in row["seconds"].values())
    assert row["fraction"] == lengths.sum() / (T * N)  # the same seeded lengths


def test_end_to_end_reports_each_fresh_run_and_its_split():
    names = ("mygru without numba",) + ("torch",) * HAS_TORCH
    runs = bench.end_to_end("tiny", steps=2, names=names, repeat=1)
    assert list(runs) == list(names)
    for run in runs.values():
        assert set(run) == {"imports", "first_step", "other_steps", "wall", "runs"}
        assert run["runs"] == 1 and run["wall"] > run["imports"] + run["first_step"] + run["other_steps"] > 0


def test_end_to_end_reports_a_failed_child(monkeypatch):
    monkeypatch.setitem(bench.END_TO_END, "broken", ("raise SystemExit(1)", "", ""))
    assert bench.end_to_end("tiny", steps=1, names=("broken",), repeat=2) == {"broken": "failed"}


def test_default_threads_child_runs_unpinned():
    env = bench._child_env(pin_threads=False)
    assert not set(bench.THREAD_VARS) & set(env)
    assert all(bench._child_env()[v] == "1" for v in bench.THREAD_VARS)
    found = bench.default_threads("tiny", ["float32"], repeat=1, names=())
    assert set(found) == {"cpus", "float32"} and set(found["float32"]) == {"mygru"}
    assert found["float32"]["mygru"] > 0


def test_new_rows_in_the_table_and_json(no_peers, monkeypatch, tmp_path, capsys):
    """The lengths, default-threads and end-to-end rows reach the output and --json (the
    fresh-process measurements replaced by fixed results), and their flags skip them."""
    monkeypatch.setitem(bench.SIZES, "course", (6, 2, 3, 4))  # the rows' structure, fast
    run = dict(imports=0.5, first_step=0.25, other_steps=1.0, wall=2.0, runs=3)
    monkeypatch.setattr(
        bench,
        "end_to_end",
        lambda size, steps=300: {"mygru": run, "mygrad": "failed", "torch": dict(run, wall=4.0)},
    )
    threads = {"cpus": 2, "torch_threads": 2, "float32": {"mygru": 0.002, "torch": 0.006}}
    monkeypatch.setattr(bench, "default_threads", lambda size, dtypes, repeat: threads)
    path = tmp_path / "bench.json"
    common = ["--sizes", "course", "--dtype", "float32", "--repeat", "1", "--no-cold", "--json", str(path)]
    assert bench.main(common) == 0
    text = capsys.readouterr().out
    assert "lengths in T/4..T" in text and "vs without lengths" in text
    assert (
        "end to end, course float32, fresh process, 300 SGD steps" in text and "torch 4.00 s (2.00x)" in text
    )
    assert "mygrad failed" in text
    assert "default threads (2 CPUs; torch 2 threads" in text and "torch 6.000 (—)" in text
    data = json.loads(path.read_text())
    lengths = data["lengths"]["float32"]
    assert set(lengths["seconds"]) == set(LENGTH_CASES)
    assert set(data["lengths_lstm"]["float32"]["seconds"]) == {k.replace("GRU", "LSTM") for k in LENGTH_CASES}
    assert "mygru.nn.LSTM without lengths" in text
    # the user-cell rows: the GRU against mygru.gru, the cells with no torch loop
    cells = [
        line.split()
        for line in text.splitlines()
        if line.split()[:2] in (["gru", "course"], ["gru_zoneout", "course"], ["mgu", "course"])
    ]
    assert len(cells) == 6 and all(float(c[4]) > 0 for c in cells)
    assert all(float(c[5]) > 0 and c[6].endswith("x") for c in cells[:4])
    assert all(c[5:] == ["—", "—"] for c in cells[4:])
    assert [(r["cell"], r["dtype"], r["pass_"]) for r in data["cell_rows"]] == [
        (cell, "float32", pass_)
        for cell in ("gru", "gru_zoneout", "mgu", "layernorm_lstm")
        for pass_ in ("fwd", "fwd+bwd")
    ]
    assert [set(r["seconds"]) for r in data["cell_rows"][::2]] == [
        {"user cell", "mygru.gru"},
        {"zoneout", "mygru.gru"},
        {"mygru", "torch loop"},
        {"mygru", "torch loop"},
    ]
    assert all(r["seconds"]["torch loop"] is None for r in data["cell_rows"][4:])
    assert lengths["size"] == "course" and 0.25 <= lengths["fraction"] <= 1
    assert data["end_to_end"] == {
        "course": {"mygru": run, "mygrad": "failed", "torch": dict(run, wall=4.0), "steps": 300}
    }
    assert data["default_threads"]["float32"] == threads["float32"]
    assert set(data["default_threads"]["one_thread"]["float32"]) == {"mygru"}
    assert bench.main(common + ["--no-end-to-end", "--no-threads"]) == 0
    data = json.loads(path.read_text())
    assert "end_to_end" not in data and "default_threads" not in data and "lengths" in data


def test_lstm_runners_run_on_the_bench_case():
    """Both LSTM runners run on the same case (torch's only when torch is installed)."""
    X, params, grad = bench.make_lstm_case("tiny", "float64")
    assert len(params) == 12 and grad.shape == (X.shape[0] + 1, X.shape[1], params[2].shape[0])
    for fn in bench.lstm_runners("mygru", None, X, params, grad):
        fn()
    torch = pytest.importorskip("torch")
    for fn in bench.lstm_runners("torch", torch, X, params, grad):
        fn()


@pytest.mark.parametrize("kind", ["GRU", "LSTM"])
def test_module_rows_run(kind):
    """The module rows' closures run, mygru's and (when installed) torch's."""
    from mygru.nn._bench import module_bench_case

    cases = module_bench_case(T=4, N=3, C=2, H=3, dtype="float64", kind=kind)
    assert f"mygru.nn.{kind}" in cases
    for fwd, fwd_bwd in cases.values():
        fwd(), fwd_bwd()
    if importlib.util.find_spec("torch") is not None:
        assert f"torch.nn.{kind}" in cases


def _grads(tensors, gates, names):
    """mygru's parameter gradients under a torch module's parameter names: "U", "b", "W"
    the gates' blocks side by side, any other its own."""
    out = {}
    for name in names:
        if name in tensors:
            out[name] = tensors[name].grad
        else:
            out[name] = np.concatenate([tensors[f"{name}{g}"].grad for g in gates], axis=-1)
    return out


@pytest.mark.parametrize("cell", ["mgu", "layernorm_lstm"])
def test_the_torch_loop_of_a_cell_gives_the_same_states_and_gradients(cell):
    """In float64, the torch module of a cell row and mygru.cells' cell on mygru.recurrence
    give the same states and the same gradient of every parameter, from the same dL/ds."""
    import mygrad as mg

    import mygru
    from mygru import _bench_cells as bc
    from mygru.cells import MGU, LayerNormLSTM

    torch = pytest.importorskip("torch")
    if cell == "mgu":
        X, params, grad = bc.named_case("small", "float64", "fh")
        ours, theirs, gates = MGU(), bc.torch_mgu(torch, params), "fh"
    else:
        X, params, grad = bc.layernorm_lstm_case("small", "float64")
        ours, theirs, gates = LayerNormLSTM(), bc.torch_layernorm_lstm(torch, params), "ifgo"
    tensors = {k: mg.tensor(v) for k, v in params.items()}
    s = mygru.recurrence(ours, X, tensors)
    s = s[0] if isinstance(s, tuple) else s
    s.backward(grad)
    st = theirs(torch.from_numpy(X))
    st.backward(torch.from_numpy(grad))
    np.testing.assert_allclose(st.detach().numpy(), s.data, rtol=1e-12, atol=1e-12)
    named = dict(theirs.named_parameters())
    mine = _grads(tensors, gates, named)
    assert len(named) >= 4 and sum(p.numel() for p in named.values()) == sum(v.size for v in params.values())
    for name, p in named.items():
        np.testing.assert_allclose(p.grad.numpy(), mine[name], rtol=1e-10, atol=1e-10, err_msg=name)


def test_the_gru_as_a_user_cell_equals_mygru_gru():
    """The GRU row's user cell computes what mygru.gru does (float64): states and gradients."""
    import mygrad as mg

    import mygru
    from mygru import _bench_cells as bc

    X, params, grad = bc.named_case("small", "float64", "zrh")
    for mine, peer in zip(params.values(), bench.make_case("small", "float64")[1], strict=True):
        np.testing.assert_array_equal(mine, peer)  # the GRU rows' case
    ours = {k: mg.tensor(v) for k, v in params.items()}
    builtin = {k: mg.tensor(v) for k, v in params.items()}
    s = mygru.recurrence(bc.PlainGRU(), X, ours)
    s.backward(grad)
    ref = mygru.gru(X, *builtin.values())
    ref.backward(grad)
    np.testing.assert_allclose(s.data, ref.data, rtol=1e-12, atol=1e-12)
    for name in params:
        np.testing.assert_allclose(ours[name].grad, builtin[name].grad, rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("with_torch", [False, True])
def test_cell_cases_run(with_torch):
    """Each cell row's closures run at the tiny size; the torch loops only with torch."""
    from mygru import _bench_cells as bc

    torch = pytest.importorskip("torch") if with_torch else None
    for make, names in (
        (bc.gru_cases, ["user cell", "mygru.gru"]),
        (bc.zoneout_cases, ["zoneout", "mygru.gru"]),
        (bc.mgu_cases, ["mygru"] + ["torch loop"] * with_torch),
        (bc.layernorm_lstm_cases, ["mygru"] + ["torch loop"] * with_torch),
    ):
        cases = make("tiny", "float32", torch)
        assert list(cases) == names
        for fwd, fwd_bwd in cases.values():
            fwd(), fwd_bwd()


def test_cell_table_with_torch(monkeypatch, capsys):
    """With torch, every cell row has both times and a ratio (printed and returned)."""
    from mygru import _bench_cells as bc

    torch = pytest.importorskip("torch")
    monkeypatch.setitem(bench.SIZES, "course", (4, 2, 3, 4))
    rows = bc.cell_table({"torch": torch}, "course", ["float64"], repeat=1)
    assert [(r["cell"], r["pass_"]) for r in rows] == [
        (cell, pass_)
        for cell in ("gru", "gru_zoneout", "mgu", "layernorm_lstm")
        for pass_ in ("fwd", "fwd+bwd")
    ]
    assert all(t > 0 for r in rows for t in r["seconds"].values())
    lines = [
        line.split()
        for line in capsys.readouterr().out.splitlines()
        if line.split()[:1] in (["mgu"], ["gru"], ["gru_zoneout"])
    ]
    assert len(lines) == 6 and all(line[-1].endswith("x") and line[-1] != "—" for line in lines)
