"""Figs. 2, 3(a), 13 on the linear net: ‖a‖² against the sharpness, and the Gram split ‖G_A‖, ‖G_h‖, ‖G‖."""

from __future__ import annotations

import numpy as np

from ..figures import new, save, shade_phases, two_over_eta
from ..rules import (
    Rule,
)
from .common import eos_stats, zoom
from .context import ExperimentResult, replay_span


def a_norm(ctx):
    ds, cfg, tr, rec = ctx.main_run()
    t_end, erec = ctx.eos_window()
    eta = tr.eta
    _, lab, cross = eos_stats(tr.sharpness, tr.loss, eta)
    lo, hi = zoom(cross, tr.steps)
    fig, ax = new(2, 2, w=6.6, h=3.2)
    for a_, sl, title in (
        (ax[0, 0], slice(None), f"whole run ({tr.steps:,} steps)"),
        (ax[0, 1], slice(lo, hi + 1), f"zoom: steps {lo:,}–{hi:,}"),
    ):
        if sl.start is not None:
            shade_phases(a_, lab[sl], tr.step[sl])
        a_.plot(tr.step[sl], tr.sharpness[sl], color="C3", lw=0.8)
        two_over_eta(a_, eta)
        a_.set_xlabel("GD step")
        a_.set_ylabel("sharpness Λ", color="C3")
        b_ = a_.twinx()
        b_.plot(tr.step[sl], tr.a_norm2[sl], color="C2", lw=0.8)
        b_.set_ylabel("‖a‖² (output-layer norm)", color="C2")
        a_.set_title(f"A-norm and sharpness move together: {title}")
    for a_, r_, x0, title in (
        (ax[1, 0], rec, rec.start, f"Gram split, {replay_span(rec)}"),
        (ax[1, 1], erec, t_end, f"Gram split in the EoS, one catapult: steps {t_end:,}–{t_end + erec.T:,}"),
    ):
        x = x0 + np.arange(r_.T + 1)
        Gh = r_.alpha**2 * r_.a_norm2 * r_.lam[0]
        a_.plot(x, r_.sharpness, lw=1, label="‖G‖ = Λ")
        a_.plot(x, r_.ga_norm, lw=1, label="‖G_A‖ = λ_max(α²ZᵀZ/n)")
        a_.plot(x, Gh, lw=1, ls="--", label="‖G_h‖ = α²‖a‖²λ₁")
        a_.set_xlabel("GD step")
        a_.set_title(title)
        a_.legend(fontsize=8)
    s_, a2 = tr.sharpness, tr.a_norm2
    agree = np.sign(np.diff(a2)) == np.sign(np.diff(s_))
    half = tr.steps // 2
    Gh_e = erec.alpha**2 * erec.a_norm2 * erec.lam[0]
    metrics = dict(
        a31_agreement=float(agree.mean()),
        a31_agreement_last_half=float(agree[half:].mean()),
        a31_disagreements=int((~agree).sum()),
        corr_a2_lambda=float(np.corrcoef(a2, s_)[0, 1]),
        corr_a2_lambda_last_half=float(np.corrcoef(a2[half:], s_[half:])[0, 1]),
        mean_Gh_over_G=float(np.mean(rec.alpha**2 * rec.a_norm2 * rec.lam[0] / rec.sharpness)),
        mean_GA_over_G=float(np.mean(rec.ga_norm / rec.sharpness)),
        max_GA_over_G=float(max(np.max(rec.ga_norm / rec.sharpness), np.max(erec.ga_norm / erec.sharpness))),
        mean_GA_over_G_eos=float(np.mean(erec.ga_norm / erec.sharpness)),
        mean_Gh_over_G_eos=float(np.mean(Gh_e / erec.sharpness)),
    )
    return ExperimentResult(
        "a_norm",
        "‖a‖² against sharpness; ‖G_A‖ vs ‖G‖",
        "Fig. 2, 3a, 13",
        cfg,
        [save(fig, ctx.fig("a_norm"))],
        metrics,
        notes="A3.1's agreement rate: fraction of steps where ‖a‖ and Λ change in the same "
        f"direction, over all {tr.steps:,} steps of the Fig. 1 run and over its last half. "
        "The Gram split is computed on the exact replay of the first steps and of "
        f"steps {t_end:,}–{t_end + erec.T:,} (one catapult in the EoS).",
        trajectories=[ctx.keep("ps_eos", tr, ds.X, ds.Y)],
    )


RULES: list[Rule] = []  # its claims are judged on the Fig. 1 run (validation.experiments.ps_eos)
