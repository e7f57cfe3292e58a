"""Fig. 17 (A3.5): the stability of G's top eigenvector u₁ on the exact replay."""

from __future__ import annotations

import numpy as np

from ..figures import new, save
from ..rules import (
    Rule,
)
from .context import ExperimentResult, replay_span


def u1_stability(ctx):
    ds, cfg, tr, rec = ctx.main_run()
    from theory.assumptions import u1_change

    ov0 = np.abs(rec.u1 @ rec.u1[0])  # against u₁ at the replay's first step
    ovv = np.abs(rec.u1[:, 0])
    ch = u1_change(rec)
    fig, ax = new(1, 2, w=6.0)
    x = rec.start + np.arange(ov0.size)
    ax[0, 0].plot(tr.step, tr.u1_overlap_init, lw=1, label="|⟨u₁(t), u₁(0)⟩| (whole run)")
    ax[0, 0].plot(x, ov0, lw=1, label=f"|⟨u₁(t), u₁({rec.start})⟩| (replay)")
    ax[0, 0].plot(x, ovv, lw=1, label="|⟨u₁(t), v₁⟩| (replay)")
    ax[0, 0].set_ylim(min(0.9, ov0.min(), ovv.min(), tr.u1_overlap_init.min()) - 0.01, 1.005)
    ax[0, 0].legend(fontsize=8)
    ax[0, 1].semilogy(x[: ch.size], ch, lw=1)
    ax[0, 1].set_title("‖u₁(t+1) − u₁(t)‖ (A3.5 ε)")
    for a in ax[0]:
        a.set_xlabel("GD step")
    return ExperimentResult(
        "u1_stability",
        "Stability of the top eigenvector u₁ (A3.5)",
        "Fig. 17",
        cfg,
        [save(fig, ctx.fig("u1_stability"))],
        dict(
            min_overlap_u1_0=float(np.min(tr.u1_overlap_init)),
            min_overlap_u1_window_start=float(ov0.min()),
            min_overlap_v1=float(ovv.min()),
            eps=float(ch.max()),
            median_step_change=float(np.median(ch)),
        ),
        notes="|⟨u₁(t), u₁(0)⟩| over the whole Fig. 1 run; the rest on its exact replay of "
        f"{replay_span(rec)}, "
        "against u₁ at the replay's first step. The paper reports |⟨u₁(t), u₁(0)⟩| above 0.98 (App. D.1.5).",
        trajectories=[ctx.keep("ps_eos", tr, ds.X, ds.Y)],
    )


RULES: list[Rule] = []  # its claims are judged on the Fig. 1 run (validation.experiments.ps_eos)
