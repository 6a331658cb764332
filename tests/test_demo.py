"""``python -m mygru demo``: the data, the run, the picture, the arguments."""

import sys

import mygrad as mg
import numpy as np
import pytest

pytest.importorskip("mynn")
pytest.importorskip("tqdm")
pytest.importorskip("matplotlib")

from reference import gru_cell

import mygru
from mygru.demo import (
    MODELS,
    SMOOTH,
    adding_problem,
    init_params,
    main,
    predict,
    running_mean,
    update_gate,
    verdict,
)

TINY = ["--steps", "3", "--seq-len", "6", "--batch", "4", "--hidden", "4"]


def test_adding_problem_marks_two_steps_and_sums_their_values():
    T, N = 9, 500
    X, marked, y = adding_problem(T, N, np.random.default_rng(1))
    assert X.shape == (T, N, 2) and marked.shape == (2, N) and y.shape == (N,)
    values, markers = X[..., 0], X[..., 1]
    assert np.all((values >= 0) & (values <= 1))
    assert set(np.unique(markers)) == {0.0, 1.0}
    assert np.all(markers.sum(axis=0) == 2)
    assert np.all(markers[: T // 2].sum(axis=0) == 1)  # one in each half
    np.testing.assert_allclose(y, (values * markers).sum(axis=0))
    assert np.all(markers[marked, np.arange(N)] == 1)


def test_update_gate_is_the_gate_of_the_unrolled_gru():
    T, D = 5, 3
    rng = np.random.default_rng(2)
    params = [mg.tensor(rng.normal(size=shape)) for shape in [(2, D), (D, D), (D,)] * 3]
    x = rng.random((T, 1, 2))
    p = dict(zip(["Uz", "Wz", "bz", "Ur", "Wr", "br", "Uh", "Wh", "bh"], params))
    s, expected = mg.zeros((1, D)), []
    for t in range(T):
        expected.append(mg.nnet.sigmoid(x[t] @ p["Uz"] + s @ p["Wz"] + p["bz"]).data[0])
        s = gru_cell(x[t], s, p)
    np.testing.assert_allclose(update_gate(params, x), np.array(expected), rtol=1e-12)


def test_the_three_models_read_out_their_last_hidden_state():
    """Each model's prediction is S_T v + c with S from its own op; the LSTM's S is the
    first of mygru.lstm's two results (h, not the cell state c)."""
    assert list(MODELS) == ["GRU", "LSTM", "Elman RNN"]
    T, N, D = 5, 3, 4
    rng = np.random.default_rng(4)
    X = rng.random((T, N, 2))
    for name, (cell, gates) in MODELS.items():
        params = init_params(rng, gates, D)
        *weights, v, c = params
        op = {"GRU": mygru.gru, "LSTM": mygru.lstm, "Elman RNN": mygru.rnn}[name]
        S = op(X, *weights)
        S = S[0] if name == "LSTM" else S
        np.testing.assert_allclose(predict(cell, params, X).data, S.data[-1] @ v.data + c.data, rtol=1e-12)
        assert len(weights) == 3 * gates


def test_running_mean_averages_the_last_steps():
    losses = np.random.default_rng(3).random(2 * SMOOTH + 3)
    expected = [losses[max(0, i + 1 - SMOOTH) : i + 1].mean() for i in range(len(losses))]
    np.testing.assert_allclose(running_mean(losses), expected)


def test_verdict_follows_the_mse_relative_to_the_baseline():
    assert verdict(0.009, 0.1) == "learned the task"
    assert verdict(0.05, 0.1) == "partly learned the task"
    assert verdict(0.095, 0.1) == "did not learn the task"


def test_demo_writes_a_png_and_prints_a_verdict(tmp_path, capsys):
    out = tmp_path / "demo.png"
    assert main(TINY + ["--out", str(out)]) == 0
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000
    text = capsys.readouterr().out
    assert "verdict: the GRU " in text and "; the LSTM " in text and "; the Elman RNN " in text
    # the ranking is computed from the three test errors printed above it
    mse = {name: float(text.split(f"\n  {name:<10} ")[1].split()[0]) for name in MODELS}
    assert f"lowest test MSE first: {' < '.join(sorted(mse, key=mse.get))};" in text
    # the baseline is measured on the test set: Var(u1 + u2) = 1/6 for u1, u2 ~ U(0, 1)
    baseline = float(text.split("scores ")[1].split(")")[0])
    assert baseline == pytest.approx(1 / 6, abs=0.03)


@pytest.mark.parametrize("name, magic", [("demo.pdf", b"%PDF-"), ("demo.SVG", b"<?xml")])
def test_demo_writes_the_format_of_the_suffix(name, magic, tmp_path, capsys):
    out = tmp_path / name
    assert main(TINY + ["--out", str(out)]) == 0
    assert out.read_bytes().startswith(magic)


def test_demo_is_deterministic_given_the_seed(tmp_path, capsys):
    def run(seed):
        assert main(TINY + ["--seed", str(seed), "--out", str(tmp_path / f"{seed}.png")]) == 0
        return capsys.readouterr().out.split("test MSE")[1].split("picture:")[0]

    assert run(5) == run(5)
    assert run(5) != run(6)


@pytest.mark.parametrize(
    "args, name",
    [
        (["--steps", "0"], "--steps"),
        (["--steps", "many"], "--steps"),
        (["--seq-len", "1"], "--seq-len"),
        (["--batch", "0"], "--batch"),
        (["--hidden", "-3"], "--hidden"),
        (["--lr", "0"], "--lr"),
        (["--seed", "-1"], "--seed"),
        (["--out", "no/such/dir/demo.png"], "--out"),
    ],
)
def test_bad_arguments_are_refused_naming_the_argument(args, name, capsys):
    assert main(args) == 2
    assert f"argument {name}:" in capsys.readouterr().err


def test_help_exits_cleanly(capsys):
    assert main(["--help"]) == 0
    assert "--seq-len" in capsys.readouterr().out


def test_a_missing_dependency_is_named(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # what an uninstalled package looks like
    assert main(TINY) == 1
    err = capsys.readouterr().err
    assert "tqdm" in err and "mygru[demo]" in err


def test_python_m_mygru_dispatches_to_the_demo(tmp_path, capsys):
    from mygru.__main__ import main as cli

    assert cli(["demo"] + TINY + ["--out", str(tmp_path / "cli.png")]) == 0
    assert "verdict:" in capsys.readouterr().out
