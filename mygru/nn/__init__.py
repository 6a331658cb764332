"""``mygru.nn``: recurrent modules built on :func:`mygru.recurrence`, :func:`mygru.gru`,
:func:`mygru.rnn` and :func:`mygru.lstm`.

- :class:`Recurrent`: layers of any :class:`mygru.Cell` (multi-layer, bidirectional,
  ``batch_first``, inter-layer ``dropout``, variable ``lengths``, ``hx``), its parameters
  named ``U{g}_l{k}``, ``b{g}_l{k}``, ``{weight}_l{k}`` (``_reverse`` for the backward
  direction).
- :class:`GRU`, :class:`RNN`, :class:`LSTM`: the same layers with torch's cells: multi-layer, bidirectional, ``batch_first``,
  torch's inter-layer ``dropout``, variable ``lengths``; ``m(x, h0, lengths) -> (output,
  h_n)``, the LSTM's ``m(x, (h0, c0), lengths) -> (output, (h_n, c_n))``.
- :class:`GRUCell`, :class:`RNNCell`: one step, ``cell(x, h) -> h'``; :class:`LSTMCell`:
  ``cell(x, (h, c)) -> (h', c')``.
- :func:`detach`: a constant copy of a state (torch's ``h.detach()``), to carry it from
  one batch to the next.

The torch-named modules hold their parameters as mygrad Tensor attributes under torch's names and
layouts (``weight_ih_l0``, ..., gate order r, z, n for the GRU and i, f, g, o for the
LSTM), exposes them as ``m.parameters`` (mynn's convention, so mynn's optimizers work),
and converts to and from torch with ``state_dict`` / ``load_state_dict`` /
``from_torch`` / ``to_torch``.
"""

from ._state import detach
from .recurrent import Recurrent
from .torch_modules import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

__all__ = ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNCell", "Recurrent", "detach"]
