"""Pure-numpy kernels: forward and backward of each recurrence. No mygrad here."""

from .common import Recurrence
from .gru import GRU, GRUResetAfter
from .lstm import LSTM
from .rnn import Elman

__all__ = ["GRU", "LSTM", "Elman", "GRUResetAfter", "Recurrence"]
