"""The computational graph of one GRU step (reset before the product), drawn with
matplotlib when the docs build: ``draw()`` returns the figure.

Values are boxes, each edge is labelled with what it does (a product with a weight, a
nonlinearity, an elementwise product); the biases, which only add to A^z, A^r, A^h,
are left out. The four uses of S_{t-1} are drawn in one colour: they are the four
paths by which the gradient gets back to it, and its gradient is their sum.
"""

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

# value: (x, y, label)
NODES = {
    "X": (0.0, 3.2, r"$X_t$"),
    "Sp": (0.0, 0.3, r"$S_{t-1}$"),
    "Az": (3.0, 5.2, r"$A^z_t$"),
    "Ar": (3.0, 2.0, r"$A^r_t$"),
    "Z": (5.2, 5.2, r"$Z_t$"),
    "R": (5.2, 2.0, r"$R_t$"),
    "RS": (7.0, 1.2, r"$R_t \odot S_{t-1}$"),
    "Ah": (8.8, 3.2, r"$A^h_t$"),
    "H": (11.0, 3.2, r"$H_t$"),
    "S": (13.6, 3.2, r"$S_t$"),
}
# (from, to, label, is a use of S_{t-1}, curvature, where along the edge the label sits)
EDGES = [
    ("X", "Az", r"$U_z$", False, 0.0, 0.45),
    ("X", "Ar", r"$U_r$", False, 0.0, 0.45),
    ("X", "Ah", r"$U_h$", False, 0.0, 0.3),
    ("Sp", "Az", r"$W_z$", True, 0.0, 0.7),
    ("Sp", "Ar", r"$W_r$", True, 0.0, 0.55),
    ("Az", "Z", r"$\sigma$", False, 0.0, 0.5),
    ("Ar", "R", r"$\sigma$", False, 0.0, 0.5),
    ("R", "RS", r"$\odot$", False, 0.0, 0.5),
    ("Sp", "RS", r"$\odot$", True, 0.0, 0.6),
    ("RS", "Ah", r"$W_h$", False, 0.0, 0.5),
    ("Ah", "H", r"$\tanh$", False, 0.0, 0.5),
    ("H", "S", r"$(1 - Z_t)\,\odot$", False, 0.0, 0.5),
    ("Z", "S", "(4)", False, 0.0, 0.5),
    ("Sp", "S", r"$Z_t \odot$: the carry", True, 0.3, 0.5),
]
USE = "tab:orange"


def draw():
    plt.rcParams["svg.hashsalt"] = "gru_graph"  # the same SVG in every build
    fig, ax = plt.subplots(figsize=(9.6, 4.6), layout="constrained")
    boxes = {}
    for name, (x, y, label) in NODES.items():
        boxes[name] = ax.text(
            x, y, label, ha="center", va="center", fontsize=13, zorder=3,
            bbox={"boxstyle": "round,pad=0.35", "fc": "#eef3fb", "ec": "#3b5b92"},
        )  # fmt: skip
    for a, b, label, use, rad, at in EDGES:
        (x0, y0, _), (x1, y1, _) = NODES[a], NODES[b]
        color = USE if use else "#444444"
        ax.annotate(
            "", xy=(x1, y1), xytext=(x0, y0),
            arrowprops={
                "arrowstyle": "-|>", "color": color, "lw": 1.6, "shrinkA": 16, "shrinkB": 16,
                "connectionstyle": f"arc3,rad={rad}", "patchA": boxes[a], "patchB": boxes[b],
            },
        )  # fmt: skip
        # on the edge, a fraction ``at`` of the way; a curved edge (arc3, a quadratic
        # Bézier) is pushed out by rad/2 times the chord, turned by 90 degrees
        dx, dy = x1 - x0, y1 - y0
        mx, my = x0 + at * dx + rad * dy / 2, y0 + at * dy - rad * dx / 2
        my += 0.35 if dy == 0 else 0  # above a horizontal edge, which stays visible
        ax.text(mx, my, label, ha="center", va="center", fontsize=11, color=color,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none"}, zorder=4)  # fmt: skip
    ax.text(
        0.0, -1.3, r"the 4 uses of $S_{t-1}$: 4 paths back, $dS_{t-1}$ is their sum",
        color=USE, fontsize=11, ha="left", va="center",
    )  # fmt: skip
    ax.set_xlim(-0.8, 14.3)
    ax.set_ylim(-1.6, 5.8)
    ax.axis("off")
    return fig


def svg():
    fig = draw()
    out = io.StringIO()
    fig.savefig(out, format="svg")
    plt.close(fig)
    return out.getvalue()


if __name__ == "__main__":
    draw().savefig("gru_graph.png", dpi=110)
