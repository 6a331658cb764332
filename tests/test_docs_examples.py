"""Every ```python block in README.md and docs/ runs, and every value it shows is checked.

The convention (for whoever writes a page):

- The ```python blocks of one file run in order, in one namespace, as a reader would type
  them into one session; each file starts afresh, in an empty temporary directory.
  Blocks in another language (```bash, ```text, no language) and MyST directives
  (```{literalinclude}, ```{figure}, ...) are not run; ```{code-block} python is, and so
  is a python block nested inside a directive. ```{code-cell} belongs to the executed
  tutorials, which the docs build runs.
- A line that only shows a value, an expression statement whose value is not None,
  must say what the value is, in a comment that starts with ``# ->`` (unless the value
  is an object the session already has a name for, as ``m.eval()`` returns ``m``)::

      s.shape  # -> (21, 8, 16)
      float(loss.data)  # -> 0.7312
      s0.grad.any()  # -> False
      s.dtype  # -> float32

  What follows ``# ->`` is the value as printed. When it is a Python literal (numbers,
  tuples, lists, True/False/None, strings) the value is compared with it: numbers at
  the precision shown (``0.7312`` accepts anything that rounds to it, ``5.7e-25``
  anything in [5.65e-25, 5.75e-25], an integer only itself), arrays and tensors shape
  by shape and element by element at the finest precision any element shows (as numpy
  prints them: in ``[0, -0.2934, 1]`` the 0 means 0.0000), True and False only a bool,
  everything else with ``==``. Otherwise ``str(value)``
  must equal the text. Anything to say about the value goes on its own comment line,
  not after the ``# ->``.
- A ``# ->`` comment anywhere but after an expression is an error, and so is an
  expression whose value is shown nowhere: a value that is not worth checking is worth
  a name (``norms = ...``).

A block that needs torch is skipped when torch is not installed (CI has it).
"""

import ast
import io
import re
import tokenize
from pathlib import Path

import mygrad as mg
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
FILES = [ROOT / "README.md"] + [f for f in sorted((ROOT / "docs").rglob("*.md")) if "_build" not in f.parts]
PYTHON = {"python", "py", "python3"}
SHOWN = "# ->"
NUMBER = re.compile(r"[-+]?(?:\d+(\.\d*)?|\.\d+)(?:[eE]([-+]?\d+))?")
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


def fenced_blocks(lines, first=1):
    """(line number of the first code line, info string, code) for every fenced block,
    also those nested in a directive's fence (a longer fence around a shorter one)."""
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening or (opening["fence"][0] == "`" and "`" in opening["info"]):
            i += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        closing = re.compile(rf"^ *{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        j = i + 1
        while j < len(lines) and not closing.match(lines[j]):
            j += 1
        body = [line[indent:] if not line[:indent].strip() else line.lstrip() for line in lines[i + 1 : j]]
        info = opening["info"].strip()
        yield first + i + 1, info, "\n".join(body)
        if info.startswith("{"):
            yield from fenced_blocks(body, first + i + 1)
        i = j + 1


def is_python(info):
    words = info.split()
    if not words:
        return False
    if words[0] in ("{code-block}", "{code}", "{sourcecode}"):
        return len(words) > 1 and words[1] in PYTHON
    return words[0] in PYTHON


def python_blocks(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    return [(line, code) for line, info, code in fenced_blocks(lines) if is_python(info)]


def shown_values(code):
    """Line (1-based, within the block) -> the text after ``# ->`` on that line."""
    shown = {}
    for tok in tokenize.generate_tokens(io.StringIO(code).readline):
        if tok.type == tokenize.COMMENT and tok.string.startswith(SHOWN):
            shown[tok.start[0]] = tok.string[len(SHOWN) :].strip()
    return shown


def _numbers_only(literal):
    """Whether a literal is a number or a nested tuple/list of numbers (bools aside)."""
    if isinstance(literal, (tuple, list)):
        return all(_numbers_only(v) for v in literal)
    return isinstance(literal, (int, float)) and not isinstance(literal, bool)


def half_unit(token):
    """Half a unit in the last place of a number as written: '0.7312' -> 5e-5,
    '5.7e-25' -> 5e-27, '16' -> 0.5."""
    m = NUMBER.fullmatch(token)
    decimals = len(m[1]) - 1 if m[1] else 0
    exponent = int(m[2]) if m[2] else 0
    return 0.5 * 10.0 ** (exponent - decimals)


def _matches(value, expected, tolerance):
    """Whether ``value`` (numbers, sequences, arrays) has the structure and, within
    ``tolerance``, the numbers of the literal ``expected``."""
    if isinstance(value, mg.Tensor):
        value = value.data
    if isinstance(expected, (tuple, list)):
        if isinstance(value, np.ndarray):
            value = list(value) if value.ndim else None
        if not isinstance(value, (tuple, list)) or len(value) != len(expected):
            return False
        return all(_matches(v, e, tolerance) for v, e in zip(value, expected))
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return False
    # a hair over half a unit, so that the rounded value always passes
    return abs(float(value) - expected) <= tolerance * (1 + 1e-9)


def check_value(value, text):
    """None if ``value`` is what ``text`` shows, else why not."""
    try:
        expected = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None if str(value) == text else f"str(value) is {str(value)!r}, the page shows {text!r}"
    if _numbers_only(expected):
        # as numpy prints an array: every number at the finest precision shown ("0"
        # among "0.2934"s means 0.0000)
        tolerance = min((half_unit(m.group()) for m in NUMBER.finditer(text)), default=0.0)
        if _matches(value, expected, tolerance):
            return None
    elif (not isinstance(expected, bool) or isinstance(value, (bool, np.bool_))) and value == expected:
        return None
    return f"the value is {printed(value)}, the page shows {text!r}"


def printed(value):
    """How to write ``value`` after ``# ->``: arrays as a one-line nested list."""
    if isinstance(value, mg.Tensor):
        value = value.data
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return np.array2string(value, separator=", ", precision=4, max_line_width=10**6)
    return repr(value)


def run_blocks(name, blocks):
    """Runs the blocks of the file ``name`` in one namespace; a failure names the
    file and its line."""
    namespace = {"__name__": "__docs__"}
    for first, code in blocks:
        tree = ast.parse(code, filename=name)
        ast.increment_lineno(tree, first - 1)
        shown = {line + first - 1: text for line, text in shown_values(code).items()}
        for stmt in tree.body:
            marked = [line for line in shown if stmt.lineno <= line <= stmt.end_lineno]
            if marked and (not isinstance(stmt, ast.Expr) or marked != [stmt.end_lineno]):
                pytest.fail(f"{name}:{marked[0]}: a `# ->` comment must end an expression's last line")
            if not isinstance(stmt, ast.Expr):
                exec(compile(ast.Module([stmt], type_ignores=[]), name, "exec"), namespace)
                continue
            value = eval(compile(ast.Expression(stmt.value), name, "eval"), namespace)
            source = ast.unparse(stmt.value)
            text = shown.get(stmt.end_lineno)
            if text is None:
                # a call that returns what it was called on (torch's m.eval()) shows nothing new
                if value is not None and not any(value is v for v in namespace.values()):
                    pytest.fail(
                        f"{name}:{stmt.lineno}: {source!r} shows a value that the page does not give: "
                        f"add `  # -> {printed(value)}` (or assign it to a name)"
                    )
                continue
            why = check_value(value, text)
            if why is not None:
                pytest.fail(f"{name}:{stmt.end_lineno}: {source!r}: {why}")


WITH_CODE = [f for f in FILES if python_blocks(f)]


def test_the_readme_and_the_docs_have_blocks_to_run():
    names = {f.relative_to(ROOT).as_posix() for f in WITH_CODE}
    assert {"README.md", "docs/quickstart.md", "docs/torch_interop.md"} <= names


@pytest.mark.parametrize("path", WITH_CODE, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_code_blocks_run_and_show_their_values(path, tmp_path, monkeypatch):
    blocks = python_blocks(path)
    if any(re.search(r"^\s*(import|from)\s+torch\b", code, re.M) for _, code in blocks):
        pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    run_blocks(path.relative_to(ROOT).as_posix(), blocks)


# The checker itself: each rule must be able to fail.


def test_fences_are_found_with_their_lines_and_languages():
    page = ["text", "```python", "x = 1", "```", "````{note}", "```python", "y = 2", "```", "````", "```bash"]
    page += ["ls", "```", "```{code-block} python", "z = 3", "```"]
    blocks = [(line, code) for line, info, code in fenced_blocks(page) if is_python(info)]
    assert blocks == [(3, "x = 1"), (7, "y = 2"), (14, "z = 3")]


def test_a_block_keeps_its_indentation_at_the_top_level_and_in_a_directive():
    loop = ["for k in range(2):", "    x = k"]
    page = [
        "```python",
        *loop,
        "```",
        "````{note}",
        "  ```python",
        *("  " + line for line in loop),
        "  ```",
        "````",
    ]
    blocks = [code for _, info, code in fenced_blocks(page) if is_python(info)]
    assert blocks == ["\n".join(loop)] * 2


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ((21, 8, 16), "(21, 8, 16)"),
        (((3, 16), (16, 16), (16,)), "((3, 16), (16, 16), (16,))"),
        (0.73124, "0.7312"),
        (5.74e-25, "5.7e-25"),
        (np.array([0.0, -0.29341, 1.0]), "[0, -0.2934, 1]"),
        (mg.tensor([1.5, 2.0]), "[1.5, 2]"),
        (np.bool_(True), "True"),
        (None, "None"),
        ("GRU", "'GRU'"),
        (np.dtype(np.float32), "float32"),
    ],
)
def test_shown_values_that_match(value, text):
    assert check_value(value, text) is None


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ((21, 8, 16), "(21, 8, 15)"),
        ((21, 8), "(21, 8, 16)"),
        (((3, 16), (16,)), "((3, 16), (16, 16), (16,))"),
        (np.zeros((2, 2)), "[0, 0, 0, 0]"),
        (0.73126, "0.7312"),
        (5.76e-25, "5.7e-25"),
        (np.array([0.0, -0.29341, 1e-3]), "[0, -0.2934, 0]"),
        (1, "True"),
        ("RNN", "'GRU'"),
        (np.dtype(np.float64), "float32"),
        ("abc", "(1, 2)"),
    ],
)
def test_shown_values_that_do_not_match(value, text):
    assert check_value(value, text) is not None


def _page(tmp_path, text):
    page = tmp_path / "page.md"
    page.write_text(text, encoding="utf-8")
    return python_blocks(page)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("x = 2\nx + 1  # -> 4", "page shows '4'"),
        ("x = 2\nx + 1", "add `  # -> 3`"),
        ("x = 2  # -> 2", "must end an expression's last line"),
        ("(1,  # -> 1\n 2)", "must end an expression's last line"),
    ],
)
def test_a_wrong_or_an_unshown_value_fails(code, message, tmp_path):
    with pytest.raises((AssertionError, pytest.fail.Exception), match=re.escape(message)):
        run_blocks("page.md", _page(tmp_path, f"# page\n\n```python\n{code}\n```\n"))


def test_blocks_of_one_page_share_a_namespace_and_errors_point_at_the_page(tmp_path):
    blocks = _page(tmp_path, "```python\nx = 2\n```\n\ntext\n\n```python\nx * 3  # -> 6\nx / 0\n```\n")
    with pytest.raises(ZeroDivisionError) as info:
        run_blocks("page.md", blocks)
    assert info.traceback[-1].lineno + 1 == 9  # line 9 of the page is `x / 0`
