"""The module rows of ``python -m mygru bench``: :class:`mygru.nn.GRU` against torch.nn.GRU
and :class:`mygru.nn.LSTM` against torch.nn.LSTM, with the same weights and data (2 layers,
bidirectional by default)."""

import numpy as np

from . import torch_modules as modules

__all__ = ["module_bench_case"]


def module_bench_case(
    T=50,
    N=32,
    C=64,
    H=128,
    dtype=np.float32,
    num_layers=2,
    bidirectional=True,
    lengths=None,
    seed=0,
    kind="GRU",
):
    """(forward, forward+backward) closures for mygru.nn.<kind> and, when installed, torch.nn.<kind>.

    Parameters
    ----------
    T, N, C, H : int
        Steps, batch, input features, hidden units (default: the "course" size).
    dtype : float32 or float64
    num_layers : int
    bidirectional : bool
    lengths : None or array_like of int, shape (N,)
        Run with these lengths (torch through pack_padded_sequence, unsorted).
    seed : int
        For the weights, the input x (T, N, C) and the output gradient (T, N, dirs·H).
    kind : {"GRU", "LSTM"}
        The module (an LSTM without projection).

    Returns
    -------
    Dict[str, Tuple[Callable[[], None], Callable[[], None]]]
        "mygru.nn.<kind>" and "torch.nn.<kind>" (absent without torch) -> (forward, forward+backward).
        Both backward passes start from the same gradient of ``output``; the caller sets the
        thread counts.
    """
    import mygrad as mg

    rng = np.random.default_rng(seed)
    module = getattr(modules, kind)(
        C, H, num_layers=num_layers, bidirectional=bidirectional, dtype=dtype, rng=seed
    )
    dirs = 2 if bidirectional else 1
    x = rng.normal(size=(T, N, C)).astype(dtype)
    grad = rng.normal(size=(T, N, dirs * H)).astype(dtype)
    sizes = None if lengths is None else np.asarray(lengths)

    def fwd():
        with mg.no_autodiff:
            module(x, lengths=sizes)

    def fwd_bwd():
        module(x, lengths=sizes)[0].backward(grad)

    cases = {f"mygru.nn.{kind}": (fwd, fwd_bwd)}
    try:
        import torch
    except ImportError:
        return cases
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    peer = module.to_torch()
    xt, gt = torch.from_numpy(x), torch.from_numpy(grad)

    def torch_run():
        if sizes is None:
            return peer(xt)[0]
        packed = pack_padded_sequence(xt, torch.from_numpy(sizes), enforce_sorted=False)
        return pad_packed_sequence(peer(packed)[0], total_length=T)[0]

    def torch_fwd():
        with torch.no_grad():
            torch_run()

    def torch_fwd_bwd():
        peer.zero_grad(set_to_none=True)
        torch_run().backward(gt)

    cases[f"torch.nn.{kind}"] = (torch_fwd, torch_fwd_bwd)
    return cases
