"""Figs. 18–19 (A4.1): K's spectrum and adjacent ratios, with and without mean subtraction."""

from __future__ import annotations

import numpy as np

from ..figures import new, save
from ..rules import (
    claim_rule,
    metric,
    verdict_of,
)
from .context import ExperimentResult


def spectrum(ctx):
    fig, ax = new(1, 2, w=6.0)
    metrics = {}
    for ms in (False, True):
        ds = ctx.images(mean_subtract=ms)
        lam = np.linalg.eigvalsh(ds.X.T @ ds.X / ds.X.shape[1])[::-1]
        lam = lam[lam > lam[0] * 1e-12]
        ratio = lam[:-1] / lam[1:]
        tag = "mean subtracted" if ms else "raw"
        ax[0, 0].loglog(np.arange(1, lam.size + 1), lam, lw=1, label=tag)
        ax[0, 1].semilogx(np.arange(1, ratio.size + 1), ratio, lw=1, label=tag)
        metrics[f"lambda1_over_lambda2_{tag.replace(' ', '_')}"] = float(ratio[0])
        metrics[f"max_ratio_i>1_top100_{tag.replace(' ', '_')}"] = float(ratio[1:100].max())
    ax[0, 0].set_title("eigenvalues of K")
    ax[0, 1].set_title("adjacent ratios λᵢ/λᵢ₊₁ (A4.1)")
    for a in ax[0]:
        a.set_xlabel("i")
        a.legend(fontsize=8)
    return ExperimentResult(
        "spectrum",
        "K's spectrum and adjacent ratios, with and without mean subtraction",
        "Fig. 18, 19",
        dict(data=ctx.images().name),
        [save(fig, ctx.fig("spectrum"))],
        metrics,
        notes="Mean subtraction removes the common direction and shrinks λ₁/λ₂.",
    )


def k_spectrum(f):
    r_raw, g_raw, r_ms = metric(
        f,
        "spectrum",
        "lambda1_over_lambda2_raw",
        "max_ratio_i>1_top100_raw",
        "lambda1_over_lambda2_mean_subtracted",
    )
    ok = r_raw > g_raw and r_ms < r_raw
    return dict(
        verdict=verdict_of(ok),
        number=r_raw,
        threshold=(
            "λ₁/λ₂ above every λᵢ/λᵢ₊₁ for 1 < i < 100 (an outlier), and smaller "
            f"after mean subtraction (here {r_ms:.3g})"
        ),
    )


RULES = [claim_rule("d21.spectrum", "spectrum", k_spectrum)]
