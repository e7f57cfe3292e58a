"""Fig. 15: the first-order approximation of a GD step (A3.2) on the exact replay of the Fig. 1 run."""

from __future__ import annotations

import numpy as np

from ..figures import new, save
from ..rules import (
    Rule,
)
from .context import ExperimentResult, replay_span


def first_order(ctx):
    ds, cfg, tr, rec = ctx.main_run()
    from theory.assumptions import first_order_parts

    (dD, fD, hD), (da, fa, ha) = first_order_parts(rec)
    fig, ax = new(1, 2, w=6.0)
    ax[0, 0].semilogy(np.linalg.norm(dD, axis=1), lw=1, label="‖D⁺ − D‖ (actual)")
    ax[0, 0].semilogy(np.linalg.norm(fD, axis=1), lw=1, label="‖ηGD‖ (first order)")
    ax[0, 0].semilogy(np.maximum(np.linalg.norm(hD, axis=1), 1e-300), lw=1, label="higher order")
    ax[0, 0].set_title("residual change")
    ax[0, 1].semilogy(np.abs(da), lw=1, label="|Δ‖a‖²| (actual)")
    ax[0, 1].semilogy(np.abs(fa), lw=1, label="|(2η/n)⟨F,D⟩| (first order)")
    ax[0, 1].semilogy(np.maximum(np.abs(ha), 1e-300), lw=1, label="(η²α²/n²)‖ZD‖²")
    ax[0, 1].set_title("A-norm change")
    for a in ax[0]:
        a.set_xlabel("GD step")
        a.legend(fontsize=8)
    ratio = np.linalg.norm(hD, axis=1) / np.maximum(np.linalg.norm(dD, axis=1), 1e-300)
    return ExperimentResult(
        "first_order",
        "Quality of the first-order approximation (A3.2)",
        "Fig. 15",
        cfg,
        [save(fig, ctx.fig("first_order"))],
        dict(
            median_higher_over_actual_D=float(np.median(ratio)), max_higher_over_actual_D=float(ratio.max())
        ),
        notes=f"On the exact replay of the Fig. 1 run's {replay_span(rec)}.",
        trajectories=[ctx.keep("ps_eos", tr, ds.X, ds.Y)],
    )


RULES: list[Rule] = []  # its claims are judged on the Fig. 1 run (validation.experiments.ps_eos)
