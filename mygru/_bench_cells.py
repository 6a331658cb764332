"""The user-cell rows of ``python -m mygru bench``: cells on :func:`mygru.recurrence`.

- the GRU written plainly as a user cell (:class:`PlainGRU`) against the built-in
  :func:`mygru.gru`, on the same parameters and data as the bench's GRU rows;
- :func:`mygru.gru` with zoneout against the same without (zoneout's cost);
- :class:`mygru.cells.MGU` and :class:`mygru.cells.LayerNormLSTM` against the same cell
  written with torch tensors and looped in Python with autograd (what a torch user writes
  for a cell torch does not have), with the same weights and data.

Every ``*_cases`` function returns name -> (forward, forward+backward) closures for
:func:`mygru.bench.median_times`; the loss is given as dL/ds on the states s (T+1, N, D).
"""

import numpy as np

from .bench import fmt_ms, fmt_ratio, make_case, median_times
from .cell import Cell

__all__ = ["PlainGRU", "cell_table", "gru_cases", "layernorm_lstm_cases", "mgu_cases", "zoneout_cases"]

LN_EPS = 1e-5  # torch's LayerNorm's, and mygru.cells.LayerNormLSTM's


def sigmoid(a):
    """1 / (1 + e^(−a)); e^(−a) overflows to inf for a very negative a, which gives the right 0."""
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-a))


class PlainGRU(Cell):
    """mygru.gru's GRU written as a user writes it: one product per gate, the weight
    gradients as per-step products::

        Z = σ(A^z + S Wz),  R = σ(A^r + S Wr),  H = tanh(A^h + (R ⊙ S) Wh),
        S' = (1 − Z) ⊙ H + Z ⊙ S
    """

    gates = ("z", "r", "h")
    weights = ("Wz", "Wr", "Wh")

    def step(self, p, a, s):
        Z = sigmoid(a["z"] + s @ p["Wz"])
        R = sigmoid(a["r"] + s @ p["Wr"])
        RS = R * s
        H = np.tanh(a["h"] + RS @ p["Wh"])
        return H + Z * (s - H), (s, Z, R, RS, H)

    def step_backward(self, p, ds, cache):
        s, Z, R, RS, H = cache
        dAh = ds * (1 - Z) * (1 - H**2)
        dAz = ds * (s - H) * Z * (1 - Z)
        dRS = dAh @ p["Wh"].T
        dAr = dRS * s * R * (1 - R)
        ds_prev = ds * Z + dRS * R + dAz @ p["Wz"].T + dAr @ p["Wr"].T
        dp = {"Wz": s.T @ dAz, "Wr": s.T @ dAr, "Wh": RS.T @ dAh}
        return {"z": dAz, "r": dAr, "h": dAh}, ds_prev, dp


def named_case(size, dtype, gates, seed=0):
    """X, the parameters of ``gates`` by name (``U{g}``, ``W{g}``, ``b{g}``: the bench's
    GRU case for "zrh") and dL/ds."""
    X, params, grad = make_case(size, dtype, seed, gates=len(gates))
    names = [f"{k}{g}" for g in gates for k in "UWb"]  # make_case's order
    return X, dict(zip(names, params)), grad


def layernorm_lstm_case(size, dtype, seed=0):
    """X, the parameters of :class:`mygru.cells.LayerNormLSTM` by name (the gains near 1,
    the shifts near 0) and dL/ds."""
    X, params, grad = named_case(size, dtype, "ifgo", seed)
    params = {k: v for k, v in params.items() if k[0] != "b"}  # no biases: the betas shift
    D = grad.shape[-1]
    rng = np.random.default_rng(seed + 1)
    for part, width in (("x", 4 * D), ("h", 4 * D), ("c", D)):
        params[f"gamma_{part}"] = (1 + 0.1 * rng.normal(size=width)).astype(dtype)
        params[f"beta_{part}"] = (0.1 * rng.normal(size=width)).astype(dtype)
    return X, params, grad


def _mygru_runners(fn, X, params, grad):
    """(forward, forward+backward) of ``fn(X, tensors by name)``, the loss on ``s``."""
    import mygrad as mg

    tensors = {k: mg.tensor(v) for k, v in params.items()}

    def fwd():
        with mg.no_autodiff:
            fn(X, tensors)

    def fwd_bwd():
        s = fn(X, tensors)
        (s[0] if isinstance(s, tuple) else s).backward(grad)

    return fwd, fwd_bwd


def _torch_runners(torch, module, X, grad):
    """(forward, forward+backward) of a torch module that returns the states s."""
    x, g = torch.from_numpy(X), torch.from_numpy(grad)

    def fwd():
        with torch.no_grad():
            module(x)

    def fwd_bwd():
        module.zero_grad(set_to_none=True)
        module(x).backward(g)

    return fwd, fwd_bwd


def gru_cases(size, dtype, torch=None, seed=0):
    """The GRU row: "user cell" (:class:`PlainGRU` on mygru.recurrence, one instance for
    every call, as a training loop has) and "mygru.gru", on the same parameters and data."""
    import mygru

    X, params, grad = named_case(size, dtype, "zrh", seed)
    cell = PlainGRU()
    order = list(params)  # mygru.gru's argument order
    return {
        "user cell": _mygru_runners(lambda X, p: mygru.recurrence(cell, X, p), X, params, grad),
        "mygru.gru": _mygru_runners(lambda X, p: mygru.gru(X, *(p[k] for k in order)), X, params, grad),
    }


def zoneout_cases(size, dtype, torch=None, seed=0, rate=0.1):
    """The zoneout row: "zoneout" (:func:`mygru.gru` with ``zoneout=rate`` in training: a
    fresh mask every step, the blend and its backward) and "mygru.gru" without it, on the
    same parameters and data."""
    import mygru

    X, params, grad = named_case(size, dtype, "zrh", seed)
    order = list(params)

    def zoned(X, p):
        return mygru.gru(X, *(p[k] for k in order), zoneout=rate, rng=seed)

    return {
        "zoneout": _mygru_runners(zoned, X, params, grad),
        "mygru.gru": _mygru_runners(lambda X, p: mygru.gru(X, *(p[k] for k in order)), X, params, grad),
    }


def torch_mgu(torch, params):
    """The MGU as a torch module, looped in Python: the input projections of all steps in
    one product before the loop, then per step the cell's three equations; returns the
    states stacked, s (T+1, N, D), s[0] = 0. The weights are copies of ``params``.

    The steps' projections are taken with ``unbind``, as torch's ``custom_lstms.py`` takes
    its inputs: indexing ``a[t]`` instead makes autograd add a zero gradient of the
    whole (T, N, 2D) tensor for every step, which doubles the backward at the course size."""

    class MGU(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.U = torch.nn.Parameter(torch.tensor(np.concatenate([params["Uf"], params["Uh"]], axis=1)))
            self.b = torch.nn.Parameter(torch.tensor(np.concatenate([params["bf"], params["bh"]])))
            self.Wf = torch.nn.Parameter(torch.tensor(params["Wf"]))
            self.Wh = torch.nn.Parameter(torch.tensor(params["Wh"]))

        def forward(self, x):
            af, ah = (x @ self.U + self.b).chunk(2, dim=-1)
            s = x.new_zeros(x.shape[1], self.Wf.shape[0])
            states = [s]
            for af_t, ah_t in zip(af.unbind(0), ah.unbind(0)):
                f = torch.sigmoid(af_t + s @ self.Wf)
                h = torch.tanh(ah_t + (f * s) @ self.Wh)
                s = (1 - f) * s + f * h
                states.append(s)
            return torch.stack(states)

    return MGU()


def torch_layernorm_lstm(torch, params):
    """The layer-norm LSTM as a torch module, looped in Python (the cell of torch's
    ``benchmarks/fastrnns/custom_lstms.py``, with :class:`mygru.cells.LayerNormLSTM`'s
    equations): the input projections of all steps and their layer norm in one call each
    before the loop, then per step (``unbind``, see :func:`torch_mgu`) the layer norm of
    S_{t-1} W, the gates, c_t and S_t = O ⊙ tanh(LN(c_t)); returns the states s
    (T+1, N, D), s[0] = 0."""
    ln = torch.nn.functional.layer_norm

    class LayerNormLSTM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            for name in ("U", "W"):
                both = np.concatenate([params[f"{name}{g}"] for g in "ifgo"], axis=1)
                setattr(self, name, torch.nn.Parameter(torch.tensor(both)))
            for name in ("gamma_x", "beta_x", "gamma_h", "beta_h", "gamma_c", "beta_c"):
                setattr(self, name, torch.nn.Parameter(torch.tensor(params[name])))

        def forward(self, x):
            D = self.W.shape[0]
            ax = ln(x @ self.U, (4 * D,), self.gamma_x, self.beta_x, LN_EPS)
            s = c = x.new_zeros(x.shape[1], D)
            states = [s]
            for ax_t in ax.unbind(0):
                z = ax_t + ln(s @ self.W, (4 * D,), self.gamma_h, self.beta_h, LN_EPS)
                i, f, g, o = z.chunk(4, dim=1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                s = torch.sigmoid(o) * torch.tanh(ln(c, (D,), self.gamma_c, self.beta_c, LN_EPS))
                states.append(s)
            return torch.stack(states)

    return LayerNormLSTM()


def mgu_cases(size, dtype, torch=None, seed=0):
    """The MGU row: "mygru" (mygru.cells.MGU on mygru.recurrence) and, with ``torch`` (the
    module), "torch loop" (:func:`torch_mgu`), on the same weights and data."""
    import mygru
    from mygru.cells import MGU

    X, params, grad = named_case(size, dtype, "fh", seed)
    cell = MGU()
    cases = {"mygru": _mygru_runners(lambda X, p: mygru.recurrence(cell, X, p), X, params, grad)}
    if torch is not None:
        cases["torch loop"] = _torch_runners(torch, torch_mgu(torch, params), X, grad)
    return cases


def layernorm_lstm_cases(size, dtype, torch=None, seed=0):
    """The layer-norm LSTM row: "mygru" (mygru.cells.LayerNormLSTM on mygru.recurrence, the
    loss on s) and, with ``torch``, "torch loop" (:func:`torch_layernorm_lstm`), on the same
    weights and data."""
    import mygru
    from mygru.cells import LayerNormLSTM

    X, params, grad = layernorm_lstm_case(size, dtype, seed)
    cell = LayerNormLSTM()
    cases = {"mygru": _mygru_runners(lambda X, p: mygru.recurrence(cell, X, p), X, params, grad)}
    if torch is not None:
        cases["torch loop"] = _torch_runners(torch, torch_layernorm_lstm(torch, params), X, grad)
    return cases


def cell_table(found, size, dtypes, repeat):
    """The user-cell rows at ``size``, printed; returns them as dicts (cell, size, dtype,
    pass_, seconds by name). ``found`` is :func:`mygru.bench.peers`'s result."""
    torch = None if isinstance(found.get("torch"), str) else found.get("torch")
    rows = []
    blocks = (
        (
            "the GRU as a user's mygru.Cell on mygru.recurrence; ratio = its time / mygru.gru's",
            ("user cell", "mygru.gru", "user / gru"),
            (("gru", gru_cases),),
        ),
        (
            "mygru.gru with zoneout=0.1 (training); ratio = its time / mygru.gru's without",
            ("zoneout", "mygru.gru", "zoneout/gru"),
            (("gru_zoneout", zoneout_cases),),
        ),
        (
            "mygru.cells on mygru.recurrence and the same cell looped in torch with autograd;"
            " ratio = torch / mygru",
            ("mygru", "torch loop", "vs torch"),
            (("mgu", mgu_cases), ("layernorm_lstm", layernorm_lstm_cases)),
        ),
    )
    for title, (mine, other, label), cells in blocks:
        print(title)
        head = f"{'cell':14} {'size':7} {'dtype':8} {'pass':8} {mine:>11} {other:>11} {label:>11}"
        print(head)
        print("-" * len(head))
        for cell, make in cells:
            for dtype in dtypes:
                med = median_times(make(size, dtype, torch), repeat)
                for k, pass_ in enumerate(("fwd", "fwd+bwd")):
                    t = {name: med[name][k] if name in med else None for name in (mine, other)}
                    # (a cost: this time over the built-in's; a race: the peer's over ours)
                    ratio = (
                        fmt_ratio(t[mine], t[other]) if other == "mygru.gru" else fmt_ratio(t[other], t[mine])
                    )
                    print(
                        f"{cell:14} {size:7} {dtype:8} {pass_:8} {fmt_ms(t[mine]):>11} {fmt_ms(t[other]):>11}"
                        f" {ratio:>11}"
                    )
                    rows.append(dict(cell=cell, size=size, dtype=dtype, pass_=pass_, seconds=t))
    return rows
