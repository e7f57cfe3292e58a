"""App. E.2, Fig. 26: Lemma E.7 and condition (20) for every eigen-direction of G."""

from __future__ import annotations

import numpy as np

import theory
from theory.phases import first_above

from ..figures import new, save
from ..rules import (
    MIN_STATEMENT_STEPS,
    NotComparable,
    Rule,
    claim_rule,
    metric,
    status_rule,
    verdict_of,
)
from .context import ExperimentResult


def lemma_e7(ctx):
    ds, cfg, tr, rec = ctx.theory_run()
    from theory.lemmas import lemma_e7_window

    w = ctx.e7()
    c20, e7 = lemma_e7_window(w)
    lhs, rhs = np.abs(w["d_dudt"]), w["lam"] * np.abs(w["du"])
    ratio = lhs / np.maximum(rhs, 1e-300)
    r = ratio.shape[1]
    i = np.arange(1, r + 1)
    fig, ax = new(1, 2, w=6.6)
    ax[0, 0].loglog(i, ratio.max(axis=0), lw=1, label="max over the window")
    ax[0, 0].loglog(i, np.median(ratio, axis=0), lw=1, label="median over the window")
    ax[0, 0].axhline(1, color="k", ls="--", lw=1, label="cond (20) bound")
    ax[0, 0].set_xlabel("eigen-direction i of G (by eigenvalue)")
    ax[0, 0].set_ylabel("|⟨D, du_i/dt⟩| / (λ_i|⟨D, u_i⟩|)")
    ax[0, 0].set_title(f"cond (20) for every i, steps 0–{ratio.shape[0] - 1}")
    ax[0, 0].legend(fontsize=8)
    held = ratio <= 1
    ax[0, 1].plot(held.mean(axis=1), lw=1, label="share of i with cond (20)")
    ax[0, 1].plot((w["fu"] * w["du"] <= 0).mean(axis=1), lw=1, label="share of i with ⟨F,u_i⟩⟨D,u_i⟩ ≤ 0")
    ax[0, 1].plot(w["eta"] * w["lam"][:, 0] / 2, lw=1, label="ηΛ/2")
    ax[0, 1].set_xlabel("GD step")
    ax[0, 1].set_ylim(0, 1.2)
    ax[0, 1].legend(fontsize=8)
    ax[0, 1].set_title("per step")
    table = theory.CheckTable((c20, e7))
    metrics = dict(
        window_steps=int(ratio.shape[0]),
        directions=r,
        cond20_pairs_held=float(held.mean()),
        cond20_directions_held_every_step=int(held.all(axis=0).sum()),
        cond20_top_directions_held_every_step=int(c20.fitted["top_held_every_step"]),
        cond20_steps_all_i=int(c20.conclusion.sum()),
        cond20_i1_rate=float(held[:, 0].mean()),
        cond20_held_rate_by_direction=held.mean(axis=0).tolist(),
        e7_status=e7.status,
        e7_applicable_steps=e7.applicable,
        fd_nonpositive_rate=float(e7.fitted["fd_nonpositive_rate"]),
        first_sign_change=e7.fitted["first_sign_change"],
        first_eta_lambda_above_2=int(first_above(w["lam"][:, 0], w["eta"])),
    )
    return ExperimentResult(
        "lemma_e7",
        "Lemma E.7 and condition (20) for every eigen-direction",
        "App. E.2, Fig. 26",
        dict(
            run="theory-scaling run (as in ps_eos)",
            m=cfg["m"],
            eta=cfg["eta"],
            window=f"steps 0–{ratio.shape[0] - 1} (G's eigh at each; its premises run from t = 0)",
        ),
        [save(fig, ctx.fig("lemma_e7"))],
        metrics,
        {"Lemma E.7 window": table},
        notes="G's full eigendecomposition at every step of the window (an independent literal "
        "replay, theory.lemmas.e7_window); du_i/dt ≈ (u_i(t+1) − u_i(t))/η. The lemma's "
        "premises must hold from t = 0, so the window starts there and spans the first "
        "entry into ηΛ > 2. The paper (App. E.2.3) reports that (20) fails for the "
        "directions of small eigenvalues.",
        trajectories=[ctx.keep("ps_eos_theory_scaling", tr, ds.X, ds.Y)],
    )


# App. E.2.3: (20) "holds for [the top directions] during the first hundred iterations" and "for very
# large i […] does not hold": the top and bottom tenth of the directions (by eigenvalue, at least one
# each); "holds" read as on ≥ 90% of the window's steps, "does not hold" as on ≤ 50%.
COND20_HOLDS, COND20_FAILS, COND20_TAIL = 0.9, 0.5, 0.1


def cond20_profile(f):
    rates = np.asarray(metric(f, "lemma_e7", "cond20_held_rate_by_direction"), dtype=float)
    steps = metric(f, "lemma_e7", "window_steps")
    if steps < MIN_STATEMENT_STEPS:
        raise NotComparable(f"a window of {steps} steps: fewer than {MIN_STATEMENT_STEPS}")
    k = max(1, int(COND20_TAIL * rates.size))
    top, bottom = float(np.median(rates[:k])), float(np.median(rates[-k:]))
    return (
        verdict_of(top >= COND20_HOLDS and bottom <= COND20_FAILS),
        f"top: {top:.2f}, bottom: {bottom:.2f}",
        f"over the window, the median share of steps where (20) holds is ≥ {COND20_HOLDS} for the top "
        f"{COND20_TAIL:.0%} of the directions and ≤ {COND20_FAILS} for the bottom {COND20_TAIL:.0%}",
        f"{k} directions in each tenth, {steps} steps",
    )


RULES = [
    claim_rule("e23.cond20", "lemma_e7", cond20_profile),
    Rule("Lemma E.7", "App. E.2", "lemma_e7", status_rule("lemma_e7", "", "Lemma E.7")),
]
