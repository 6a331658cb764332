"""Plain numpy versions of every cell, forward and backward: the code to read.

Each cell is two functions of one step, written line by line after the equations of
the docs (same numbers, same names): ``step(p, x, s_prev)`` returns the new state and
what the backward needs, ``step_backward(p, dS, cache)`` goes back through the cell.
``forward`` and ``backward`` in :mod:`mygru.plain.bptt` run them over a sequence, for
every cell alike. ``p`` is a dict of the weights under mygru's names (``"Uz"``,
``"Wz"``, ``"bz"``, ...).

Nothing here is fast or checks its input: the tests check that these functions give
the fast kernels' numbers (to 1e-12 in float64), so that the derivation the docs
show is the one the library computes.

- :mod:`mygru.plain.gru`: the GRU, reset before the product (mygrad's) and after
  (torch's);
- :mod:`mygru.plain.rnn`: the Elman cell, tanh or relu;
- :mod:`mygru.plain.lstm`: the LSTM (torch's cell), with the optional projection;
- :mod:`mygru.plain.cell`: any :class:`mygru.Cell` (its own ``step`` and
  ``step_backward``) with the input projections, dropout masks and lengths around it.
"""

from . import bptt, cell, gru, lstm, rnn

__all__ = ["bptt", "cell", "gru", "lstm", "rnn"]
