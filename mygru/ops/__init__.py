"""The mygrad operations: argument checks, the Operation subclasses and the
functional wrappers around the kernels."""

from .gru import DropoutMasks, GRUOp, gru
from .rnn import RNNDropoutMasks, RNNOp, rnn

__all__ = ["DropoutMasks", "GRUOp", "RNNDropoutMasks", "RNNOp", "gru", "rnn"]
