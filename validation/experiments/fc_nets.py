"""Experiments on deep fully connected nets (paper §3, App. A.2 Table 2, App. B.2, D.3).

The four experiments share their runs (cached on the suite's ``Context``), so they live in one
module with their scorecard rows (``RULES``). Every function is ``(ctx) -> ExperimentResult``;
sizes come from ``ctx.size(quick, full)``. Each result's ``metrics["headline"]`` is a flat dict of
the numbers a scorecard reads.

Step size: η = c/Λ(0), c the first of C_ETA whose first MIN_PS_STEPS steps stay below 2/η (a
progressive PS on the data at hand; validation.verdicts.choose_eta_lambda0). The Hessian at
PyTorch's init exceeds Λ = λ_max(G); it is recorded as ``hessian0``, read
from ``linnet.train(..., steps=0, hessian_every=1)``.

Sizes: full, the paper's (App. A.2, Table 2): the Fig. 1 run's images (the built-in photographs,
or the real images of ``--data``), n = 1,000, d = 3,072, widths 3072→200→200→200→200→1, 800
steps; quick (verdicts on reduced sizes): the same photographs averaged down to 8×8 (d = 192),
n = 200, widths 192→64→64→64→1, 400 steps.
"""

from __future__ import annotations

import numpy as np

import linnet
from linnet.analysis import first_above, phase_fractions, phase_labels, upward_crossings

from ..a31 import (  # noqa: F401 - AGREE, DIFFER, TIE, DEAD: the codes, re-exported with the functions
    AGREE,
    COLLAPSE_RTOL,
    DEAD,
    DIFFER,
    KINDS,
    LATE_FRACTION,
    LATE_LOSS_FRACTION,
    SMOOTH_WIDTH,
    TIE,
    TIE_RTOL,
    TREND_WINDOW,
    a31_agreement,
    classify_disagreements,
)
from ..figures import new, save, shade_phases, two_over_eta
from ..rules import s3_matrix
from ..section3 import Evidence, FirstOrderObserver, judge_run
from ..verdicts import DEEP_NET_C, MIN_PS_STEPS, choose_eta_lambda0
from .common import checked_lambda0
from .context import ExperimentResult

# ---- sizes and the step-size recipe -------------------------------------------------------
C_ETA = DEEP_NET_C  # η = c/Λ(0), c the first of these whose PS lasts ≥ MIN_PS_STEPS steps
QUICK = dict(n=200, d=192, width=64, hidden=3, steps=400)
# the paper's (App. A.2, Table 2): 1,000 images of 3,072 pixels, four hidden layers of width 200;
# 800 steps hold a PS of 140–160 steps and ≥ 5 oscillations for tanh, ReLU and ELU on the built-in
# images (measured at seed 0: c = 0.125, 0.015625, 0.125)
FULL = dict(n=1000, d=3072, width=200, hidden=4, steps=800)
# The paper's deep nets ran in PyTorch with its defaults ("The initialization of each layer follows
# the default initialization of PyTorch", App. A), hence in float32; so do these (a step costs about
# half of float64's at paper size: benchmarks/bench_precision.py, which also measures Λ's float32
# error against float64). The linear net's exact identities keep float64.
DTYPE = "float32"
# the Hessian's λ_max beside the Gram's Λ every this many steps of the runs (the hover
# band is judged on Λ, the sharpness §2 defines; the report gives the Hessian's value beside it)
HESSIAN_EVERY = 100

# ---- shared runs ----------------------------------------------------------------------------


def _sizes(ctx):
    keys = ("n", "d", "width", "hidden", "steps")
    if ctx.deep_nets_full:
        return dict(FULL)
    vals = ctx.size(tuple(QUICK[k] for k in keys), tuple(FULL[k] for k in keys))
    return dict(zip(keys, vals, strict=True))


def _data(ctx):
    def load():
        sz = _sizes(ctx)
        if ctx.loader is not None:  # real images (d = 3072 or 784): pixels in [0, 1] as loaded
            return ctx.loader(per_class=sz["n"] // 2, mean_subtract=False)
        return ctx.images(n=sz["n"], d=sz["d"])

    return ctx.cached("nets:data", load)


def _model(ctx, ds, activation):
    sz = _sizes(ctx)
    widths = (ds.X.shape[0],) + (sz["width"],) * sz["hidden"] + (1,)
    return linnet.MLP(widths, activation=activation, init="torch", seed=ctx.seed)


def _eta(ctx, ds, activation):
    """η = c/Λ(0) with c the first of C_ETA whose run keeps ηΛ ≤ 2 for its first MIN_PS_STEPS steps
    (validation.verdicts.choose_eta_lambda0: a progressive PS on the data at hand); also returns the
    Hessian's and G's top eigenvalues at init, c, and the dropped candidates."""

    def choose():
        model = _model(ctx, ds, activation)
        t0 = ctx.train(ds.X, ds.Y, eta=1.0, steps=0, model=model, hessian_every=1, dtype=DTYPE)
        h0 = float(t0.hessian_sharpness[0])
        g0 = checked_lambda0(t0.sharpness[0], f"the {activation} FC net")

        def probe(c):
            return ctx.train(ds.X, ds.Y, eta=c / g0, steps=MIN_PS_STEPS, model=model, ga_every=0, dtype=DTYPE)

        c, dropped = choose_eta_lambda0(C_ETA, probe)
        return (c / g0, h0, g0, c, dropped)

    return ctx.cached(f"nets:eta:{activation}", choose)


def _run(ctx, activation):
    """The run (cached): the trajectory and its facts, with its §3 evidence
    (``info["evidence"]``: A3.2's first-order ratios every step)."""

    def run():
        ds = _data(ctx)
        eta, h0, g0, c, dropped = _eta(ctx, ds, activation)
        steps = _sizes(ctx)["steps"]
        fo = FirstOrderObserver(eta)
        tr = ctx.train(
            ds.X,
            ds.Y,
            eta=eta,
            steps=steps,
            model=_model(ctx, ds, activation),
            dtype=DTYPE,
            observers=[fo],
            hessian_every=HESSIAN_EVERY,
        )
        info = dict(eta=eta, hessian0=h0, gram0=g0, steps=steps, eta_lambda0=c, eta_lambda0_dropped=dropped)
        info["evidence"] = Evidence.of(tr, fo)
        return tr, info

    return ctx.cached(f"nets:run:{activation}", run)


def _judged(ev, network):
    """(regime dict, section3 verdict dicts) of one run's evidence (Λ at every step)."""
    return ev.regime.as_dict(), [v.as_dict() for v in judge_run(ev, network)]


def _config(ctx, **extra):
    ds, sz = _data(ctx), _sizes(ctx)
    widths = (ds.X.shape[0],) + (sz["width"],) * sz["hidden"] + (1,)
    return dict(
        data=ds.name,
        n=ds.X.shape[1],
        d=ds.X.shape[0],
        widths=list(widths),
        init="torch",
        bias=False,
        dtype=DTYPE,
        eta_lambda0_candidates=list(C_ETA),
        pixels="in [0, 1], as loaded (App. A.1)",
        steps=sz["steps"],
        seed=ctx.seed,
        paper_size=sz == FULL,
        **extra,
    )


def _eos_summary(tr, eta):
    el = eta * np.asarray(tr.sharpness)
    half = el[el.size // 2 :]
    fa = first_above(tr.sharpness, eta)
    return dict(
        first_above_2=int(fa) if fa < el.size else None,
        max_eta_lambda=float(el.max()),
        median_eta_lambda_last_half=float(np.median(half)),
        std_eta_lambda_last_half=float(np.std(half)),
        crossings=int(upward_crossings(tr.sharpness, eta).size),
        loss_start=float(tr.loss[0]),
        loss_end=float(tr.loss[-1]),
        loss_rises=int(np.sum(np.diff(tr.loss) > 0)),
        stopped=tr.stopped,
    )


def fmt(x):
    return (
        "n/a"
        if x is None or (isinstance(x, float) and not np.isfinite(x))
        else (f"{x:.3g}" if isinstance(x, float) else str(x))
    )


# ---- experiments ----------------------------------------------------------------------------

ACTIVATIONS = ("tanh", "relu", "elu")


def fc_activations(ctx):
    """Figs. 5–7: ηΛ and ‖A‖² for FC tanh, ReLU, ELU nets, phases shaded; A3.1's agreement rate."""
    fig, ax = new(len(ACTIVATIONS), 1, w=7.5, h=2.8)
    metrics, headline, etas = {}, {}, {}
    regimes, verdicts = {}, {}
    for i, act in enumerate(ACTIVATIONS):
        tr, info = _run(ctx, act)
        eta = info["eta"]
        etas[act] = eta
        regimes[act], verdicts[act] = _judged(info["evidence"], f"fc-{act}")
        codes, agr = a31_agreement(tr.sharpness, tr.a_norm2)
        lab = phase_labels(tr.sharpness, tr.loss, eta)
        s = _eos_summary(tr, eta)
        dead = agr["collapsed_at"] is not None
        metrics[act] = dict(
            eta=eta,
            hessian0=info["hessian0"],
            gram0=info["gram0"],
            a31=agr,
            dead=dead,
            **s,
            **{f"phase_{k}": round(v, 3) for k, v in phase_fractions(lab).items()},
        )
        headline[f"{act}_a31_rate"] = agr["rate"]
        headline[f"{act}_dead"] = dead
        headline[f"{act}_max_eta_lambda"] = s["max_eta_lambda"]
        headline[f"{act}_median_eta_lambda_last_half"] = s["median_eta_lambda_last_half"]
        a = ax[i, 0]
        shade_phases(a, lab)
        a.plot(eta * tr.sharpness, color="C3", lw=1, label="ηΛ")
        two_over_eta(a, 1.0, label="2")
        a.set_ylabel("ηΛ", color="C3")
        a2 = a.twinx()
        a2.plot(tr.a_norm2, color="C2", lw=1)
        a2.set_ylabel("‖A‖²", color="C2")
        a.set_title(
            f"FC {act}, η={eta:.3g}: A3.1 agreement {fmt(agr['rate'])}"
            + (f" — net (nearly) died at step {agr['collapsed_at']}" if dead else "")
        )
        a.legend(loc="lower right", fontsize=7)
    ax[-1, 0].set_xlabel("GD step")
    metrics["headline"] = headline
    metrics.update(
        regimes=regimes,
        section3=verdicts,
        first_crossing_step={k: r["first_crossing_step"] for k, r in regimes.items()},
    )
    eta_txt = ", ".join(f"{k}: {v:.3g}" for k, v in etas.items())
    cs = ", ".join(f"{a}: {_run(ctx, a)[1]['eta_lambda0']:g}" for a in ACTIVATIONS)
    notes = (
        f"η = c/Λ(0) per activation, c the first of {list(C_ETA)} whose PS lasts ≥ {MIN_PS_STEPS} "
        f"steps (c: {cs}; η: {eta_txt}), "
        f"{_sizes(ctx)['steps']} steps. A3.1's rate is the fraction of steps where Λ and ‖A‖² move "
        f"in the same direction (steps with |ΔΛ| ≤ {TIE_RTOL:g}·Λ are ties, excluded; a dead or "
        f"nearly dead ReLU net, Λ ≤ {COLLAPSE_RTOL:g}·max Λ, is reported as such and "
        "those steps are not counted)."
    )
    return ExperimentResult(
        "fc_activations",
        "Deep FC nets: tanh, ReLU, ELU",
        "Fig. 5–7",
        _config(ctx, etas=etas),
        [save(fig, ctx.fig("fc_activations"))],
        metrics,
        notes=notes,
    )


LINEAR_ETA_LAMBDA0 = 1.8  # the two-layer linear net's η: ηΛ(0) = 1.8 (its PS is weak here)


def ga_vs_g(ctx):
    """Fig. 13: ‖G_A‖ against ‖G‖ = Λ for the two-layer linear net and the tanh FC net."""
    ds = _data(ctx)
    tr_fc, info = _run(ctx, "tanh")
    m = ctx.size(64, 200)
    lin_steps = _sizes(ctx)["steps"]
    lin0 = ctx.train(ds.X, ds.Y, eta=1.0, steps=0, m=m, init="torch", alpha=1.0, seed=ctx.seed, e_hat_every=0)
    eta_lin = LINEAR_ETA_LAMBDA0 / float(lin0.sharpness[0])
    tr_lin = ctx.train(
        ds.X,
        ds.Y,
        eta=eta_lin,
        steps=lin_steps,
        m=m,
        init="torch",
        alpha=1.0,
        seed=ctx.seed,
        e_hat_every=0,
        ga_every=1,
    )
    fig, ax = new(1, 2, w=5.0, h=3.6)
    metrics, headline = {}, {}
    regimes = {}
    for j, (name, tr, eta) in enumerate((("linear", tr_lin, eta_lin), ("tanh", tr_fc, info["eta"]))):
        regimes[name] = Evidence.of(tr).regime.as_dict()
        lam = np.asarray(tr.sharpness)[np.asarray(tr.ga_step)]
        ga = np.asarray(tr.ga_norm)
        ok = lam > 0
        r = ga[ok] / lam[ok]
        metrics[name] = dict(
            eta=eta,
            median_ga_over_g=float(np.median(r)),
            max_ga_over_g=float(np.max(r)),
            min_ga_over_g=float(np.min(r)),
            **_eos_summary(tr, eta),
        )
        headline[f"{name}_median_ga_over_g"] = float(np.median(r))
        headline[f"{name}_max_ga_over_g"] = float(np.max(r))
        headline[f"{name}_max_eta_lambda"] = metrics[name]["max_eta_lambda"]
        a = ax[0, j]
        a.plot(tr.ga_step, lam, lw=1, label="‖G‖ = Λ")
        a.plot(tr.ga_step, ga, lw=1, label="‖G_A‖")
        two_over_eta(a, eta)
        a.set_xlabel("GD step")
        a.set_title(f"{name}: median ‖G_A‖/Λ = {np.median(r):.3f}")
        a.legend(fontsize=8)
    metrics["headline"] = headline
    metrics.update(
        regimes=regimes,
        first_crossing_step={k: r["first_crossing_step"] for k, r in regimes.items()},
    )
    notes = (
        f"Linear net: width {m}, PyTorch init, α = 1, η = {eta_lin:.3g} "
        f"(ηΛ(0) = {LINEAR_ETA_LAMBDA0}; its PS is weak on these data, max ηΛ "
        f"{metrics['linear']['max_eta_lambda']:.3g}); "
        f"tanh FC net as in fc_activations (η = {info['eta']:.3g}); {lin_steps} steps each. "
        "‖G_A‖ is the output layer's part of the Gram matrix; ‖G_A‖ ≤ ‖G‖ always (G_A ⪯ G)."
    )
    return ExperimentResult(
        "ga_vs_g",
        "‖G_A‖ against ‖G‖",
        "Fig. 13",
        _config(ctx, linear_width=m, eta_linear=eta_lin, eta_tanh=info["eta"]),
        [save(fig, ctx.fig("ga_vs_g"))],
        metrics,
        notes=notes,
    )


def a31_anomalies(ctx):
    """App. B.2: classify the tanh run's A3.1 disagreements; plus the PS → EoS check."""
    tr, info = _run(ctx, "tanh")
    eta = info["eta"]
    codes, agr = a31_agreement(tr.sharpness, tr.a_norm2)
    kinds, counts = classify_disagreements(tr.sharpness, tr.a_norm2, tr.loss)
    _, counts_agree = classify_disagreements(
        tr.sharpness, tr.a_norm2, tr.loss, np.flatnonzero(codes == AGREE)
    )
    s = _eos_summary(tr, eta)
    headline = dict(
        a31_rate=agr["rate"],
        disagreements=agr["differ"],
        **{f"kind_{k}": v for k, v in counts.items()},
        **{f"agreeing_kind_{k}": v for k, v in counts_agree.items()},
    )
    metrics = dict(a31=agr, kinds=counts, eos=s, headline=headline)
    fig, ax = new(1, 1, w=7.5, h=3.6)
    a = ax[0, 0]
    shade_phases(a, phase_labels(tr.sharpness, tr.loss, eta))
    el = eta * np.asarray(tr.sharpness)
    a.plot(el, color="k", lw=0.8, label="ηΛ")
    for j, k in enumerate(KINDS):
        ts = [t for t, v in kinds.items() if v == k]
        if ts:
            a.plot(ts, el[ts], "o", ms=3, color=f"C{j}", label=f"{k} ({len(ts)})")
    two_over_eta(a, 1.0, label="2")
    a.set_xlabel("GD step")
    a.set_title(f"A3.1 disagreements of the tanh run (rate {fmt(agr['rate'])})")
    a.legend(fontsize=7, loc="lower right")
    notes = (
        f"tanh FC net, η = {eta:.3g}, {info['steps']} steps. Kinds (first match wins): "
        f"trend change (within {TREND_WINDOW} steps of a sign change of Δ‖A‖² smoothed over "
        f"{SMOOTH_WIDTH}), high-frequency oscillation (ΔΛ flips sign at consecutive steps), late "
        f"(after {LATE_FRACTION:.0%} of steps or loss < {LATE_LOSS_FRACTION:g}× its start), other. "
        "The same kinds among the agreeing steps (the scorecard's control): "
        + ", ".join(f"{k} {v}" for k, v in counts_agree.items())
        + ". Each network's row on the scorecard compares the two shares (validation.section3.anomalies)."
    )
    return ExperimentResult(
        "a31_anomalies",
        "A3.1's exceptions in a deep tanh net",
        "App. B.2",
        _config(ctx, eta=eta),
        [save(fig, ctx.fig("a31_anomalies"))],
        metrics,
        notes=notes,
    )


EXPERIMENTS = {
    "fc_activations": fc_activations,
    "ga_vs_g": ga_vs_g,
    "a31_anomalies": a31_anomalies,
}


RULES = s3_matrix("fc_activations", {a: f"fc-{a}" for a in ACTIVATIONS}, paper="§3, App. B.2, Figs. 5–7")
