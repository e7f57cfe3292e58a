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


def _ratios(X):
    """(K's eigenvalues, largest first, and their adjacent ratios λᵢ/λᵢ₊₁), K = XᵀX/n."""
    lam = np.linalg.eigvalsh(X.T @ X / X.shape[1])[::-1]
    lam = lam[lam > lam[0] * 1e-12]
    return lam, lam[:-1] / lam[1:]


def spectrum(ctx):
    fig, ax = new(1, 2, w=6.0)
    metrics = {}
    images = ctx.images()
    # the control: i.i.d. Gaussian samples of the same shape, which have no common direction
    gauss = np.random.default_rng(ctx.seed).standard_normal(images.X.shape)
    for tag, X in (
        ("raw", images.X),
        ("mean subtracted", images.X - images.X.mean(axis=1, keepdims=True)),
        ("gaussian raw", gauss),
        ("gaussian mean subtracted", gauss - gauss.mean(axis=1, keepdims=True)),
    ):
        lam, ratio = _ratios(X)
        style = dict(lw=1, label=tag, ls=":" if tag.startswith("gaussian") else "-")
        ax[0, 0].loglog(np.arange(1, lam.size + 1), lam, **style)
        ax[0, 1].semilogx(np.arange(1, ratio.size + 1), ratio, **style)
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
        dict(data=images.name, control=f"N(0, 1) entries, the images' shape {images.X.shape}"),
        [save(fig, ctx.fig("spectrum"))],
        metrics,
        notes="Mean subtraction removes the common direction and shrinks λ₁/λ₂. Dotted: the control, "
        "Gaussian samples of the same shape (no common direction).",
    )


def _outlier(f, tag):
    """(λ₁/λ₂ above every λᵢ/λᵢ₊₁ for 1 < i < 100 and smaller after mean subtraction, λ₁/λ₂, the
    mean-subtracted λ₁/λ₂) on the data ``tag`` ("" the images, "gaussian_" the control)."""
    r_raw, g_raw, r_ms = metric(
        f,
        "spectrum",
        f"lambda1_over_lambda2_{tag}raw",
        f"max_ratio_i>1_top100_{tag}raw",
        f"lambda1_over_lambda2_{tag}mean_subtracted",
    )
    return r_raw > g_raw and r_ms < r_raw, r_raw, r_ms


def k_spectrum(f):
    ok, r_raw, r_ms = _outlier(f, "")
    ok_c, r_c, r_c_ms = _outlier(f, "gaussian_")
    return dict(
        verdict=verdict_of(ok),
        number=r_raw,
        threshold=(
            "λ₁/λ₂ above every λᵢ/λᵢ₊₁ for 1 < i < 100 (an outlier), and smaller "
            f"after mean subtraction (here {r_ms:.3g})"
        ),
        control=dict(
            what=f"Gaussian samples of the same shape: λ₁/λ₂ {r_c:.3g}, {r_c_ms:.3g} after mean subtraction",
            number=r_c,
            verdict=verdict_of(ok_c),
        ),
    )


RULES = [claim_rule("d21.spectrum", "spectrum", k_spectrum)]
