"""``python -m mygru``: usage, an unknown command, the dispatch to bench, and the re-run
with one BLAS thread (checked without replacing the test process)."""

import os
import re

import pytest

import mygru
from mygru import __main__ as cli
from mygru.bench import THREAD_VARS


@pytest.mark.parametrize("argv", [[], ["-h"], ["--help"]])
def test_usage(argv, capsys):
    assert cli.main(argv) == 0
    assert capsys.readouterr().out.startswith("usage: python -m mygru {demo,bench}")


def test_an_unknown_command_is_named_with_the_usage(capsys):
    assert cli.main(["train"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'train'" in err and "usage:" in err


def test_bench_is_dispatched(capsys):
    with pytest.raises(SystemExit) as exc:  # argparse's --help exits 0 after printing
        cli.main(["bench", "--help"])
    assert exc.value.code == 0
    assert "python -m mygru bench" in capsys.readouterr().out


def test_a_command_line_run_reruns_itself_with_one_blas_thread(monkeypatch):
    calls = []
    monkeypatch.setattr(cli.os, "execve", lambda *args: calls.append(args))
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    cli._one_blas_thread(["bench", "--sizes", "tiny"])
    ((path, argv, env),) = calls
    assert argv[1:] == ["-m", "mygru", "bench", "--sizes", "tiny"] and path == argv[0]
    assert all(env[v] == "1" for v in THREAD_VARS)

    calls.clear()
    for v in THREAD_VARS:
        monkeypatch.setenv(v, "1")
    cli._one_blas_thread(["bench"])
    assert calls == []  # already one thread: no re-run


# --------------------------------------------------------------------------- arguments before work


@pytest.fixture
def no_work(monkeypatch):
    """Any start of the demo's training or the benchmark's timing fails the test."""

    def work(*args, **kwargs):
        raise AssertionError("the command started its work before refusing an argument")

    from mygru import bench, demo

    monkeypatch.setattr(demo, "train", work)
    monkeypatch.setattr(bench, "peers", work)


def _refused(command, argv, capsys):
    """Runs ``python -m mygru command argv``; returns its one-line error (exit code 2)."""
    try:
        code = cli.main([command, *argv])
    except SystemExit as stop:
        code = stop.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize("flag", ["--out"])
def test_demo_refuses_an_output_that_is_a_directory(flag, tmp_path, no_work, capsys):
    assert "is a directory" in _refused("demo", [flag, str(tmp_path)], capsys)


def test_demo_refuses_an_output_it_cannot_write(tmp_path, no_work, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert "argument --out:" in _refused("demo", ["--out", str(blocker / "demo.png")], capsys)
    if os.path.isdir("/sys"):  # a place that refuses writing, even to root
        err = _refused("demo", ["--out", "/sys/mygru_demo.png"], capsys)
        assert "argument --out: cannot write '/sys/mygru_demo.png'" in err
    assert not (tmp_path / "file" / "demo.png").exists()


def test_demo_refuses_a_format_it_cannot_write(tmp_path, no_work, capsys):
    for name in ("demo.gif", "demo.pngx", "demo"):
        err = _refused("demo", ["--out", str(tmp_path / name)], capsys)
        assert "argument --out:" in err and ".png" in err and ".pdf" in err
    assert list(tmp_path.iterdir()) == []  # nothing created on the way


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e999"])
def test_demo_refuses_a_non_finite_learning_rate(value, no_work, capsys):
    err = _refused("demo", [f"--lr={value}"], capsys)
    assert "argument --lr:" in err and "finite" in err


@pytest.mark.parametrize("flag", ["--steps", "--seq-len", "--batch", "--hidden"])
@pytest.mark.parametrize("value", ["inf", "nan", "1e3", "2.5"])
def test_demo_refuses_a_size_that_is_no_whole_number(flag, value, no_work, capsys):
    err = _refused("demo", [flag, value], capsys)
    assert f"argument {flag}:" in err and "an int > 0" in err


def test_bench_refuses_a_json_path_it_cannot_write(tmp_path, no_work, capsys):
    err = _refused("bench", ["--json", str(tmp_path / "missing" / "x.json")], capsys)
    assert "argument --json:" in err and "does not exist" in err
    assert "is a directory" in _refused("bench", ["--json", str(tmp_path)], capsys)


def test_bench_help_is_plain_text_with_help_for_every_option(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "`" not in text
    blocks = {}  # option -> its invocation and help, the lines from "  -..." to the next one
    for line in text.split("options:")[1].splitlines():
        if line.startswith("  -"):
            option = line.split()[0].rstrip(",")
            blocks[option] = line.strip()
        elif line.startswith("   ") and blocks:
            blocks[option] += "  " + line.strip()
    assert {"--sizes", "--dtype", "--repeat", "--json", "--no-cold", "--no-end-to-end"} <= set(blocks)
    for option, block in blocks.items():
        assert len(re.split(r"\s{2,}", block)) >= 2, f"{option} has no help: {block!r}"


@pytest.mark.parametrize("argv", [["--version"], ["-V"]])
def test_version(argv, capsys):
    assert cli.main(argv) == 0
    assert capsys.readouterr().out.strip() == f"mygru {mygru.__version__}"
