"""Draw the figures of the docs: ``python docs/make_figures.py``.

Writes ``docs/_static/sgrad.png``: the norm of ``s.grad[t]`` = dL/dS_t over t for an
Elman RNN and a GRU at random initialisation, with a loss on the last state only.
Needs matplotlib (the ``demo`` extra). Deterministic: the same seed gives the same
picture.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mygrad as mg
import numpy as np

import mygru

T, N, C, D = 100, 16, 8, 32  # steps, batch, input features, hidden units
OUT = Path(__file__).parent / "_static" / "sgrad.png"


def init(rng, *shapes):
    """Torch's default initialisation, U(-1/sqrt(D), 1/sqrt(D)), as mygru.nn uses."""
    return [mg.tensor(rng.uniform(-1, 1, size=shape) / np.sqrt(D)) for shape in shapes]


def state_grad_norms(s):
    """L = Σ S_T, then |dL/dS_t|: the norm over the D units, averaged over the batch."""
    s[-1].sum().backward()
    return np.linalg.norm(s.grad, axis=-1).mean(axis=1)


def main():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(T, N, C))
    gru_params = init(rng, *[(C, D), (D, D), (D,)] * 3)  # Uz, Wz, bz, Ur, Wr, br, Uh, Wh, bh
    rnn_params = init(rng, (C, D), (D, D), (D,))  # U, W, b

    curves = {
        "Elman RNN (tanh)": state_grad_norms(mygru.rnn(X, *rnn_params)),
        "GRU": state_grad_norms(mygru.gru(X, *gru_params)),
    }
    # the same GRU with its update-gate bias moved up by 2, so that Z_t ≈ σ(2) ≈ 0.88
    shifted = list(gru_params)
    shifted[2] = mg.tensor(gru_params[2].data + 2.0)
    curves["GRU, $b_z$ + 2"] = state_grad_norms(mygru.gru(X, *shifted))

    t = np.arange(T + 1)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), layout="constrained")
    for (label, norms), style in zip(curves.items(), ["-", "-", "--"]):
        ax.semilogy(t, norms, style, label=label)
        per_step = (norms[0] / norms[T]) ** (1 / T)  # geometric mean of the decay
        print(
            f"{label:18s} |dL/dS_t| at t = 0, 1, 50, 99, 100:",
            " ".join(f"{norms[i]:.2e}" for i in (0, 1, 50, 99, 100)),
            f"| mean factor per step {per_step:.2f}",
        )
    ax.set_xlabel("t (state $S_t$; the loss reads $S_{100}$ only)")
    ax.set_ylabel(r"$\|\partial L / \partial S_t\|$  (s.grad[t], batch mean)")
    ax.set_title(f"s.grad at random init: L = Σ $S_T$, T = {T}, N = {N}, C = {C}, D = {D}")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    OUT.parent.mkdir(exist_ok=True)
    fig.savefig(OUT, dpi=120)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
