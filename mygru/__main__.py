"""``python -m mygru demo | bench``: the two commands a newcomer runs."""

import os
import sys

from . import __version__
from .bench import THREAD_VARS

USAGE = """usage: python -m mygru {demo,bench} [options]

Both run with one BLAS thread (set for you), which is fastest at these sizes.

  demo   train an Elman RNN, a GRU and an LSTM side by side on the adding
         problem and draw the result (needs the `demo` extra:
         pip install -e ".[demo]")
  bench  time mygru against mygrad's gru and torch.nn.GRU (peers from the
         `bench` extra; a missing peer is reported, not fatal)

Run `python -m mygru demo --help` or `python -m mygru bench --help` for options,
`python -m mygru --version` for the version."""


def _one_blas_thread(argv):
    """Re-run this command with one BLAS thread unless that is already so.

    At these sizes more threads only contend (on a busy 2-core machine the demo ran
    5x slower), the benchmark compares single-thread peers, and the variables take
    effect only before numpy is first imported, which ``python -m mygru`` has done."""
    if all(os.environ.get(v) == "1" for v in THREAD_VARS):
        return
    env = dict(os.environ, **{v: "1" for v in THREAD_VARS})
    os.execve(sys.executable, [sys.executable, "-m", "mygru", *argv], env)


def main(argv=None):
    from_command_line = argv is None
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if argv[0] in ("-V", "--version"):
        print(f"mygru {__version__}")
        return 0
    command, rest = argv[0], argv[1:]
    if from_command_line and command in ("demo", "bench"):
        _one_blas_thread(argv)
    if command == "demo":
        from .demo import main as run
    elif command == "bench":
        from .bench import main as run
    else:
        print(f"unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    return run(rest)


if __name__ == "__main__":
    sys.exit(main())
