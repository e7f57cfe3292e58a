"""Fig. 3(b): the loss split into its u₁ part and the rest."""

from __future__ import annotations

import numpy as np

from theory.phases import phase_labels

from ..figures import new, save, shade_phases
from ..rules import (
    Rule,
)
from .context import ExperimentResult, replay_span


def _split(r_):
    du = np.sum(r_.D * r_.u1, axis=1)
    L_u1 = du**2 / (2 * r_.n)
    return L_u1, r_.loss - L_u1


def loss_split(ctx):
    ds, cfg, tr, rec = ctx.main_run()
    t_end, erec = ctx.eos_window()
    fig, ax = new(1, 2, w=6.6)
    metrics = {}
    for a_, r_, x0, tag in ((ax[0, 0], rec, rec.start, "early"), (ax[0, 1], erec, t_end, "eos")):
        L_u1, L_rest = _split(r_)
        lab = phase_labels(r_.sharpness, r_.loss, r_.eta)
        x = x0 + np.arange(r_.T + 1)
        shade_phases(a_, lab, x)
        a_.semilogy(x, r_.loss, lw=1, label="L")
        a_.semilogy(x, np.maximum(L_u1, 1e-300), lw=1, label="u₁ part ⟨D,u₁⟩²/2n")
        a_.semilogy(x, L_rest, lw=1, label="the rest ‖P_uD‖²/2n")
        a_.set_xlabel("GD step")
        a_.set_ylabel("loss")
        a_.set_ylim(max(1e-12, r_.loss.min() / 100), r_.loss.max() * 2)
        a_.legend(fontsize=8)
        dL, du1, drest = np.diff(r_.loss), np.diff(L_u1), np.diff(L_rest)
        up = dL > 0
        metrics[f"rises_total_{tag}"] = int(up.sum())
        metrics[f"rises_u1_part_{tag}"] = int((du1 > 0).sum())
        metrics[f"rises_rest_{tag}"] = int((drest > 0).sum())
        # of the loss's rises, the share carried by the u₁ part (its increase ≥ the total increase)
        metrics[f"rise_share_from_u1_{tag}"] = float(np.mean(du1[up] >= dL[up])) if up.any() else None
        metrics[f"rest_rise_over_u1_rise_{tag}"] = (
            float(np.sum(np.maximum(drest, 0)[up]) / np.sum(np.maximum(du1, 0)[up]))
            if up.any() and np.any(du1[up] > 0)
            else None
        )
    ax[0, 0].set_title(f"{replay_span(rec)}: the end of PS and the first catapults")
    ax[0, 1].set_title(f"in the EoS, one catapult: steps {t_end:,}–{t_end + erec.T:,}")
    return ExperimentResult(
        "loss_split",
        "Loss split into its u₁ part and the rest",
        "Fig. 3b",
        cfg,
        [save(fig, ctx.fig("loss_split"))],
        metrics,
        notes="Lemma 3.2, 3.5: the non-monotone loss comes from the u₁ direction. "
        "rise_share_from_u1: of the steps where L rises, the fraction where the u₁ part "
        "rises by at least as much as L; rest_rise_over_u1_rise: the rest's total rise "
        'over those steps relative to the u₁ part\'s ("_eos": the exact replay of '
        f"steps {t_end:,}–{t_end + erec.T:,}, one catapult in the EoS).",
        trajectories=[ctx.keep("ps_eos", tr, ds.X, ds.Y)],
    )


RULES: list[Rule] = []  # its claims are judged on the Fig. 1 run (validation.experiments.ps_eos)
