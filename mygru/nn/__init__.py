"""``mygru.nn``: torch-compatible recurrent modules built on :func:`mygru.gru` and
:func:`mygru.rnn`.

- :class:`GRU`, :class:`RNN`: multi-layer, bidirectional, ``batch_first``, torch's
  inter-layer ``dropout``, variable ``lengths``; ``m(x, h0, lengths) -> (output, h_n)``.
- :class:`GRUCell`, :class:`RNNCell`: one step, ``cell(x, h) -> h'``.

Every module holds its parameters as mygrad Tensor attributes under torch's names and
layouts (``weight_ih_l0``, ..., gate order r, z, n), exposes them as ``m.parameters``
(mynn's convention, so mynn's optimizers work), and converts to and from torch with
``state_dict`` / ``load_state_dict`` / ``from_torch`` / ``to_torch``.
"""

from .modules import GRU, RNN, GRUCell, RNNCell

__all__ = ["GRU", "RNN", "GRUCell", "RNNCell"]
