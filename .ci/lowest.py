"""Print, one a line, the lowest versions that pyproject.toml claims, as pins.

Each ``name>=X`` of the dependencies and of the ``test`` extra becomes ``name==X``, so the
lowest-dependencies job in ``.ci/run`` tests exactly what the metadata promises, and
raising a minimum there is the only way to change what it tests.
"""

import re
import sys
from pathlib import Path

import tomllib  # (Python 3.11: CI runs this with its own Python, not the lowest one)

project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8"))["project"]
for requirement in project["dependencies"] + project["optional-dependencies"]["test"]:
    match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*>=\s*([0-9][^,;\s]*)\s*(,.*)?", requirement)
    if match is None:
        sys.exit(f"{requirement!r} in pyproject.toml states no lower bound of the form name>=X")
    print(f"{match[1]}=={match[2]}")
