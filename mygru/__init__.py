"""mygru: fast, exact recurrent layers for mygrad.

- :func:`gru` / :class:`GRUOp`: a gated recurrent unit as one mygrad operation,
  with a hand-written backward, truncated BPTT (``bp_lim``) and dropout.
- :func:`rnn` / :class:`RNNOp`: the Elman recurrence (tanh or relu), the same way.
"""

from .ops import DropoutMasks, GRUOp, RNNDropoutMasks, RNNOp, gru, rnn

__all__ = ["gru", "rnn", "GRUOp", "RNNOp", "DropoutMasks", "RNNDropoutMasks"]
__version__ = "0.1.0"
