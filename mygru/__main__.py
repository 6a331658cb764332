"""``python -m mygru demo | bench``: the two commands a newcomer runs."""

import sys

USAGE = """usage: python -m mygru {demo,bench} [options]

  demo   train a GRU and an Elman RNN side by side on the adding problem and
         draw the result (needs the `demo` extra: pip install -e ".[demo]")
  bench  time mygru against mygrad's gru and torch.nn.GRU (peers from the
         `bench` extra; a missing peer is reported, not fatal)

Run `python -m mygru demo --help` or `python -m mygru bench --help` for options."""


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    command, rest = argv[0], argv[1:]
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
