"""Figs. 20–21 (A4.3): ‖Ê(t)‖ in the EoS for several widths."""

from __future__ import annotations

import numpy as np

import linnet
import linnet.jit

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
# α²WᵀW ≈ I (scale 1) PS is slow and slower for wider nets, so each width takes the first of these
# giving a PS of ≥ 100 steps, as Fig. 1 does, and a run long enough for its own EoS: steps_per_width
# steps per unit of width, at least the base length (on the photographs at ηΛ(0) = 1.5, seed 0, the
# first crossing comes at steps 596, 1,192, 1,800, 3,193 for m = 50, 100, 200, 400 — roughly 8·m —
# and m = 400 has 5 upward crossings in 8,000 steps; a fixed 4,000 steps left m = 400 with one).
# ‖Ê‖ stays at ‖Ê(0)‖ through PS and grows in steps at the EoS's catapults (W keeps moving), so a
# median over each run's whole EoS would compare windows of different lengths (m = 400 over 12,000
# steps: 0.32; over 8,000: 0.20); the rule reads each width over the same EOS_WINDOW steps from its
# first crossing. (Full size, seed 0, photographs, m = 50/100/200/400: medians over 500 steps
# 0.115/0.12/0.049/0.058 — still Ê(0) —, over 1,000 0.28/0.11/0.12/0.058, over 2,000
# 0.43/0.12/0.12/0.13.)
E_HAT_C = (1.5, 1.0, 0.75)
STEPS_PER_WIDTH = (30, 20)  # (quick, full): the quick data's PS is longer for its width
EOS_WINDOW = (1000, 2000)  # (quick, full) steps from each width's first crossing
# ‖Ê‖ every E_HAT_EVERY steps: the rule reads medians over hundreds of EoS steps
E_HAT_EVERY = 10


def e_hat_width(ctx):
    """Fig. 20: ‖Ê(t)‖ in the EoS for several widths, in the theory's scaling (samples of norm 1,
    symmetric init with α²WᵀW ≈ I, α = 1/√m) at ηΛ(0) = E_HAT_C; each run's regime is stored."""
    ds = ctx.unit_images()
    widths = ctx.size((26, 50, 100), (50, 100, 200, 400))
    base, per_m, window = ctx.size(2000, 4000), ctx.size(*STEPS_PER_WIDTH), ctx.size(*EOS_WINDOW)
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
        steps = max(base, per_m * m)
        tr = ctx.train(
            ds.X, ds.Y, eta=c / lam0, steps=steps, W0=W, a0=a, e_hat_every=E_HAT_EVERY, jit=_jit(ctx)
        )
        files.append(ctx.keep(f"e_hat_width_m{m}", tr, ds.X, ds.Y))
        reg = Regime.of(tr)
        tc = reg.first_crossing if reg.first_crossing is not None else tr.steps + 1
        eos = (tr.e_hat_step >= tc) & (tr.e_hat_step <= tc + window)
        ax[0, 0].semilogy(tr.e_hat_step, tr.e_hat_norm, lw=1, label=f"m = {m}")
        move = float(np.linalg.norm(tr.W_final - tr.W0) / np.linalg.norm(tr.W0))
        metrics["widths"][m] = dict(
            regime=reg.as_dict(),
            eta_lambda0=c,
            steps=steps,
            eos_window=window,
            eos_window_covered=bool(tc + window <= tr.steps),
            median_e_hat_eos=float(np.median(tr.e_hat_norm[eos])) if eos.any() else None,
            max_e_hat=float(tr.e_hat_norm.max()),
            e_hat_init=float(tr.e_hat_norm[0]),
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
    metrics = dict(  # flat numbers first, for the report's summary line
        median_e_hat_eos=[w["median_e_hat_eos"] for w in metrics["widths"].values()],
        e_hat_init=[w["e_hat_init"] for w in metrics["widths"].values()],
        **metrics,
    )
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
            steps=f"max({base}, {per_m}·m)",
            eos_window=window,
            e_hat_every=E_HAT_EVERY,
        ),
        [save(fig, ctx.fig("e_hat_width"))],
        metrics,
        notes="A4.3 is an assumption about the EoS: the rule reads the median of ‖Ê‖ over the "
        f"{window} steps after each run's first crossing of 2/η (the same window for every width), and "
        f"needs every width to oscillate there; each width runs max({base}, {per_m}·m) steps. The "
        "control is the same rule on ‖Ê(0)‖.",
        trajectories=files,
    )


# Fig. 20: ‖Ê‖ "decreases as m becomes larger", and the largest width's is "almost [lost]" (the
# value is lost from the text; "overall quite small" read as < 1, K's own scale with samples of norm
# 1): medians strictly decreasing in m, with a log-log slope ≤ −0.25 (half of the 1/√m at init, so
# that a flat-with-noise profile does not pass), and < 1 at the largest width.
E_HAT_SLOPE, E_HAT_SMALL = -0.25, 1.0


def judge_widths(values: dict) -> tuple[bool, float, str]:
    """The rule on one value of ‖Ê‖ per width: (ok, log-log slope, the values in words)."""
    pts = sorted((int(m), float(v)) for m, v in values.items())
    m, e = np.array(pts, dtype=float).T
    slope = float(np.polyfit(np.log(m), np.log(e), 1)[0])
    ok = bool(np.all(np.diff(e) < 0)) and slope <= E_HAT_SLOPE and e[-1] < E_HAT_SMALL
    return ok, slope, ", ".join(f"m = {int(a)}: {b:.3g}" for a, b in pts)


def e_hat_shrinks(f):
    widths = metric(f, "e_hat_width", "widths")
    if len(widths) < 2:
        raise Missing("fewer than two widths")
    why = [
        f"m = {m}: {Regime.from_dict(w['regime']).eos_gate()}"
        for m, w in widths.items()
        if Regime.from_dict(w["regime"]).eos_gate() is not None
    ] + [
        f"m = {m}: the run ends before {w['eos_window']} steps after its first crossing"
        for m, w in widths.items()
        if Regime.from_dict(w["regime"]).eos_gate() is None and not w.get("eos_window_covered", False)
    ]
    if why:
        raise NotComparable("A4.3 is about the EoS; " + "; ".join(why))
    ok, slope, txt = judge_widths({m: w["median_e_hat_eos"] for m, w in widths.items()})
    # the control: the same rule on ‖Ê(0)‖, the runs at initialisation (where Ê's width profile is
    # the init's 1/√m fluctuation alone); "reproduced" there would make the row consistency
    init = {m: w.get("e_hat_init") for m, w in widths.items()}
    if any(v is None for v in init.values()):
        raise Missing("e_hat_width.e_hat_init not measured")
    c_ok, c_slope, c_txt = judge_widths(init)
    growth = ", ".join(
        f"m = {m}: {w['median_e_hat_eos'] / w['e_hat_init']:.3g}×"
        for m, w in sorted(widths.items(), key=lambda x: int(x[0]))
    )
    return dict(
        verdict=verdict_of(ok),
        number=slope,
        threshold=(
            "over the same number of EoS steps from each width's first crossing, median ‖Ê‖ strictly "
            "decreasing in m with a log-log slope ≤ "
            f"{E_HAT_SLOPE}, and < {E_HAT_SMALL:g} at the largest width"
        ),
        reason=f"medians {txt} (each width's EoS median over its ‖Ê(0)‖: {growth})",
        control=dict(
            what=f"the same rule on ‖Ê(0)‖, the runs at initialisation ({c_txt})",
            number=c_slope,
            verdict=verdict_of(c_ok),
        ),
        network="linear",
    )


def _jit(ctx):
    """The compiled loop (linnet.jit) at the full size, where Numba is installed and the backend is
    NumPy (loading it costs ~10 s a process, more than the quick sizes' runs)."""
    return not ctx.quick and ctx.backend == "numpy" and linnet.jit.available()


RULES = [claim_rule("d22.e_hat", "e_hat_width", e_hat_shrinks)]
