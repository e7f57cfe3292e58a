"""Figs. 20–21 (A4.3): ‖Ê(t)‖ in the EoS for several widths."""

from __future__ import annotations

import numpy as np

import linnet

from ..figures import new, save
from ..rules import (
    Missing,
    NotComparable,
    claim_rule,
    metric,
    verdict_of,
)
from ..verdicts import MIN_PS_STEPS, Regime, choose_eta_lambda0
from .common import checked_lambda0
from .context import ExperimentResult

# Fig. 20 (A4.3 is an assumption about the EoS): every width must reach the EoS and oscillate. From
# α²WᵀW ≈ I (scale 1) PS is slow and slower for wider nets (ηΛ(0) = 1.5: PS of 169 steps at m = 50,
# 657 at m = 400; 1.0: none at m = 400 within 2,000 steps; full size, seed 0), so each width takes
# the first of these giving a PS of ≥ 100 steps, as Fig. 1 does.
E_HAT_C = (1.5, 1.0, 0.75)


def e_hat_width(ctx):
    """Fig. 20: ‖Ê(t)‖ in the EoS for several widths, in the theory's scaling (samples of norm 1,
    symmetric init with α²WᵀW ≈ I, α = 1/√m) at ηΛ(0) = E_HAT_C; each run's regime is stored."""
    ds = ctx.unit_images()
    widths = ctx.size((26, 50, 100), (50, 100, 200, 400))
    steps = ctx.size(2000, 4000)
    fig, ax = new(1, 2, w=6.0)
    metrics, files = {"widths": {}}, []
    for m in widths:
        # scale 1: α²WᵀW ≈ I on average, so what is left of Ê is the width's 1/√m fluctuation
        # (scale 0.5 would add (0.25 − 1)K to Ê at every width)
        W, a = linnet.init_params(m, ds.X, scheme="symmetric", scale=1.0, seed=ctx.seed)
        lam0 = checked_lambda0(linnet.sharpness(W, a, ds.X), f"e_hat_width, m = {m}")

        def probe(c, W=W, a=a, lam0=lam0):
            return ctx.train(ds.X, ds.Y, eta=c / lam0, steps=MIN_PS_STEPS, W0=W, a0=a, e_hat_every=0)

        c, _ = choose_eta_lambda0(E_HAT_C, probe)
        tr = ctx.train(ds.X, ds.Y, eta=c / lam0, steps=steps, W0=W, a0=a)
        files.append(ctx.keep(f"e_hat_width_m{m}", tr, ds.X, ds.Y))
        reg = Regime.of(tr)
        eos = tr.e_hat_step >= (reg.first_crossing if reg.first_crossing is not None else tr.steps + 1)
        ax[0, 0].semilogy(tr.e_hat_step, tr.e_hat_norm, lw=1, label=f"m = {m}")
        move = float(np.linalg.norm(tr.W_final - tr.W0) / np.linalg.norm(tr.W0))
        metrics["widths"][m] = dict(
            regime=reg.as_dict(),
            eta_lambda0=c,
            median_e_hat_eos=float(np.median(tr.e_hat_norm[eos])) if eos.any() else None,
            max_e_hat=float(tr.e_hat_norm.max()),
            W_move=move,
        )
        ax[0, 1].plot([m], [move], "o", color="C0")
    ax[0, 0].set_title("‖Ê(t)‖ for several widths")
    ax[0, 0].set_xlabel("GD step")
    ax[0, 0].legend(fontsize=8)
    ax[0, 1].set_xscale("log")
    ax[0, 1].set_yscale("log")
    ax[0, 1].set_xlabel("width m")
    ax[0, 1].set_title("‖W(T) − W(0)‖_F / ‖W(0)‖_F")
    return ExperimentResult(
        "e_hat_width",
        "‖Ê(t)‖ for several widths and the movement of W (A4.3)",
        "Fig. 20, 21",
        dict(
            data=ds.name + ", samples scaled to norm 1",
            widths=list(widths),
            init="symmetric",
            scale=1.0,
            alpha="1/sqrt(m)",
            eta_lambda0_candidates=list(E_HAT_C),
            steps=steps,
        ),
        [save(fig, ctx.fig("e_hat_width"))],
        metrics,
        notes="A4.3 is an assumption about the EoS: the rule reads the median of ‖Ê‖ over each run's "
        "steps after its first crossing of 2/η, and needs every width to oscillate there.",
        trajectories=files,
    )


def e_hat_shrinks(f):
    widths = metric(f, "e_hat_width", "widths")
    if len(widths) < 2:
        raise Missing("fewer than two widths")
    why = [
        f"m = {m}: {Regime.from_dict(w['regime']).eos_gate()}"
        for m, w in widths.items()
        if Regime.from_dict(w["regime"]).eos_gate() is not None
    ]
    if why:
        raise NotComparable("A4.3 is about the EoS; " + "; ".join(why))
    pts = sorted((int(m), w["median_e_hat_eos"]) for m, w in widths.items())
    m, e = np.array(pts, dtype=float).T
    slope = float(np.polyfit(np.log(m), np.log(e), 1)[0])
    ok = bool(np.all(np.diff(e) < 0)) and slope <= -0.25 and e[-1] < 1
    return (
        verdict_of(ok),
        slope,
        "over each width's EoS steps, median ‖Ê‖ decreasing in m with a log-log slope ≤ −0.25, and "
        "< 1 at the largest width",
        "medians " + ", ".join(f"m = {int(a)}: {b:.3g}" for a, b in pts),
    )


RULES = [claim_rule("d22.e_hat", "e_hat_width", e_hat_shrinks)]
