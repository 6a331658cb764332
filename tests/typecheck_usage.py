"""What a user's type checker sees: CI runs mypy over this file (it is never run).

``assert_type`` fails mypy when an inferred type differs, and each ``# type: ignore[...]``
marks a call that mypy must reject: with ``warn_unused_ignores`` an ignore that is not
needed, because the annotation let a wrong call through, fails mypy too.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from mygrad import Tensor
    from typing_extensions import assert_type

    import mygru
    from mygru import cells, nn

    X = np.zeros((5, 2, 3))
    params = (np.zeros((3, 4)), np.zeros((4, 4)), np.zeros(4))
    s = mygru.gru(X, *params, *params, *params, bp_lim=2, rng=0)
    assert_type(s, Tensor)
    assert_type(mygru.rnn(X, *params, nonlinearity="relu"), Tensor)
    mygru.rnn(X, *params, nonlinearity="sigmoid")  # type: ignore[arg-type]
    mygru.gru(X, *params, *params, *params, bp_lim="all")  # type: ignore[arg-type]
    hs, cs = mygru.lstm(X, *params, *params, *params, *params, c0=np.zeros((2, 4)), rng=0)
    assert_type(hs, Tensor)
    assert_type(cs, Tensor)
    mygru.lstm(X, *params, *params, *params, *params, Wp=np.zeros((4, 2)), rng="seed")  # type: ignore[arg-type]

    class Identity(mygru.Cell):
        gates = ("",)

    assert_type(Identity().widths(4, {}), tuple[int, ...])
    mygru.recurrence(Identity(), X, {"U": np.zeros((3, 4)), "b": np.zeros(4)}, bp_lim=1, rng=0)
    mygru.recurrence(object(), X, {})  # type: ignore[arg-type]
    mygru.recurrence(Identity(), X, {}, rng="seed")  # type: ignore[arg-type]
    assert_type(mygru.check_cell(Identity(), 3, 4, steps=3), None)  # raises AssertionError when wrong
    layers = nn.Recurrent(Identity(), 3, 4, num_layers=2, bidirectional=True, rng=0)
    assert_type(layers(X, lengths=[5, 2])[0], Tensor)
    assert_type(layers.eval(), nn.Recurrent)
    nn.Recurrent(Identity, 3, 4)  # type: ignore[arg-type]

    assert_type(cells.IndRNN(nonlinearity="tanh").shapes(3, 4), dict[str, tuple[int, ...]])
    cells.IndRNN(nonlinearity="sigmoid")  # type: ignore[arg-type]
    cells.PeepholeLSTM(cifg=True)
    cells.PeepholeLSTM(cifg="yes")  # type: ignore[arg-type]
    mygru.recurrence(cells.LayerNormLSTM(), X, {}, rng=0)
    mygru.check_cell(cells.MGU())
    assert_type(cells.LayerNormLSTM().init("gamma_x", (16,), 4, np.random.default_rng(0)), np.ndarray)

    m = nn.GRU(3, 4, num_layers=2, dtype=np.float64, rng=np.random.default_rng(0))
    output, h_n = m(X, lengths=[5, 2])
    assert_type(output, Tensor)
    assert_type(m.train(), nn.GRU)  # train/eval/load_state_dict return the module's own class
    assert_type(m.eval().load_state_dict(m.state_dict()), nn.GRU)
    assert_type(m.state_dict(), dict[str, np.ndarray])
    assert_type(m.parameters, tuple[Tensor, ...])
    assert_type(m.weight_ih_l1, Tensor)  # parameters named per layer, as in torch
    assert_type(nn.RNN.from_torch(object()), nn.RNN)
    nn.GRU(3, 4, rng="seed")  # type: ignore[arg-type]

    lstm = nn.LSTM(3, 4, num_layers=2, proj_size=2)
    output, (h_n, c_n) = lstm(X, (np.zeros((2, 2, 2)), np.zeros((2, 2, 4))), lengths=[5, 2])
    assert_type(c_n, Tensor)
    assert_type(lstm.train(), nn.LSTM)
    assert_type(nn.LSTMCell(3, 4)(np.zeros((2, 3))), tuple[Tensor, Tensor])
    assert_type(lstm.proj_size, int)

    h = nn.GRUCell(3, 4)(np.zeros((2, 3)))
    assert_type(h, Tensor)
    assert_type(nn.GRUCell(3, 4)(np.zeros((2, 3)), hx=h), Tensor)
    assert_type(m(X, hx=h_n)[1], Tensor)
    assert_type(nn.detach(h_n), Tensor)
    assert_type(nn.detach((h_n, c_n)), tuple[Tensor, Tensor])
    assert_type(nn.detach([h_n, c_n, h]), tuple[Tensor, ...])
    nn.detach(3)  # type: ignore[call-overload]
    assert_type(nn.GRUCell(3, 4).weight_ih, Tensor)

    report = mygru.gradcheck(lambda x: x**2, Tensor([1.0]))
    assert_type(report.ok, bool)
    assert_type(report.inputs[0].worst, tuple[int, ...] | None)

    assert_type(mygru.workspace.limit, int)
    mygru.workspace.limit = 2**20
    mygru.workspace.limit = 1.5  # type: ignore[assignment]
