"""Sphinx configuration: ``sphinx-build -W -b html docs docs/_build/html``."""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# document the checkout being built, installed or not
sys.path.insert(0, str(ROOT))

import mygru  # noqa: E402

project = "mygru"
author = "The mygru developers"
copyright = "The mygru developers"
release = version = mygru.__version__

extensions = [
    "myst_parser",  # the pages are Markdown
    "numpydoc",  # the docstrings are numpy style
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "make_figures.py", "Thumbs.db", ".DS_Store"]

# $...$ and $$...$$ math, and amsmath environments (aligned, ...) in Markdown
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# numpydoc would otherwise list every method inherited from mygrad's Operation
numpydoc_show_class_members = False
# the signatures show names and defaults; the docstrings give each argument's type with
# its shape, which a type hint cannot (and numpy's expanded ArrayLike union would fill lines)
autodoc_typehints = "none"
autodoc_member_order = "bysource"
# the NamedTuple fields are annotated np.ndarray; without intersphinx (no network in
# CI) that name has no target, which only matters under -n (nitpicky)
nitpick_ignore = [("py:class", "numpy.ndarray")]

html_theme = "alabaster"
html_static_path = ["_static"]
html_title = f"mygru {release}"


def _squash(text):
    return re.sub(r"\s+", " ", text).strip()


def kernel_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """{kernel}`_kernels/gru.py: some code`: shows ``some code`` and checks that it
    still occurs (whitespace aside) in ``mygru/_kernels/gru.py``, so that the prose
    that ties equations to code lines cannot silently go stale: under -W a quote
    that is no longer in the file fails the build."""
    from docutils import nodes

    path, sep, fragment = text.partition(": ")
    source = ROOT / "mygru" / path
    messages = []
    if not sep or not source.is_file():
        messages.append(inliner.reporter.warning(f"kernel role: no file mygru/{path}", line=lineno))
    else:
        # re-read the page when the file changes, also in incremental builds
        inliner.document.settings.env.note_dependency(str(source))
    if not messages and _squash(fragment) not in _squash(source.read_text(encoding="utf-8")):
        messages.append(
            inliner.reporter.warning(
                f"kernel role: {fragment!r} no longer occurs in mygru/{path}", line=lineno
            )
        )
    return [nodes.literal(rawtext, fragment)], messages


def setup(app):
    app.add_role("kernel", kernel_role)
