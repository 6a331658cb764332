"""The mygrad operations: argument checks, the Operation subclasses and the
functional wrappers around the kernels."""

from .gru import DropoutMasks, GRUOp, gru
from .lstm import LSTMDropoutMasks, LSTMOp, lstm
from .recurrence import RecurrenceOp, recurrence
from .rnn import RNNDropoutMasks, RNNOp, rnn

__all__ = [
    "DropoutMasks",
    "GRUOp",
    "LSTMDropoutMasks",
    "LSTMOp",
    "RNNDropoutMasks",
    "RNNOp",
    "RecurrenceOp",
    "gru",
    "lstm",
    "recurrence",
    "rnn",
]
