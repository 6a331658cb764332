"""The API page renders: every object docs/api.rst documents has a numpydoc docstring
whose sections hold only entries (a paragraph left after the last entry of a section
is swallowed into it and shows as a raw-reST 'parameter'), and every module's call is
documented with its signature (``__call__`` among the members the page lists)."""

import importlib
import re
from pathlib import Path

import pytest

import mygru

docscrape = pytest.importorskip("numpydoc.docscrape")

API = Path(__file__).resolve().parents[1] / "docs" / "api.rst"
DIRECTIVE = re.compile(r"^\.\. auto(function|class):: (\S+)\n((?:   :\w[\w-]*:.*\n)*)", re.M)
SECTIONS = ("Parameters", "Other Parameters", "Attributes", "Returns", "Yields", "Raises")


def resolve(dotted):
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def documented():
    """(name, object, members listed) for every autofunction/autoclass of the page."""
    out = []
    for _, name, options in DIRECTIVE.findall(API.read_text(encoding="utf-8")):
        members = re.search(r":members: (.*)", options)
        listed = [m.strip() for m in members.group(1).split(",")] if members else []
        out.append((name, resolve(name), listed))
    return out


DOCUMENTED = documented()


def test_the_page_documents_the_package():
    names = {name for name, _, _ in DOCUMENTED}
    assert {"mygru.gru", "mygru.rnn", "mygru.Workspace", "mygru.nn.GRU"} <= names


@pytest.mark.parametrize("name, obj, members", DOCUMENTED, ids=[d[0] for d in DOCUMENTED])
def test_sections_hold_only_entries(name, obj, members):
    for what, doc in [(name, obj.__doc__)] + [(f"{name}.{m}", getattr(obj, m).__doc__) for m in members]:
        parsed = docscrape.NumpyDocString(doc or "")
        for section in SECTIONS:
            for entry in parsed[section]:
                words = entry.name.replace(",", " ").split()
                assert "``" not in entry.name and ":" not in entry.name and len(words) <= 6, (
                    f"{what}: section {section!r} has {entry.name!r} as an entry: a paragraph "
                    "after a section's last entry belongs before the sections or under Notes"
                )


@pytest.mark.parametrize("name", mygru.nn.__all__)
def test_every_module_call_is_documented(name):
    cls = getattr(mygru.nn, name)
    if not isinstance(cls, type) or not any("__call__" in vars(k) for k in cls.__mro__):
        return  # not a module whose instances one calls
    listed = {doc_name: members for doc_name, _, members in DOCUMENTED}
    full = f"mygru.nn.{name}"
    assert full in listed, f"docs/api.rst does not document {full}"
    assert "__call__" in listed[full], f"docs/api.rst: {full}'s members should include __call__"
