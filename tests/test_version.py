"""The version is stated once, as ``mygru.__version__``; the package metadata and the
docs take it from there."""

import ast
import importlib.metadata
from pathlib import Path

import pytest

import mygru

ROOT = Path(__file__).resolve().parents[1]


def test_the_version_is_a_release_number():
    parts = mygru.__version__.split(".")
    assert len(parts) == 3 and all(p.isdigit() for p in parts)


def test_pyproject_reads_the_version_from_the_package():
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in config["project"]
    assert "version" in config["project"]["dynamic"]
    assert config["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "mygru.__version__"}


def test_the_installed_metadata_has_the_same_version():
    # an installation, not the mygru.egg-info that a build leaves in the checkout
    installed = [
        dist
        for dist in importlib.metadata.distributions(name="mygru")
        if Path(dist.locate_file("")).resolve() != ROOT
    ]
    if not installed:
        pytest.skip("mygru is not installed (run from a source checkout)")
    assert installed[0].version == mygru.__version__


def test_the_docs_show_the_same_version():
    # read, not run: conf.py imports the docs' extensions and sets process-wide state
    tree = ast.parse((ROOT / "docs" / "conf.py").read_text(encoding="utf-8"))
    sources = {
        target.id: ast.unparse(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert sources["release"] == sources["version"] == "mygru.__version__"
