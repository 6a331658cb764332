"""The bench command's plumbing, never its timings: the table, --json, missing peers."""

import json
import subprocess
import sys

import pytest

from mygru import bench

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
    assert "cold_start" not in data and "memory" not in data


def test_repeat_must_be_positive(no_peers, capsys):
    with pytest.raises(SystemExit) as exc:
        bench.main(["--sizes", "tiny", "--repeat", "0"])
    assert exc.value.code == 2
    assert "--repeat must be >= 1, got 0" in capsys.readouterr().err


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
