"""Fig. 22: a 10× larger first-layer init; PS and the EoS while W barely moves."""

from __future__ import annotations

import numpy as np

import linnet
from theory.phases import phase_labels

from ..figures import new, save, shade_phases, two_over_eta
from ..rules import (
    DIFFERS,
    NOT_COMPARABLE,
    REPRODUCED,
    NotComparable,
    claim_rule,
    metric,
    verdict_of,
)
from ..section3 import Evidence, judge_run
from ..verdicts import MIN_PS_STEPS, Regime, choose_eta_lambda0
from .common import checked_lambda0
from .context import MAIN_C, ExperimentResult


def large_init(ctx):
    """Fig. 22: PyTorch's init with W × 10, η = c/Λ(0) with c chosen as for Fig. 1; the run is
    judged by the Fig. 1 rule (PS of ≥ 100 steps, then ηΛ hovering at 2) and W's movement."""
    ds = ctx.images()
    m, steps = ctx.size(100, 200), ctx.size(5000, 20000)
    W, a = linnet.init_params(m, ds.X, scheme="torch", seed=ctx.seed, alpha=1.0)
    W = 10 * W
    lam0 = checked_lambda0(linnet.sharpness(W, a, ds.X, alpha=1.0), "large_init")
    common = dict(W0=W, a0=a, alpha=1.0, e_hat_every=0)

    def probe(c):
        return ctx.train(ds.X, ds.Y, eta=c / lam0, steps=MIN_PS_STEPS, **common)

    c, dropped = choose_eta_lambda0(MAIN_C, probe)
    eta = c / lam0
    tr = ctx.train(ds.X, ds.Y, eta=eta, steps=steps, **common)
    lab = phase_labels(tr.sharpness, tr.loss, eta)
    fig, ax = new(2, 1, w=7.5, h=3.0)
    shade_phases(ax[0, 0], lab)
    ax[0, 0].semilogy(tr.loss, lw=1)
    ax[0, 0].set_ylabel("loss")
    shade_phases(ax[1, 0], lab)
    ax[1, 0].plot(tr.sharpness, lw=1, color="C3")
    two_over_eta(ax[1, 0], eta)
    ax[1, 0].set_xlabel("GD step")
    ax[1, 0].set_ylabel("sharpness")
    ax[0, 0].set_title(f"10× larger first-layer init (torch init, W × 10), ηΛ(0) = {c:g}")
    move = float(np.linalg.norm(tr.W_final - tr.W0) / np.linalg.norm(tr.W0))
    ev = Evidence.of(tr)
    return ExperimentResult(
        "large_init",
        "10× larger initialisation: PS and EoS, W barely moving",
        "Fig. 22",
        dict(
            data=ds.name,
            m=m,
            init="torch, W×10",
            alpha=1.0,
            eta_lambda0=c,
            eta=eta,
            steps=steps,
            eta_lambda0_dropped=[dict(eta_lambda0=x, first_crossing_step=t) for x, t in dropped],
        ),
        [save(fig, ctx.fig("large_init"))],
        dict(
            max_eta_lambda=float(eta * tr.sharpness.max()),
            W_move=move,
            loss_start=float(tr.loss[0]),
            loss_end=float(tr.loss[-1]),
            first_crossing_step={"large_init": ev.regime.first_crossing},
            regimes={"large_init": ev.regime.as_dict()},
            section3={"large_init": [v.as_dict() for v in judge_run(ev) if v.claim == "s3.ps_then_eos"]},
        ),
        notes="The claim is that PS and the EoS still happen while W moves little relative to its "
        "size: not the quadratic (lazy) regime.",
        trajectories=[ctx.keep("large_init", tr, ds.X, ds.Y)],
    )


# Fig. 22's W "changes slightly": ‖W(T) − W(0)‖/‖W(0)‖ at most a tenth
W_MOVE = 0.1


def eos_large_init(f):
    v = metric(f, "large_init", "section3")["large_init"][0]
    move, l0, l1 = metric(f, "large_init", "W_move", "loss_start", "loss_end")
    if v["verdict"] == NOT_COMPARABLE:
        reg = Regime.from_dict(metric(f, "large_init", "regimes")["large_init"])
        if reg.first_crossing is None and not reg.diverged and reg.eta_lambda0 < 2 and l1 <= 0.01 * l0:
            return (
                DIFFERS,
                float(metric(f, "large_init", "max_eta_lambda")),
                "PS of ≥ 100 steps, then ηΛ hovering at 2, while ‖ΔW‖/‖W(0)‖ ≤ 0.1",
                f"trained to {l1 / l0:.2g} of its first loss without ηΛ reaching 2",
            )
        raise NotComparable(v["reason"] + f" (loss {l0:.3g} → {l1:.3g})")
    ok = v["verdict"] == REPRODUCED and move <= W_MOVE
    return (
        verdict_of(ok),
        v["number"],
        f"the Fig. 1 rule ({v['rule']}), and ‖ΔW‖/‖W(0)‖ ≤ {W_MOVE}",
        v["reason"] + f"; ‖ΔW‖/‖W(0)‖ = {move:.3g}",
    )


RULES = [claim_rule("d23.large_init", "large_init", eos_large_init)]
