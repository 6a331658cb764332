"""mygru: fast, exact recurrent layers for mygrad.

- :func:`gru` / :class:`GRUOp`: a gated recurrent unit as one mygrad operation,
  with a hand-written backward, truncated BPTT (``bp_lim``) and dropout.
- :func:`rnn` / :class:`RNNOp`: the Elman recurrence (tanh or relu), the same way.
- :func:`lstm` / :class:`LSTMOp`: the long short-term memory (torch's cell, with its
  optional projection), the same way, returning the hidden and the cell states.
- :class:`Cell` / :func:`recurrence` / :class:`RecurrenceOp`: your own cell (its step
  and step back in numpy) on the same drivers, with everything the built-in cells have.
- :mod:`mygru.cells`: more cells written that way: MGU, IndRNN, PeepholeLSTM,
  LayerNormLSTM.
- :mod:`mygru.nn`: torch-compatible GRU, RNN, LSTM, GRUCell, RNNCell and LSTMCell modules.
- :func:`check_cell`: a cell's backward against finite differences, and the operation
  on it against a plain loop over its steps.
- :func:`gradcheck`: finite differences against mygrad's backward, for any function.
- :data:`workspace`: the work memory the kernels keep between calls (``.clear()``,
  ``.limit``, ``.held``).
"""

from . import cells, nn
from ._kernels.workspace import Workspace, workspace
from .cell import Cell
from .cellcheck import check_cell
from .gradcheck import gradcheck
from .ops import (
    DropoutMasks,
    GRUOp,
    LSTMDropoutMasks,
    LSTMOp,
    RecurrenceOp,
    RNNDropoutMasks,
    RNNOp,
    gru,
    lstm,
    recurrence,
    rnn,
)

__all__ = [
    "Cell",
    "DropoutMasks",
    "GRUOp",
    "LSTMDropoutMasks",
    "LSTMOp",
    "RNNDropoutMasks",
    "RNNOp",
    "RecurrenceOp",
    "Workspace",
    "cells",
    "check_cell",
    "gradcheck",
    "gru",
    "lstm",
    "nn",
    "recurrence",
    "rnn",
    "workspace",
]
__version__ = "0.1.0"
