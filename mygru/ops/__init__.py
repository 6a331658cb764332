"""The mygrad operations: argument checks, the Operation subclasses and the
functional wrappers around the kernels."""

from .gru import DropoutMasks, GRUOp, gru
from .lstm import LSTMDropoutMasks, LSTMOp, lstm
from .rnn import RNNDropoutMasks, RNNOp, rnn

__all__ = [
    "DropoutMasks",
    "GRUOp",
    "LSTMDropoutMasks",
    "LSTMOp",
    "RNNDropoutMasks",
    "RNNOp",
    "gru",
    "lstm",
    "rnn",
]
