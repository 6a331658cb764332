"""``python -m mygru``: usage, an unknown command, the dispatch to bench, and the re-run
with one BLAS thread (checked without replacing the test process)."""

import pytest

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
