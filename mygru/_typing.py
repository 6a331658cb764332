"""The names the public API is annotated with (the conventions are in CONTRIBUTING.md).

Each is an ordinary runtime object, so ``typing.get_type_hints`` resolves every public
signature (the tests check that) and an IDE shows what an argument accepts.
"""

from typing import Literal, TypeAlias

import numpy as np
import numpy.typing as npt
from mygrad import Tensor

__all__ = ["ArrayLike", "Nonlinearity", "Seed"]

ArrayLike: TypeAlias = Tensor | npt.ArrayLike
"""What an array argument accepts: a mygrad Tensor (which gets a gradient when it is not
constant), a numpy array or anything ``np.asarray`` takes (nested lists, scalars)."""

Seed: TypeAlias = int | np.random.Generator | None
"""The ``rng`` argument: None (numpy's global RNG), an int seed >= 0 or a Generator."""

Nonlinearity: TypeAlias = Literal["tanh", "relu"]
"""The Elman recurrence's ``nonlinearity``."""
