"""Figs. 23–24 (App. D.3): freezing the first layers of a deep tanh net slows PS and weakens the
sharpness's oscillation.

App. D.3: "while the sharpness is still calculated by the gradient of all parameters, we freeze some
of the layers in the training process. The experimental results show that the more layers we
freeze, the slower progressive sharpening happens and the weaker the oscillation of the sharpness
is". So the sharpness judged is the whole network's Λ = λ_max(G), G over every parameter's gradient
(``tr.sharpness``). GD's stability, though, is set by the layers it trains: their Gram's λ_max,
Λ_trained (``tr.specific["trained_sharpness"]``). Each run therefore gets its own step size
η = c/Λ_trained(0), so that every run starts below its own edge of stability and can reach it
(with the unfrozen net's η, Λ_trained of a frozen net stays far below 2/η: the earlier version's
escape). c follows fc_nets' recipe, read on Λ_trained: the first of
DEEP_NET_C whose Λ_trained stays ≤ 2/η for MIN_PS_STEPS steps (at the unfrozen net's c the frozen
nets' Λ_trained did not reach 2/η within the run: quick size, seed 0, max ηΛ_trained 1.44 and 0.33
in 400 steps at c = 1/16). A frozen net sharpens more slowly, so it may take a larger c, hence a
larger step: that biases the PS speed per step against "slower", not for it.

The network is fc_nets' tanh net (PyTorch's init, no bias, float32, four hidden layers as in App.
A.2, Table 2) at a reduced size, SIZES: at the paper's (1,000 images of 3,072 pixels, width 200) a
run with Λ and Λ_trained at every step costs ~0.4–0.5 CPU-seconds a step (measured on the shared
2-core machine), ~6 CPU-minutes for 800 steps, and the experiment needs four runs and the probes
of the step size — over the suite's budget. The result says so (``reduced``).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

import linnet

from ..figures import new, save, two_over_eta
from ..rules import NOT_COMPARABLE, claim_rule, metric, verdict_of
from ..verdicts import DEEP_NET_C, MIN_CROSSINGS, MIN_PS_STEPS, Regime, choose_eta_lambda0
from .common import checked_lambda0
from .context import ExperimentResult
from .fc_nets import DTYPE

ACTIVATION = "tanh"  # Fig. 23: "Fully-connected tanh Network"
FREEZES = ((), (0,), (0, 1))  # 0, 1, 2 frozen first layers
CONTROL_SEED = 1000  # the control's init seed: ctx.seed + CONTROL_SEED
# (quick, full): n images (two classes) of d pixels (the photographs averaged down to 16×16 or 8×8),
# the hidden layers' width, GD steps
SIZES = dict(n=(100, 200), d=(192, 768), width=(32, 64), steps=(600, 800))
HIDDEN = 4  # App. A.2's four hidden layers at every size

# ---- the rule's statistics and threshold, stated once ----------------------------------------
# Both read the whole network's Λ (D.3: "the sharpness is still calculated by the gradient of all
# parameters"), scale-free because the runs' step sizes differ:
# * PS speed: ln(Λ(t_c)/Λ(0))/(η t_c), the mean relative rise of Λ per unit of flow time ηt over the
#   run's own PS, t_c the run's first crossing of 2/η by Λ_trained (its entry into its EoS). Per unit
#   of ηt, not per step: the runs' step sizes differ by design (a frozen net's η = c/Λ_trained(0) is
#   4–6× the unfrozen net's at the reduced size), and per step a larger η alone makes everything
#   faster (measured at the full reduced size, seed 0: per step the frozen nets' Λ rose 2.2× and 1.4×
#   faster than the unfrozen net's; per unit of ηt 0.57× and 0.24× as fast — both in the report);
# * oscillation: the mean |Δ² ln Λ| (relative second difference) over the run's EoS, from t_c on.
# The regime: each run's PS is progressive in Λ_trained (ηΛ_trained(0) < 2, ≥ MIN_PS_STEPS steps to
# its first crossing, no divergence) and it oscillates (≥ MIN_CROSSINGS upward crossings).
# "Slower" and "weaker": each more frozen layer lowers the number by more than FREEZE_TOL of the
# value before it (5%: more than the step-to-step noise of a mean over hundreds of steps).
FREEZE_TOL = 0.05


def _sizes(ctx):
    return {k: ctx.size(*v) for k, v in SIZES.items()}


def _data(ctx):
    sz = _sizes(ctx)
    return ctx.cached("freezing:data", lambda: ctx.images(n=sz["n"], d=sz["d"]))


def _widths(ctx, ds):
    sz = _sizes(ctx)
    return (ds.X.shape[0],) + (sz["width"],) * HIDDEN + (1,)


def _trained(tr, frozen):
    """Λ_trained at every step: the trained layers' Gram's λ_max (the whole Λ when none is frozen)."""
    return np.asarray(tr.specific["trained_sharpness"] if frozen else tr.sharpness, dtype=float)


def _trained_regime(tr, frozen) -> Regime:
    """The run's regime read on Λ_trained, which sets GD's stability."""
    view = SimpleNamespace(
        sharpness=_trained(tr, frozen),
        sharpness_step=tr.sharpness_step,
        step=tr.step,
        eta=tr.eta,
        steps=tr.steps,
        stopped=tr.stopped,
    )
    return Regime.of(view)


def _own_run(ctx, frozen, seed, candidates):
    """A tanh net with ``frozen`` layers from init ``seed``, η = c/Λ_trained(0), c the first of
    ``candidates`` whose Λ_trained stays ≤ 2/η for MIN_PS_STEPS steps: (trajectory, c, dropped)."""
    ds = _data(ctx)
    model = linnet.MLP(_widths(ctx, ds), activation=ACTIVATION, init="torch", seed=seed, frozen=frozen)
    t0 = ctx.train(ds.X, ds.Y, eta=1.0, steps=0, model=model, dtype=DTYPE, ga_every=0)
    lam0 = checked_lambda0(_trained(t0, frozen)[0], f"the {ACTIVATION} net with layers {frozen} frozen")

    def probe(c):
        tr = ctx.train(ds.X, ds.Y, eta=c / lam0, steps=MIN_PS_STEPS, model=model, ga_every=0, dtype=DTYPE)
        return SimpleNamespace(
            sharpness=_trained(tr, frozen),
            sharpness_step=tr.sharpness_step,
            step=tr.step,
            eta=tr.eta,
            steps=tr.steps,
            stopped=tr.stopped,
        )

    c, dropped = (candidates[0], []) if len(candidates) == 1 else choose_eta_lambda0(candidates, probe)
    steps = _sizes(ctx)["steps"]
    tr = ctx.train(ds.X, ds.Y, eta=c / lam0, steps=steps, model=model, ga_every=0, dtype=DTYPE)
    return tr, c, dropped


def run_facts(tr, frozen, c) -> dict:
    """The rule's numbers for one run: its regime on Λ_trained, the PS speed and the oscillation of
    the whole network's Λ, and the trained layers' (for the report)."""
    reg = _trained_regime(tr, frozen)
    whole = np.asarray(tr.sharpness, dtype=float)
    lam_tr = _trained(tr, frozen)
    tc = reg.first_crossing
    facts = dict(
        frozen=list(frozen),
        eta=tr.eta,
        eta_lambda0=c,
        whole_eta_lambda0=float(tr.eta * whole[0]),
        regime=reg.as_dict(),
        trained_max_eta_lambda=float(tr.eta * lam_tr.max()),
        whole_max_eta_lambda=float(tr.eta * whole.max()),
        whole_ratio=float(whole.max() / whole[0]),
        ps_rate=None,
        oscillation=None,
        trained_oscillation=None,
        loss_start=float(tr.loss[0]),
        loss_end=float(tr.loss[-1]),
    )
    if tc is not None and tc > 0:
        facts["ps_rate_per_step"] = float(np.log(whole[tc] / whole[0]) / tc)
        facts["ps_rate"] = facts["ps_rate_per_step"] / tr.eta
        if whole.size - tc > 2:
            facts["oscillation"] = float(np.mean(np.abs(np.diff(np.log(whole[tc:]), 2))))
            facts["trained_oscillation"] = float(np.mean(np.abs(np.diff(np.log(lam_tr[tc:]), 2))))
    return facts


def outside(run: dict) -> str | None:
    """Why a run is outside the regime the comparison needs (None: it is in it)."""
    why = Regime.from_dict(run["regime"]).eos_gate()
    if why is not None:
        why = f"Λ_trained: {why} (max ηΛ_trained {run['trained_max_eta_lambda']:.3g})"
    return why


def judge_sequence(runs: list[tuple[str, dict]]) -> dict:
    """The rule on runs ordered by how much is frozen (label, run_facts): "not comparable" if any
    run is outside the regime; else "reproduced" iff each next run's PS speed and oscillation of
    the whole Λ are both lower than the previous one's by more than FREEZE_TOL. The number: the
    largest ratio next/previous over both statistics (reproduced needs it < 1 − FREEZE_TOL)."""
    left = [f"{k}: {outside(r)}" for k, r in runs if outside(r) is not None]
    if left:
        return dict(verdict=NOT_COMPARABLE, number=None, reason="; ".join(left))
    ratios = []
    for (_, a), (_, b) in zip(runs, runs[1:], strict=False):
        ratios += [b["ps_rate"] / a["ps_rate"], b["oscillation"] / a["oscillation"]]
    worst = float(max(ratios))
    return dict(
        verdict=verdict_of(worst < 1 - FREEZE_TOL),
        number=worst,
        reason="; ".join(
            f"{k}: PS {r['regime']['first_crossing_step']} steps at ηΛ_trained(0) = {r['eta_lambda0']:g}, "
            f"Λ's rise {r['ps_rate']:.3g} per unit of ηt ({r['ps_rate_per_step']:.3g}/step at "
            f"η = {r['eta']:.3g}), oscillation {r['oscillation']:.3g}, max Λ/Λ(0) {r['whole_ratio']:.3g}"
            for k, r in runs
        ),
    )


def freezing(ctx):
    """Figs. 23–24: the tanh FC net with 0, 1, 2 frozen first layers, each at η = c/Λ_trained(0); the
    control: the unfrozen net from another init seed (no freezing: the rule must not find its
    "slower, weaker")."""
    ds = _data(ctx)
    trs = {fr: _own_run(ctx, fr, ctx.seed, DEEP_NET_C) for fr in FREEZES}
    # the control by the same recipe (at the unfrozen seed's c it crossed after 87 steps: gated out)
    ctrl, c_ctrl, _ = _own_run(ctx, (), ctx.seed + CONTROL_SEED, DEEP_NET_C)
    runs = {f"frozen {len(fr)}": run_facts(tr, fr, c) for fr, (tr, c, _) in trs.items()}
    control = {
        "frozen 0, seed 0": runs["frozen 0"],
        f"frozen 0, seed {CONTROL_SEED}": run_facts(ctrl, (), c_ctrl),
    }
    metrics = dict(
        ps_rate=[r["ps_rate"] for r in runs.values()],  # flat numbers first, for the report's summary
        oscillation=[r["oscillation"] for r in runs.values()],
        runs=runs,
        control=control,
        judged=judge_sequence(list(runs.items())),
        control_judged=judge_sequence(list(control.items())),
        regimes={k: r["regime"] for k, r in runs.items()},
        first_crossing_step={k: r["regime"]["first_crossing_step"] for k, r in runs.items()},
    )
    fig, ax = new(1, 2, w=5.0, h=3.6)
    for j, (fr, (tr, _, _)) in enumerate(trs.items()):
        ax[0, 0].plot(tr.eta * _trained(tr, fr), lw=1, color=f"C{j}", label=f"{len(fr)} frozen")
        ax[0, 1].semilogy(
            np.asarray(tr.sharpness) / tr.sharpness[0], lw=1, color=f"C{j}", label=f"{len(fr)} frozen"
        )
    ax[0, 1].semilogy(
        np.asarray(ctrl.sharpness) / ctrl.sharpness[0],
        lw=1,
        color="grey",
        label="control (0 frozen, other seed)",
    )
    two_over_eta(ax[0, 0], 1.0, label="2")
    ax[0, 0].set_ylabel("ηΛ_trained (each run's own η)")
    ax[0, 1].set_ylabel("Λ(t)/Λ(0), whole network (the claim's)")
    for a_ in ax[0]:
        a_.set_xlabel("GD step")
        a_.legend(fontsize=8)
    etas = ", ".join(
        f"{k}: ηΛ_trained(0) = {r['eta_lambda0']:g}, η = {r['eta']:.3g}" for k, r in runs.items()
    )
    sz = _sizes(ctx)
    return ExperimentResult(
        "freezing",
        "Freezing layers: slower PS, weaker oscillation",
        "Fig. 23–24",
        dict(
            data=ds.name,
            widths=list(_widths(ctx, ds)),
            activation=ACTIVATION,
            init="torch",
            dtype=DTYPE,
            steps=sz["steps"],
            frozen=[list(f) for f in FREEZES],
            step_sizes=etas,
            control_seed=ctx.seed + CONTROL_SEED,
        ),
        [save(fig, ctx.fig("freezing"))],
        metrics,
        notes=(
            f"Each run at its own η = c/Λ_trained(0) ({etas}). Judged on the whole network's Λ, as "
            "App. D.3 does: PS speed ln(Λ(t_c)/Λ(0))/(η t_c) over the run's own PS (t_c: Λ_trained's first "
            "crossing of 2/η) and oscillation, the mean |Δ² ln Λ| from t_c on; each more frozen layer "
            f"must lower both by more than {FREEZE_TOL:.0%}. Each run must oscillate (≥ {MIN_CROSSINGS} "
            "crossings of 2/η by Λ_trained after a PS of ≥ "
            f"{MIN_PS_STEPS} steps). Control: the unfrozen net from init seed {ctx.seed + CONTROL_SEED}, "
            f"judged against seed {ctx.seed}'s run by the same rule."
        ),
        reduced=(
            f"n = {ds.X.shape[1]}, d = {ds.X.shape[0]}, width {sz['width']}, {sz['steps']} steps "
            "(the paper's: 1,000 × 3,072, width 200; ~6 CPU-minutes a run with Λ and Λ_trained at every step)"
        ),
    )


def fc_freezing_own_eta(f):
    got = metric(f, "freezing", "judged")
    cj = metric(f, "freezing", "control_judged")
    return dict(
        verdict=got["verdict"],
        number=got["number"],
        threshold=(
            "with 0, 1, 2 frozen first layers, each at its own η = c/Λ_trained(0) and each oscillating "
            "in its own EoS, the whole network's Λ rises more slowly over PS (ln Λ(t_c)/Λ(0) per unit of "
            "flow time ηt) "
            f"and oscillates less (mean |Δ² ln Λ|), each more frozen layer by more than {FREEZE_TOL:.0%}: "
            f"the largest next/previous ratio < {1 - FREEZE_TOL:g}"
        ),
        reason=got["reason"],
        control=dict(
            what="the unfrozen net from another init seed against seed's own, as if it were one more "
            "frozen layer: " + cj["reason"],
            number=cj["number"],
            verdict=cj["verdict"],
        ),
        network=f"fc-{ACTIVATION}",
    )


RULES = [claim_rule("d3.freezing", "freezing", fc_freezing_own_eta, network=f"fc-{ACTIVATION}")]
EXPERIMENTS = {"freezing": freezing}
