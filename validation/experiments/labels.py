"""Fig. 12: labels along K's top vs bottom eigenvector vs random, at a small ηΛ(0)."""

from __future__ import annotations

import numpy as np

from ..figures import new, save
from ..rules import (
    below_eos,
    claim_rule,
    smaller_degree,
    verdict_of,
)
from .common import SMALL_C, below_2_over_eta, torch_run
from .context import ExperimentResult


def _gaussian_like(ctx, *, n, d, pool):
    """App. B.1.4's Fig. 12 data: n points from N(μ, Σ), μ and Σ the mean and covariance of
    ``pool`` images (the paper: 5,000 CIFAR-10 images; with --data, the suite's loaded ones). A draw
    is μ + C h/√N, C the N centred images as columns and h ~ N(0, I_N): its covariance is CCᵀ/N = Σ."""
    src = ctx.images(n=pool, d=d) if ctx.loader is None else ctx.images()
    N = src.X.shape[1]
    mu = src.X.mean(axis=1, keepdims=True)
    H = np.random.default_rng(ctx.seed + 12).standard_normal((N, n))
    X = mu + (src.X - mu) @ H / np.sqrt(N)
    return X, f"N(μ, Σ) of {N} images ({src.name})"


def labels(ctx):
    """Fig. 12: width 400, 500 points from N(μ, Σ) of the images, labels uniform ±1, along K's top
    eigenvector and along its bottom one (scaled to norm √n), at ηΛ(0) = SMALL_C."""
    n, d, m = ctx.size(200, 500), ctx.size(768, 3072), ctx.size(100, 400)
    steps = ctx.size(5000, 20000)  # "so that the training converges": slow along K's bottom eigenvector
    X, src = _gaussian_like(ctx, n=n, d=d, pool=ctx.size(1000, 5000))
    _, V = np.linalg.eigh(X.T @ X / n)
    rng = np.random.default_rng(ctx.seed)
    targets = {
        "random": rng.choice([-1.0, 1.0], n),
        "top": np.sqrt(n) * V[:, -1],
        "bottom": np.sqrt(n) * V[:, 0],
    }
    fig, ax = new(1, 1)
    metrics, files = {}, []
    for lab, Y in targets.items():
        tr = torch_run(ctx, X, Y, m, SMALL_C, steps)
        files.append(ctx.keep(f"labels_{lab}", tr, X, Y))
        metrics[lab] = below_2_over_eta(tr, f"the {lab}-label run")
        ax[0, 0].plot(
            SMALL_C * np.arange(tr.sharpness.size),
            tr.sharpness / tr.sharpness[0],
            lw=1,
            label=f"labels along the {lab} eigenvector" if lab != "random" else "random ±1 labels",
        )
    ax[0, 0].set_xlabel("ηΛ(0)·t")
    ax[0, 0].set_ylabel("Λ(t)/Λ(0)")
    ax[0, 0].set_title("Degree of progressive sharpening vs the labels' direction")
    ax[0, 0].legend(fontsize=8)
    cfg = dict(n=n, d=d, m=m, init="torch", alpha=1.0, eta_lambda0=SMALL_C, steps=steps, data=src)
    return ExperimentResult(
        "labels",
        "Labels along K's top vs bottom eigenvector vs random",
        "Fig. 12",
        cfg,
        [save(fig, ctx.fig("labels"))],
        metrics,
        notes=f'ηΛ(0) = {SMALL_C:g}, small "so that the training converges before EOS can happen" (App. '
        "B.1.4); the degree of PS is max Λ/Λ(0) over the run.",
        trajectories=files,
    )


def label_alignment(f):
    top, bottom = below_eos(f, "labels", "top", "bottom")
    return (
        verdict_of(smaller_degree(top, bottom, "top-label", "bottom-label")),
        top["degree"] / bottom["degree"],
        "at a small ηΛ(0), the degree of PS (max Λ/Λ(0) up to convergence) with labels along K's top "
        "eigenvector < along its bottom one: ratio < 1",
        f"degrees {top['degree']:.3g} (top) vs {bottom['degree']:.3g} (bottom)",
    )


RULES = [claim_rule("b14.labels", "labels", label_alignment)]
