"""Check the sdist and the wheel in DIST against the files git tracks.

- the sdist holds the package (every tracked module and ``py.typed``), every tracked file
  of the tests and of the docs sources, and the files the build and the tests read
  (pyproject.toml, setup.cfg, README.md, ...);
- the wheel holds the package and nothing else but its ``.dist-info`` (a tool's
  configuration inside mygru/, such as mygru/plain/ruff.toml, is not the package's).

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


def package_files():
    return {f for f in tracked("mygru") if f.endswith(".py")} | {"mygru/py.typed"}


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
    package = package_files()
    want = package | tracked("tests", "docs", *TOP)
    if missing := sorted(want - in_sdist):
        print(f"{sdist.name} lacks tracked files: {missing}")
        failed = True

    with zipfile.ZipFile(wheel) as whl:
        in_wheel = set(whl.namelist())
    extra = sorted(n for n in in_wheel - package if ".dist-info/" not in n)
    if missing := sorted(package - in_wheel):
        print(f"{wheel.name} lacks package files: {missing}")
        failed = True
    if extra:
        print(f"{wheel.name} holds files that are not the package's: {extra}")
        failed = True

    if failed:
        sys.exit(1)
    tests = sum(n.startswith("tests/") for n in in_sdist)
    docs = sum(n.startswith("docs/") and not n.endswith("/") for n in in_sdist)
    print(
        f"{sdist.name}: {len(in_sdist)} entries, the package ({len(package)} files, "
        f"py.typed included), tests/ ({tests}) and docs/ ({docs}); {wheel.name}: the package, nothing else"
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
