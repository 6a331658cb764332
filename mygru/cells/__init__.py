"""Recurrent cells written on :class:`mygru.Cell`, exactly as a user would write them.

Each is one short file of plain numpy, a ``step`` and a ``step_backward``, run by
:func:`mygru.recurrence`:

- :class:`MGU`: the minimal gated unit (Zhou et al. 2016), a GRU with one gate.
- :class:`IndRNN`: the independently recurrent cell (Li et al. 2018), one recurrent
  weight per unit.
- :class:`PeepholeLSTM`: the LSTM with peephole connections (Gers et al. 2002), and with
  ``cifg=True`` its coupled input and forget gates (Greff et al. 2017).
- :class:`LayerNormLSTM`: the layer-normalised LSTM (Ba et al. 2016).
"""

from .indrnn import IndRNN
from .layernorm_lstm import LayerNormLSTM
from .mgu import MGU
from .peephole_lstm import PeepholeLSTM

__all__ = ["MGU", "IndRNN", "LayerNormLSTM", "PeepholeLSTM"]
