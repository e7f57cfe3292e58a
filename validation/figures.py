"""Plotting helpers (matplotlib, headless)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

PHASE_COLORS = {2: "#f4a261", 3: "#e76f51", 4: "#8ecae6"}
PHASE_NAMES = {2: "phase II", 3: "phase III", 4: "phase IV"}


def shade_phases(ax, labels, x=None):
    """Shade phases II–IV behind a plot (phase I left white)."""
    labels = np.asarray(labels)
    x = np.arange(labels.size) if x is None else np.asarray(x)
    seen = set()
    start = 0
    for t in range(1, labels.size + 1):
        if t == labels.size or labels[t] != labels[start]:
            lab = int(labels[start])
            if lab in PHASE_COLORS:
                x1 = x[t] if t < labels.size else x[-1]
                ax.axvspan(
                    x[start],
                    x1,
                    color=PHASE_COLORS[lab],
                    alpha=0.25,
                    lw=0,
                    label=None if lab in seen else PHASE_NAMES[lab],
                )
                seen.add(lab)
            start = t


def two_over_eta(ax, eta, scale=1.0, label="2/η"):
    ax.axhline(2 * scale / eta, color="k", ls="--", lw=1, label=label)


def new(nrows=1, ncols=1, w=6.4, h=3.6):
    fig, axes = plt.subplots(nrows, ncols, figsize=(w * ncols, h * nrows), squeeze=False)
    return fig, axes


def save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
