"""The version is stated once, as ``mygru.__version__``; the package metadata and the
docs take it from there."""

import importlib.metadata
import runpy
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
    try:
        installed = importlib.metadata.version("mygru")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("mygru is not installed (run from a source checkout)")
    assert installed == mygru.__version__


def test_the_docs_show_the_same_version():
    pytest.importorskip("sphinx")  # docs/conf.py is Sphinx's configuration
    conf = runpy.run_path(str(ROOT / "docs" / "conf.py"))
    assert conf["release"] == conf["version"] == mygru.__version__
