"""The sweep's figures: the phase diagram and the boundaries between outcomes."""

from __future__ import annotations

import os

from .grid import OUTCOMES

# ---- figures -----------------------------------------------------------------------------------


def plot_phase_diagram(rows, out, *, x="eta_lambda0", y="m", title=None) -> list[str]:
    """Outcome of every run on the (x, y) plane, and the fitted constants across the grid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in rows if r.get("status") == "ok"]
    colors = dict(monotone="#2a9d8f", eos="#e9c46a", catapult="#f4a261", diverged="#e76f51")
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for oc in OUTCOMES:
        pts = [(float(r[x]), float(r[y])) for r in ok if r["outcome"] == oc]
        if pts:
            ax.scatter(*zip(*pts, strict=True), s=60, color=colors[oc], label=oc, edgecolor="k", lw=0.5)
    if x == "eta_lambda0":
        for v, ls in ((2, "--"), (4, ":")):
            ax.axvline(v, color="k", ls=ls, lw=1)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ys = sorted({float(r[y]) for r in ok})
    if len(ys) > 2 and ys[0] > 0:
        ax.set_yscale("log")
        ax.set_yticks(ys, [f"{v:g}" for v in ys])
        ax.minorticks_off()
    ax.legend(fontsize=8, loc="best")
    ax.set_title(title or "outcome of GD across the grid")
    fig.tight_layout()
    p1 = os.path.join(out, "phase_diagram.png")
    fig.savefig(p1, dpi=110)
    plt.close(fig)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for a, key, lab in zip(
        axes,
        ("max_eta_lambda", "a31_agreement", "time_in_eos"),
        ("fitted K = max ηΛ (A3.4)", "A3.1 agreement rate", "fraction of steps with ηΛ > 2"),
        strict=True,
    ):
        conv = [r for r in ok if r["outcome"] != "diverged"]
        sc = a.scatter(
            [float(r[x]) for r in conv],
            [float(r[y]) for r in conv],
            c=[float(r[key]) for r in conv],
            s=60,
            cmap="viridis",
            edgecolor="k",
            lw=0.5,
        )
        fig.colorbar(sc, ax=a)
        a.set_title(lab, fontsize=10)
        a.set_xlabel(x)
        a.set_ylabel(y)
    fig.tight_layout()
    p2 = os.path.join(out, "constants.png")
    fig.savefig(p2, dpi=110)
    plt.close(fig)
    return [p1, p2]


def boundaries(rows, *, x="eta_lambda0", group="m") -> dict:
    """Per value of ``group``: the smallest x that catapulted and the smallest that diverged."""
    out = {}
    for g in sorted({r[group] for r in rows if r.get("status") == "ok"}, key=float):
        rs = [r for r in rows if r.get("status") == "ok" and r[group] == g]
        cat = [float(r[x]) for r in rs if r["outcome"] == "catapult"]
        div = [float(r[x]) for r in rs if r["outcome"] == "diverged"]
        conv = [float(r[x]) for r in rs if r["outcome"] != "diverged"]
        out[g] = dict(
            catapult_from=min(cat) if cat else None,
            diverges_from=min(div) if div else None,
            converges_up_to=max(conv) if conv else None,
        )
    return out
