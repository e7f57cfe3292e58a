"""Fig. 12: labels along K's top vs bottom eigenvector vs random, at a small ηΛ(0)."""

from __future__ import annotations

import numpy as np

import linnet

from ..figures import new, save
from ..rules import DIFFERS, NOT_COMPARABLE, REPRODUCED, claim_rule, metric
from .common import SMALL_C, below_2_over_eta, checked_lambda0, torch_run
from .context import ExperimentResult
from .e_hat_width import _jit

# App. B.1.4 labels along "a bottom eigenvector" (which one is lost from the text). The very last
# one can carry an eigenvalue so small that its label is not learnt at all within the run (on real
# patches λ_min/λ_max = 2.1e-7: degree exactly 1, the row not comparable), which says nothing about
# PS. Along eigenvector i, GD shrinks the residual by about (1 − c·λ_i/λ_1) a step (G ≈ κK, ηΛ(0) =
# c), to a tenth (the loss to 1%, CONVERGED) after ln 10/(c·λ_i/λ_1) steps; the bottom eigenvector
# is the one with the smallest eigenvalue that does so within HALF the run (a margin for G ≠ κK):
# λ_i ≥ λ_1·ln(10)/(c·steps/2) — 1.15e-3·λ_1 at the full size (c = 0.2, 20,000 steps).
LEARN_WITHIN = 0.5
CONTROL_SEED = 1000  # the control's init seed: ctx.seed + CONTROL_SEED


def bottom_index(evals, c, steps) -> int:
    """The index (ascending order) of the smallest eigenvalue ≥ λ_max·ln(10)/(c·steps·LEARN_WITHIN)."""
    floor = evals[-1] * np.log(10) / (c * steps * LEARN_WITHIN)
    return int(np.flatnonzero(evals >= floor)[0])


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
    evals, V = np.linalg.eigh(X.T @ X / n)
    ib = bottom_index(evals, SMALL_C, steps)
    rng = np.random.default_rng(ctx.seed)
    targets = {
        "random": rng.choice([-1.0, 1.0], n),
        "top": np.sqrt(n) * V[:, -1],
        "bottom": np.sqrt(n) * V[:, ib],
    }
    fig, ax = new(1, 1)
    metrics, files = {}, []
    for lab, Y in targets.items():
        tr = torch_run(ctx, X, Y, m, SMALL_C, steps, jit=_jit(ctx))
        files.append(ctx.keep(f"labels_{lab}", tr, X, Y))
        metrics[lab] = below_2_over_eta(tr, f"the {lab}-label run")
        ax[0, 0].plot(
            SMALL_C * np.arange(tr.sharpness.size),
            tr.sharpness / tr.sharpness[0],
            lw=1,
            label=f"labels along the {lab} eigenvector" if lab != "random" else "random ±1 labels",
        )
    # the control: the bottom label again, from another init (CONTROL_SEED): the same alignment, so
    # the rule must find no difference (two random draws would do too, but at ηΛ(0) = 0.2 they reach
    # 2/η before converging: measured at the full size, steps 18,732 and 18,641 of 20,000)
    W, a = linnet.init_params(m, X, scheme="torch", seed=ctx.seed + CONTROL_SEED, alpha=1.0)
    eta = SMALL_C / checked_lambda0(linnet.sharpness(W, a, X, alpha=1.0), "the labels control")
    tr = ctx.train(
        X, targets["bottom"], eta=eta, steps=steps, W0=W, a0=a, alpha=1.0, e_hat_every=0, jit=_jit(ctx)
    )
    files.append(ctx.keep("labels_bottom_control", tr, X, targets["bottom"]))
    metrics["bottom_control"] = below_2_over_eta(
        tr, f"the bottom-label run from init seed {ctx.seed + CONTROL_SEED}"
    )
    ax[0, 0].set_xlabel("ηΛ(0)·t")
    ax[0, 0].set_ylabel("Λ(t)/Λ(0)")
    ax[0, 0].set_title("Degree of progressive sharpening vs the labels' direction")
    ax[0, 0].legend(fontsize=8)
    metrics["bottom_eigenvector"] = dict(
        index_from_bottom=ib,
        eigenvalue_over_top=float(evals[ib] / evals[-1]),
        smallest_over_top=float(evals[0] / evals[-1]),
    )
    cfg = dict(n=n, d=d, m=m, init="torch", alpha=1.0, eta_lambda0=SMALL_C, steps=steps, data=src)
    metrics = dict(  # flat numbers first, for the report's summary line
        degree_top=metrics["top"]["degree"],
        degree_bottom=metrics["bottom"]["degree"],
        degree_bottom_control=metrics["bottom_control"]["degree"],
        **metrics,
    )
    return ExperimentResult(
        "labels",
        "Labels along K's top vs bottom eigenvector vs random",
        "Fig. 12",
        cfg,
        [save(fig, ctx.fig("labels"))],
        metrics,
        notes=f'ηΛ(0) = {SMALL_C:g}, small "so that the training converges before EOS can happen" (App. '
        "B.1.4); the degree of PS is max Λ/Λ(0) up to convergence. The bottom eigenvector is K's "
        f"{ib + 1}-th smallest (λ/λ_max = {evals[ib] / evals[-1]:.3g}; the smallest has "
        f"{evals[0] / evals[-1]:.3g}): the smallest eigenvalue whose label GD can learn within half the run "
        "at the initial rate. The control is the bottom label from another init against the bottom run.",
        trajectories=files,
    )


# "relatively small" / "relatively large": the top-label run's growth of Λ (degree − 1) at most half
# the bottom-label run's. A strict "<" would pass by chance on two runs that differ only by noise
# (the control, two random label draws, would then "reproduce" half the time).
GROWTH_RATIO = 0.5


def compare_growth(a: dict, b: dict, name_a: str, name_b: str) -> tuple[str, float, str]:
    """(verdict, ratio, why) of "a's growth of Λ < GROWTH_RATIO × b's" on two below-EoS runs
    (common.below_2_over_eta). A degree is final once its run has converged, before that a lower
    bound (a running maximum): "reproduced" needs a converged, "differs" needs b converged."""
    why = [r["outside"] for r in (a, b) if r.get("outside")]
    ga, gb = a["degree"] - 1, b["degree"] - 1
    ratio = ga / gb if gb > 0 else float("inf")
    txt = f"degrees {a['degree']:.4g} ({name_a}) vs {b['degree']:.4g} ({name_b}): growth ratio {ratio:.3g}"
    if why:
        return NOT_COMPARABLE, ratio, "; ".join(why)
    if ratio < GROWTH_RATIO and a["converged"]:
        return REPRODUCED, ratio, txt
    if ratio >= GROWTH_RATIO and b["converged"]:
        return DIFFERS, ratio, txt
    open_run, name = (a, name_a) if ratio < GROWTH_RATIO else (b, name_b)
    return (
        NOT_COMPARABLE,
        ratio,
        txt
        + f"; the {name} run has not converged in {open_run['steps']} steps, so its degree may still grow",
    )


def label_alignment(f):
    top, bottom, b2 = metric(f, "labels", "top", "bottom", "bottom_control")
    v, ratio, why = compare_growth(top, bottom, "top", "bottom")
    cv, cratio, cwhy = compare_growth(b2, bottom, "bottom (other init)", "bottom")
    out = dict(
        verdict=v,
        number=None if v == NOT_COMPARABLE else ratio,
        threshold=(
            "at a small ηΛ(0), the growth of Λ (max Λ/Λ(0) − 1, up to convergence) with labels along "
            f"K's top eigenvector < {GROWTH_RATIO:g} × the growth along a learnable bottom one"
        ),
        reason=why,
        control=dict(
            what=f"the bottom label from init seed + {CONTROL_SEED} in the top label's place (the same "
            "alignment): " + cwhy,
            number=cratio,
            verdict=cv,
        ),
        network="linear",
    )
    return out


RULES = [claim_rule("b14.labels", "labels", label_alignment)]
