"""Check the sdist and the wheel in DIST against the files git tracks.

- the sdist holds every tracked file of the package, the tests and the docs sources, and
  the files the build and the tests read (pyproject.toml, setup.cfg, README.md, ...);
- the wheel holds every tracked file of the package (``py.typed`` included) and nothing
  but the package and its ``.dist-info``.

Usage: ``python .ci/check_dists.py DIST`` from the repository root.
"""

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

TOP = ["pyproject.toml", "setup.cfg", "README.md", "LICENSE", "CONTRIBUTING.md", "MANIFEST.in"]


def tracked(*paths):
    out = subprocess.run(["git", "ls-files", "--", *paths], check=True, capture_output=True, text=True)
    return set(out.stdout.split())


def only(dist, pattern):
    found = sorted(dist.glob(pattern))
    if len(found) != 1:
        sys.exit(f"expected one {pattern} in {dist}, found {[f.name for f in found]}")
    return found[0]


def main(dist):
    dist = Path(dist)
    sdist, wheel = only(dist, "*.tar.gz"), only(dist, "*.whl")
    failed = False

    with tarfile.open(sdist) as tar:  # members are "mygru-X.Y.Z/path"
        in_sdist = {name.partition("/")[2] for name in tar.getnames()}
    want = tracked("mygru", "tests", "docs", *TOP)
    if missing := sorted(want - in_sdist):
        print(f"{sdist.name} lacks tracked files: {missing}")
        failed = True

    with zipfile.ZipFile(wheel) as whl:
        in_wheel = set(whl.namelist())
    package = tracked("mygru")
    extra = sorted(n for n in in_wheel - package if ".dist-info/" not in n)
    if missing := sorted(package - in_wheel):
        print(f"{wheel.name} lacks package files: {missing}")
        failed = True
    if extra:
        print(f"{wheel.name} holds files that are not the package's: {extra}")
        failed = True
    if "mygru/py.typed" not in in_wheel:
        print(f"{wheel.name} has no mygru/py.typed")
        failed = True

    if failed:
        sys.exit(1)
    tests = sum(n.startswith("tests/") for n in in_sdist)
    docs = sum(n.startswith("docs/") and not n.endswith("/") for n in in_sdist)
    print(
        f"{sdist.name}: {len(in_sdist)} entries, every tracked file of mygru/ ({len(package)}), "
        f"tests/ ({tests}) and docs/ ({docs}); {wheel.name}: the package and py.typed, nothing else"
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
