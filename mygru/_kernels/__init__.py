"""Pure-numpy kernels: forward and backward of each recurrence. No mygrad here."""

from .common import Recurrence
from .gru import GRU, GRUResetAfter
from .rnn import Elman

__all__ = ["GRU", "Elman", "GRUResetAfter", "Recurrence"]
