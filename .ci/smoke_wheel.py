"""Run by .ci/run with the python of a fresh venv into which only the wheel was installed,
from outside the checkout: the installed package imports, says its version once, ships
``py.typed`` and computes a gradient."""

import importlib.metadata
import sys
from pathlib import Path

import mygrad as mg
import numpy as np

import mygru

package = Path(mygru.__file__).parent
assert "site-packages" in package.parts, f"mygru was imported from {package}, not from the wheel"
assert (package / "py.typed").is_file(), "py.typed is not installed"
assert importlib.metadata.version("mygru") == mygru.__version__

rng = np.random.default_rng(0)
params = [mg.tensor(rng.normal(size=shape)) for shape in [(3, 4), (4, 4), (4,)] * 3]
s = mygru.gru(rng.normal(size=(5, 2, 3)), *params)
s.sum().backward()
assert params[0].grad.shape == (3, 4)
output, h_n = mygru.nn.GRU(3, 4, rng=0)(np.ones((5, 2, 3), np.float32))
assert output.shape == (5, 2, 4) and h_n.shape == (1, 2, 4)
print(f"the wheel works: mygru {mygru.__version__} from {package}, Python {sys.version.split()[0]}")
