"""Fig. 11: Gaussian data N(0, I) against the images at the same small ηΛ(0)."""

from __future__ import annotations

import numpy as np

from .. import data as vdata
from ..figures import new, save
from ..rules import (
    NotComparable,
    below_eos,
    claim_rule,
    smaller_degree,
    verdict_of,
)
from .common import SMALL_C, below_2_over_eta, torch_run
from .context import MAIN_C, ExperimentResult


def gaussian(ctx):
    """Fig. 11 at the paper's sizes (width 200, n = 1,000, xᵢ ~ N(0, I_d), labels uniform ±1)
    against the images, at the same ηΛ(0) = SMALL_C; time in units of ηΛ(0)·t. The Gaussian run
    at the Fig. 1 protocol's ηΛ(0) = 1 shows its EoS, which the paper calls not typical."""
    m = ctx.size(100, 200)
    steps = ctx.size(5000, 20000)  # at ηΛ(0) = 0.2 the images take thousands of steps to converge
    images = ctx.images(n=ctx.size(300, 1000), d=ctx.size(768, 3072))
    d, n = images.X.shape  # the Gaussian set as large as the images (with --data: d = 3,072 or 784)
    gauss = vdata.synthetic("gaussian", n=n, d=d, seed=ctx.seed, labels="random")
    fig, ax = new(1, 3, w=4.4)
    metrics, files = {}, []
    # the control: the images again from another init, in the Gaussian run's place (no data changed)
    for tag, ds, seed in (
        ("gaussian", gauss, None),
        ("images", images, None),
        ("images_reinit", images, 10**6),
    ):
        tr = torch_run(ctx, ds.X, ds.Y, m, SMALL_C, steps, seed=None if seed is None else ctx.seed + seed)
        files.append(ctx.keep(f"gaussian_{tag}", tr, ds.X, ds.Y))
        metrics[tag] = below_2_over_eta(tr, f"the {tag} run")
        t = SMALL_C * np.arange(tr.loss.size)
        ax[0, 0].semilogy(t, tr.loss / tr.loss[0], lw=1, label=tag)
        ax[0, 1].plot(t, tr.sharpness / tr.sharpness[0], lw=1, label=tag)
    tr = torch_run(ctx, gauss.X, gauss.Y, m, MAIN_C[0], ctx.size(200, 300))
    files.append(ctx.keep("gaussian_eos", tr, gauss.X, gauss.Y))
    metrics["gaussian_at_eta_lambda0_1"] = dict(
        max_eta_lambda=float(tr.eta * tr.sharpness.max()),
        steps_to_1pct_loss=below_2_over_eta(tr, "")["steps_to_1pct_loss"],
    )
    ax[0, 2].plot(tr.eta * tr.sharpness, lw=1, color="C0")
    ax[0, 2].axhline(2, color="k", ls="--", lw=1)
    ax[0, 2].set_xlabel("GD step")
    ax[0, 2].set_title(f"Gaussian data at ηΛ(0) = {MAIN_C[0]:g}: ηΛ")
    ax[0, 0].set_title(f"loss / L(0), ηΛ(0) = {SMALL_C:g}")
    ax[0, 1].set_title("degree of PS: Λ(t)/Λ(0)")
    for a_ in ax[0, :2]:
        a_.set_xlabel("ηΛ(0)·t")
        a_.legend(fontsize=8)
    cfg = dict(
        n=n,
        d=d,
        m=m,
        init="torch",
        alpha=1.0,
        eta_lambda0=SMALL_C,
        steps=steps,
        data=f"N(0, I_{d}) with uniform ±1 labels; {images.name}",
    )
    return ExperimentResult(
        "gaussian",
        "Gaussian data N(0, I) against the images",
        "Fig. 11",
        cfg,
        [save(fig, ctx.fig("gaussian"))],
        metrics,
        notes=f"Both runs from PyTorch's init at ηΛ(0) = {SMALL_C:g} (App. B.1.4: \"a very small learning "
        'rate (so that the training converges before EOS can happen)"), so neither degree of PS is capped '
        "by the EoS; the third panel is the Gaussian run at the Fig. 1 protocol's ηΛ(0) = 1.",
        trajectories=files,
    )


def _faster_and_less(g, im, name):
    """The rule: run ``g`` reaches 1% of its first loss before the images' run and sharpens less."""
    if g["steps_to_1pct_loss"] is None:
        raise NotComparable(f"the {name} run did not reach 1% of its first loss: no convergence to compare")
    faster = im["steps_to_1pct_loss"] is None or g["steps_to_1pct_loss"] < im["steps_to_1pct_loss"]
    return faster and smaller_degree(g, im, name, "images")


def gaussian_data(f):
    g, im = below_eos(f, "gaussian", "gaussian", "images")
    ok = _faster_and_less(g, im, "Gaussian")
    try:
        (re,) = below_eos(f, "gaussian", "images_reinit")
        ok_c = verdict_of(_faster_and_less(re, im, "re-initialised images"))
    except NotComparable as why:
        re, ok_c = None, f"not comparable ({why})"
    return dict(
        verdict=verdict_of(ok),
        number=g["degree"] / im["degree"],
        threshold="at the same small ηΛ(0), Gaussian data reach 1% of the first loss sooner and sharpen less "
        "(max Λ/Λ(0) up to convergence): the degree ratio Gaussian/images < 1",
        reason=f"1% of the loss at step {g['steps_to_1pct_loss']} (Gaussian) vs "
        f"{im['steps_to_1pct_loss'] or 'not reached'} (images); degrees {g['degree']:.3g} vs "
        f"{im['degree']:.3g}",
        control=dict(
            what="the images again from another init in the Gaussian run's place"
            + (
                ""
                if re is None
                else f": degree {re['degree']:.3g}, 1% of the loss at step {re['steps_to_1pct_loss']}"
            ),
            number=None if re is None else re["degree"] / im["degree"],
            verdict=ok_c if ok_c in ("reproduced", "differs") else "not comparable",
        ),
    )


RULES = [claim_rule("b14.gaussian", "gaussian", gaussian_data)]
