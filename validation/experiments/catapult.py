"""§2, App. C: the one-point catapult of Lewkowycz et al."""

from __future__ import annotations

import numpy as np

import linnet
from theory.claims import CONSISTENCY

from ..figures import new, save
from ..rules import (
    claim_rule,
    metric,
    verdict_of,
)
from .context import ExperimentResult


def catapult(ctx):
    m = ctx.size(256, 1024)
    grid = np.round(np.arange(1.5, 5.01, ctx.size(0.25, 0.1)), 3)
    X, Y = np.array([[1.0], [0.0], [0.0]]), np.array([1.0])
    W, a = linnet.init_params(m, X, scheme="gaussian", seed=ctx.seed)
    lam0 = linnet.sharpness(W, a, X)
    rows, files = [], []
    for el in grid:
        tr = ctx.train(X, Y, eta=float(el / lam0), steps=2000, W0=W, a0=a, e_hat_every=0)
        files.append(ctx.keep(f"catapult_eta_lambda0_{el:.2f}", tr, X, Y))
        diverged = tr.stopped is not None
        catapult_ = (not diverged) and bool(tr.loss.max() > tr.loss[0] * (1 + 1e-9))
        rows.append((float(el), diverged, catapult_, float(tr.eta * tr.sharpness[-1])))
    els = np.array([r[0] for r in rows])
    div = np.array([r[1] for r in rows])
    cat = np.array([r[2] for r in rows])
    fin = np.array([r[3] for r in rows])
    fig, ax = new(1, 1)
    a_ = ax[0, 0]
    a_.plot(els[~div], fin[~div], "o", label="converged: final ηΛ")
    a_.plot(els[div], np.full(div.sum(), 4.2), "x", color="C3", label="diverged")
    a_.axvline(2, color="k", ls="--", lw=1)
    a_.axvline(4, color="k", ls=":", lw=1)
    a_.plot(els, els, color="grey", lw=0.5, label="ηΛ unchanged")
    a_.axhline(2, color="k", lw=0.5)
    a_.set_xlabel("ηλ₀")
    a_.set_ylabel("ηΛ at the end")
    a_.set_title(f"One data point, width {m}: catapult between 2/λ₀ and 4/λ₀")
    a_.legend(fontsize=8)
    first_cat = float(els[cat].min()) if cat.any() else None
    first_div = float(els[div].min()) if div.any() else None
    return ExperimentResult(
        "catapult",
        "The one-point catapult (Lewkowycz et al.)",
        "§2, App. C",
        dict(m=m, grid=f"ηλ₀ from {grid[0]} to {grid[-1]}", steps=2000),
        [save(fig, ctx.fig("catapult"))],
        dict(
            catapult_from=first_cat,
            diverges_from=first_div,
            all_converged_below_2=bool(np.all(fin[~div] < 2 + 1e-9)),
            grid_step=float(ctx.size(0.25, 0.1)),
        ),
        trajectories=files,
    )


def catapult_window(f):
    """The one-point catapult window: a theorem of Lewkowycz et al. (2020) that this paper only
    cites (A3.4's K = 4), on X = e₁, y = 1: data-free, so it can fail only through a bug in the
    engine — a consistency row (an implementation check), not a reproduction of this paper."""
    c, d, step = metric(f, "catapult", "catapult_from", "diverges_from", "grid_step")
    ok = abs(c - 2) <= step + 1e-9 and abs(d - 4) <= step + 1e-9
    return dict(
        verdict=verdict_of(ok),
        number=f"[{c:g}, {d:g})",
        threshold="catapult from ηλ₀ ≈ 2 and divergence from ηλ₀ ≈ 4, within one grid step",
        reason="another paper's theorem (Lewkowycz et al.), cited by this one for A3.4; one data point, "
        "data-free: it checks the engine",
        kind=CONSISTENCY,
        network="linear",
    )


RULES = [claim_rule("c.catapult", "catapult", catapult_window, kind=CONSISTENCY)]
