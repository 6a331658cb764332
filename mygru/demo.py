"""``python -m mygru demo``: an Elman RNN, a GRU and an LSTM side by side on the adding problem.

The adding problem (Hochreiter & Schmidhuber, 1997) is the classic test of memory
over long time spans. Each of the T steps of a sequence carries two features: a
random number in [0, 1] and a marker, which is 1 at exactly two steps (one in
each half of the sequence) and 0 elsewhere. The target is the sum of the two
marked numbers. Always answering 1.0 (the mean target) scores an MSE of
Var(u1 + u2) = 1/6 ≈ 0.167; beating that means remembering a number for up to
T steps. The three models read the sequence with mygru's functional ops and
predict from their last state with a linear readout; all are trained by mynn's
Adam on the same batches.
"""

import importlib.util
import os
import sys

import mygrad as mg
import numpy as np

import mygru

from ._cli import Parser, output_file, positive

__all__ = ["adding_problem", "main"]

GUESS = 1.0  # the mean target: the best prediction that ignores the input
TEST_SIZE = 1000
SMOOTH = 25  # steps in the running mean shown in the progress bar and the plot


def lstm_states(X, *weights):
    """The LSTM's hidden states S (T+1, N, D); its cell states c are not read out."""
    return mygru.lstm(X, *weights)[0]


# name -> (the states of the whole sequence, the number of gates: weight triples U, W, b)
MODELS = {"GRU": (mygru.gru, 3), "LSTM": (lstm_states, 4), "Elman RNN": (mygru.rnn, 1)}
COLORS = {"GRU": "tab:blue", "LSTM": "tab:green", "Elman RNN": "tab:orange"}


def adding_problem(T, N, rng):
    """Draws N sequences of the adding problem.

    Parameters
    ----------
    T : int >= 2
        Sequence length.
    N : int
        Number of sequences.
    rng : numpy.random.Generator

    Returns
    -------
    X : numpy.ndarray, shape (T, N, 2)
        ``X[t, n] = (value, marker)``: value uniform in [0, 1], marker 1 at the two
        marked steps and 0 elsewhere.
    marked : numpy.ndarray of int, shape (2, N)
        The marked steps of each sequence, one in ``[0, T//2)``, one in ``[T//2, T)``.
    y : numpy.ndarray, shape (N,)
        The targets: the sum of the two marked values.
    """
    X = np.zeros((T, N, 2))
    X[..., 0] = rng.random((T, N))
    marked = np.stack([rng.integers(0, T // 2, N), rng.integers(T // 2, T, N)])
    batch = np.arange(N)
    X[marked, batch, 1] = 1.0
    return X, marked, X[marked, batch, 0].sum(axis=0)


def init_params(rng, gates, D):
    """The recurrent weights of a cell with ``gates`` triples (U, W, b), in the order
    the op takes them, plus the readout v (D,) and c (1,), drawn from U(-1/√D, 1/√D)
    like torch's layers (the LSTM's forget bias too, as in torch)."""
    shapes = [(2, D), (D, D), (D,)] * gates + [(D,), (1,)]
    bound = 1 / np.sqrt(D)
    return [mg.tensor(rng.uniform(-bound, bound, shape)) for shape in shapes]


def predict(cell, params, X):
    """The readout of the last state: S_T v + c, shape (N,)."""
    *weights, v, c = params
    return cell(X, *weights)[-1] @ v + c


def update_gate(params, x):
    """Z_t = σ(X_t Uz + S_{t-1} Wz + bz) of the GRU along one sequence x (T, 1, 2),
    recomputed from the states that ``mygru.gru`` returns; shape (T, D)."""
    with mg.no_autodiff:
        S = mygru.gru(x, *params[:9]).data[:, 0]
    Uz, Wz, bz = (p.data for p in params[:3])
    # σ(a) written through tanh: no overflow in exp for large |a|
    return 0.5 * (1 + np.tanh((x[:, 0] @ Uz + S[:-1] @ Wz + bz) / 2))


def running_mean(losses):
    """The mean of each loss and the SMOOTH - 1 before it (fewer at the start)."""
    total = np.cumsum(losses)
    window = np.minimum(np.arange(1, len(losses) + 1), SMOOTH)
    return (total - np.concatenate([np.zeros(SMOOTH), total])[: len(losses)]) / window


def train(args, init_rng, data_rng):
    """Trains the models on the same batches; returns their parameters and the
    loss of every step, each a dict keyed by model name."""
    from mynn.optimizers import Adam
    from tqdm import tqdm

    params = {name: init_params(init_rng, gates, args.hidden) for name, (_, gates) in MODELS.items()}
    optims = {name: Adam(p, learning_rate=args.lr) for name, p in params.items()}
    losses = {name: np.zeros(args.steps) for name in MODELS}
    bar = tqdm(range(args.steps), desc="training", unit="step")
    for step in bar:
        X, _, y = adding_problem(args.seq_len, args.batch, data_rng)
        for name, (cell, _) in MODELS.items():
            loss = mg.mean((predict(cell, params[name], X) - y) ** 2)
            loss.backward()
            optims[name].step()
            losses[name][step] = loss.item()
        # refresh=False: tqdm redraws on its own clock, not once per step
        recent = slice(max(0, step + 1 - SMOOTH), step + 1)
        bar.set_postfix({name: f"{l[recent].mean():.4f}" for name, l in losses.items()}, refresh=False)
    return params, losses


def verdict(mse, baseline):
    """Words for a test MSE: below 10% of the baseline's the task is learned, from
    90% on the model does no better than always answering the mean target."""
    ratio = mse / baseline
    if ratio < 0.1:
        return "learned the task"
    if ratio < 0.9:
        return "partly learned the task"
    return "did not learn the task"


def draw(path, args, losses, baseline, gate, marked, x, answer):
    """Writes the picture (PNG, PDF or SVG, the format of the suffix of ``path``): (a) the
    loss curves, (b) the GRU's update gate ``gate`` (T, D) on one sequence ``x`` (T, 1, 2)
    with marked steps ``marked`` (2,), for which the GRU answered ``answer``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 8.5), layout="constrained")
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, height_ratios=[1, 1.1])

    steps = np.arange(1, args.steps + 1)
    for name, l in losses.items():
        top.plot(steps, l, color=COLORS[name], alpha=0.25, linewidth=0.8)
        top.plot(
            steps, running_mean(l), color=COLORS[name], linewidth=2, label=f"{name} (mean of {SMOOTH} steps)"
        )
    top.axhline(
        baseline,
        color="black",
        linestyle="--",
        linewidth=1.2,
        label=f"baseline: always answer {GUESS} (MSE {baseline:.3f})",
    )
    top.set_yscale("log")
    top.set_xlabel("training step")
    top.set_ylabel("mean squared error (log scale)")
    top.set_title(f"(a) training loss on the adding problem, sequences of T = {args.seq_len} steps")
    top.legend(loc="lower left", title="faint: the loss of each step")
    top.grid(True, which="major", alpha=0.4)
    top.grid(True, which="minor", alpha=0.12)

    T, D = gate.shape
    image = bottom.imshow(
        gate.T,
        aspect="auto",
        cmap="viridis",
        vmin=0,
        vmax=1,
        extent=(0.5, T + 0.5, D + 0.5, 0.5),
        interpolation="nearest",
    )
    for t in marked:  # X[t] feeds Z_{t+1}
        bottom.axvline(t + 1, color="red", linestyle="--", linewidth=1.5)
        bottom.annotate(
            f"marked: {x[t, 0, 0]:.2f}",
            (t + 1, 0.5),
            xytext=(0, 4),
            textcoords="offset points",
            ha="center",
            va="bottom",
            color="red",
        )
    bottom.set_xlabel("time step t")
    bottom.set_ylabel("hidden unit")
    bottom.set_title(
        f"(b) the trained GRU's update gate $Z_t$ on one test sequence: target "
        f"{x[marked, 0, 0].sum():.2f}, the GRU answers {answer:.2f}",
        pad=18,
    )
    fig.colorbar(image, ax=bottom, label="$Z_t$   (1: keep the state, 0: overwrite it)")
    fig.savefig(path, format=os.path.splitext(path)[1][1:].lower(), dpi=110)


PICTURE_FORMATS = (".png", ".pdf", ".svg")  # matplotlib writes each without extra packages


def parse_args(argv):
    parser = Parser(
        prog="python -m mygru demo",
        description="Train an Elman RNN, a GRU and an LSTM side by side on the adding "
        "problem and draw the loss curves and the GRU's update gate.",
    )
    for flag, kind, default, meaning in [
        ("--steps", positive(int), 1000, "training steps"),
        ("--seq-len", positive(int), 50, "sequence length T, at least 2"),
        ("--batch", positive(int), 32, "sequences per step"),
        ("--hidden", positive(int), 32, "hidden units D"),
        ("--lr", positive(float), 0.02, "Adam's learning rate"),
        ("--seed", int, 0, "seed of everything random, >= 0"),
        ("--out", output_file(PICTURE_FORMATS), "mygru_demo.png", "the picture to write: .png, .pdf or .svg"),
    ]:
        parser.add_argument(flag, type=kind, default=default, help=f"{meaning} (default {default})")
    args = parser.parse_args(argv)
    if args.seq_len < 2:
        parser.error(f"argument --seq-len: must be >= 2 (two marked steps), got {args.seq_len}")
    if args.seed < 0:
        parser.error(f"argument --seed: must be >= 0, got {args.seed}")
    return args


def main(argv):
    """Runs the demo with command-line arguments ``argv``; returns the exit status."""
    try:
        args = parse_args(argv)
    except SystemExit as stop:  # --help, or a bad argument (argparse printed why)
        return stop.code
    missing = [name for name in ("mynn", "tqdm", "matplotlib") if importlib.util.find_spec(name) is None]
    if missing:
        print(f'python -m mygru demo needs {", ".join(missing)}: pip install "mygru[demo]"', file=sys.stderr)
        return 1

    print(
        f"mygru demo: the adding problem\n"
        f"  each sequence has {args.seq_len} steps of (a random number in [0, 1], a marker);\n"
        f"  the marker is 1 at two steps, one in each half, and the target is the sum of\n"
        f"  the two marked numbers\n"
        f"  models: {', '.join(MODELS)}, {args.hidden} hidden units, linear readout of the last state\n"
        f"  training: mynn's Adam, lr {args.lr:g}, batch {args.batch}, steps {args.steps}, "
        f"seed {args.seed}",
        flush=True,
    )
    seeds = np.random.SeedSequence(args.seed).spawn(3)  # independent streams from one seed
    init_rng, data_rng, test_rng = (np.random.default_rng(s) for s in seeds)
    params, losses = train(args, init_rng, data_rng)

    X, marked, y = adding_problem(args.seq_len, TEST_SIZE, test_rng)
    baseline = float(np.mean((y - GUESS) ** 2))
    with mg.no_autodiff:
        mse = {
            name: float(np.mean((predict(cell, params[name], X).data - y) ** 2))
            for name, (cell, _) in MODELS.items()
        }
    verdicts = {name: verdict(m, baseline) for name, m in mse.items()}
    print(f"\ntest MSE on {TEST_SIZE} new sequences (always answering {GUESS} scores {baseline:.4f}):")
    for name, m in mse.items():
        print(f"  {name:<10} {m:.5f}  ({100 * m / baseline:5.1f}% of that)  {verdicts[name]}")
    ranked = sorted(mse, key=mse.get)
    print(
        "verdict: " + "; ".join(f"the {name} {verdicts[name]}" for name in MODELS) + ".\n"
        f"         lowest test MSE first: {' < '.join(ranked)}; the {ranked[0]}'s is "
        f"{mse[ranked[-1]] / mse[ranked[0]]:.1f} times lower than the {ranked[-1]}'s."
    )

    x = X[:, :1]
    with mg.no_autodiff:
        answer = predict(mygru.gru, params["GRU"], x).item()
    draw(args.out, args, losses, baseline, update_gate(params["GRU"], x), marked[:, 0], x, answer)
    print(f"picture: {args.out} (loss curves; the GRU's update gate on one test sequence)")
    return 0
