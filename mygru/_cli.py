"""What ``python -m mygru demo`` and ``bench`` share: an argument parser whose errors are
one line, and argument types that check a value completely before any work begins."""

import argparse
import math
import os

__all__ = ["Parser", "output_file", "positive"]


class Parser(argparse.ArgumentParser):
    """argparse's parser, with an error as one line (``prog: error: ...``) and exit code 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def positive(kind):
    """An argparse type: a finite number of type ``kind`` (int or float) that is > 0."""
    spelled = "an int > 0" if kind is int else "a finite number > 0"

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {spelled}, got {text!r}") from None
        if not (value > 0 and math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"must be {spelled}, got {text!r}")
        return value

    return parse


def output_file(suffixes=None):
    """An argparse type: the path of a file this command can write, checked by opening
    it for appending (a file that did not exist is removed again); with ``suffixes``,
    the name must end in one of them (the format follows the suffix)."""

    def parse(path):
        if os.path.isdir(path):
            raise argparse.ArgumentTypeError(f"{path!r} is a directory; give a file name")
        if suffixes is not None and os.path.splitext(path)[1].lower() not in suffixes:
            raise argparse.ArgumentTypeError(
                f"cannot write {path!r}: the name must end in {', '.join(suffixes[:-1])} or {suffixes[-1]}, "
                "the format to write"
            )
        if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise argparse.ArgumentTypeError(f"the directory of {path!r} does not exist")
        existed = os.path.exists(path)
        try:
            with open(path, "ab"):
                pass
        except OSError as e:
            raise argparse.ArgumentTypeError(f"cannot write {path!r} ({e.strerror})") from None
        if not existed:
            os.remove(path)
        return path

    return parse
