"""Sphinx configuration: ``sphinx-build -W -b html docs docs/_build/html``."""

import os
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# document the checkout being built, installed or not
sys.path.insert(0, str(ROOT))

import sphinxcontrib.katex  # noqa: E402

import mygru  # noqa: E402

project = "mygru"
author = "The mygru developers"
copyright = "The mygru developers"
release = version = mygru.__version__

extensions = [
    "myst_nb",  # the pages are MyST Markdown; the tutorials are executed MyST notebooks
    "numpydoc",  # the docstrings are numpy style
    "sphinx.ext.autodoc",
    "sphinxcontrib.katex",  # math rendered when the docs build (below)
]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "jupyter_execute"]

# $...$ and $$...$$ math, and amsmath environments (aligned, ...) in Markdown
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# Notebooks (MyST text files with a kernelspec) run at every build, and a cell that
# raises fails the build, so that no tutorial can rot. The kernel imports the mygru
# of this checkout, installed or not.
nb_execution_mode = "force"
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_timeout = 300
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
)

# Math is rendered once, at build time, by the KaTeX that sphinxcontrib-katex bundles
# (run under node), to KaTeX's HTML (boxes placed by its stylesheet, in its own fonts)
# with a MathML copy beside it for screen readers. The stylesheet and the fonts are
# KaTeX's own, of the same version, shipped in _static/katex (MIT, licence beside them),
# so the pages load no script, stylesheet or font from another host and the math looks
# the same in every browser. A formula KaTeX cannot parse fails the build instead of
# showing in red. (With prerendering the extension reads no katex_options, only its
# module defaults.)
katex_prerender = True
if shutil.which("node") is None:
    raise RuntimeError(
        "the docs render their math at build time with KaTeX, which runs under Node.js: "
        "install node (for example `apt-get install nodejs`)"
    )
sphinxcontrib.katex.KATEX_DEFAULT_OPTIONS.update(output="htmlAndMathml", throwOnError=True)
# KaTeX's HTML is only right with the stylesheet of the version that rendered it
_css_version = re.search(
    r'katex-version:after\{content:"([^"]+)"', (ROOT / "docs/_static/katex/katex.min.css").read_text()
)
if _css_version is None or _css_version.group(1) != sphinxcontrib.katex.katex_version:
    raise RuntimeError(
        f"docs/_static/katex is KaTeX {_css_version and _css_version.group(1)}, but sphinxcontrib-katex "
        f"renders with KaTeX {sphinxcontrib.katex.katex_version}: replace docs/_static/katex with "
        "that version's katex.min.css and fonts (docs/_static/katex/README.md)"
    )
# The renderer runs as a node server. Its unix-socket start connects as soon as the
# socket file exists, which can be before the server listens (ConnectionRefusedError,
# seen on a loaded 2-core machine); its loopback-TCP start retries until the server
# answers, so the build uses that one, with room for a slow start on a loaded machine.
sphinxcontrib.katex.KaTeXServer.start_server_process = sphinxcontrib.katex.KaTeXServer.start_network_socket
sphinxcontrib.katex.STARTUP_TIMEOUT = sphinxcontrib.katex.RENDER_TIMEOUT = 60.0
# the extension links katex_css_path on every page: KaTeX's stylesheet, from _static
katex_css_path = "katex/katex.min.css"

# numpydoc would otherwise list every method inherited from mygrad's Operation
numpydoc_show_class_members = False
# the signatures show names and defaults; the docstrings give each argument's type with
# its shape, which a type hint cannot (and numpy's expanded ArrayLike union would fill lines)
autodoc_typehints = "none"
autodoc_member_order = "bysource"
# signatures show defaults as written (dtype=np.float32, not <class 'numpy.float32'>)
autodoc_preserve_defaults = True
# the NamedTuple fields are annotated np.ndarray; without intersphinx (no network in
# CI) that name has no target, which only matters under -n (nitpicky)
nitpick_ignore = [("py:class", "numpy.ndarray")]

# furo: code blocks and tables scroll instead of being cut, the body is wide enough
# for the 88-column code, and every page links its previous and next page
html_theme = "furo"
html_static_path = ["_static"]
html_css_files = ["layout.css"]
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


def align_math_blocks(app, doctree):
    """A ``.. math::`` block of several lines joined by ``\\`` is aligned at its ``&``,
    as Sphinx's own MathJax renderer does it; KaTeX needs the environment spelled out."""
    from docutils import nodes

    for block in doctree.findall(nodes.math_block):
        latex = block.astext().strip()
        if not block.get("nowrap") and "\\\\" in latex and not latex.startswith("\\begin"):
            block.children = [nodes.Text(f"\\begin{{aligned}}{latex}\\end{{aligned}}")]


REMOTE = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)=[\"']?(?:https?:)?//", re.I)


def check_offline(app, exception):
    """The pages must read right with no network: a script or stylesheet (or any
    <link>) fetched from another host is a warning, so an error under -W."""
    if exception is not None or app.builder.format != "html":
        return
    from sphinx.util import logging

    for page in sorted(Path(app.outdir).rglob("*.html")):
        for match in REMOTE.finditer(page.read_text(encoding="utf-8")):
            logging.getLogger(__name__).warning(
                "%s loads %s... from the network", page.relative_to(app.outdir), match.group(0)
            )


# reST that did not render: an inline literal or a role that docutils left as text
RAW_REST = re.compile(r"``[^`\n]{0,80}``|``|:(?:func|meth|class|attr|mod|data|ref|doc|math):`")
CODE = re.compile(r"<(pre|code|script|style)\b.*?</\1>", re.S | re.I)


def check_rendered(app, exception):
    """Markup left as text on a built page (say ``x`` after a character that may not
    start an inline literal) is a warning, so an error under -W."""
    if exception is not None or app.builder.format != "html":
        return
    from sphinx.util import logging

    for page in sorted(Path(app.outdir).rglob("*.html")):
        text = re.sub(r"<[^>]+>", "", CODE.sub("", page.read_text(encoding="utf-8")))
        for match in RAW_REST.finditer(text):
            context = _squash(text[max(0, match.start() - 40) : match.end() + 40])
            logging.getLogger(__name__).warning(
                "%s shows markup as text: ...%s...", page.relative_to(app.outdir), context
            )


def setup(app):
    app.add_role("kernel", kernel_role)
    app.connect("doctree-read", align_math_blocks)
    app.connect("build-finished", check_offline)
    app.connect("build-finished", check_rendered)
