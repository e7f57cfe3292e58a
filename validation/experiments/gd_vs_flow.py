"""Fig. 16 (A3.3): GD against the gradient flow over PS, from a small ηΛ(0)."""

from __future__ import annotations

import numpy as np

from theory.phases import first_above

from ..figures import new, save, two_over_eta
from ..rules import (
    claim_rule,
    metric,
    regime_gate,
    verdict_of,
)
from ..verdicts import Regime
from .context import ExperimentResult


def gd_vs_flow(ctx):
    """Fig. 16 (A3.3): GD against the gradient flow from the same start over PS, in time t = ηk,
    on the theory-scaling run (ηΛ(0) = THEORY_C, a PS of hundreds of steps)."""
    ds, cfg, tr, rec = ctx.theory_run()
    regime = Regime.of(tr)
    horizon = min(first_above(tr.sharpness, tr.eta), tr.steps)
    flow = ctx.train(ds.X, ds.Y, eta=tr.eta, steps=horizon, W0=tr.W0, a0=tr.a0, method="flow", e_hat_every=0)
    fig, ax = new(1, 2, w=6.0)
    t = tr.eta * np.arange(horizon + 1)
    ax[0, 0].semilogy(t, tr.loss[: horizon + 1], lw=1, label="GD")
    ax[0, 0].semilogy(flow.time, flow.loss, "--", lw=1, label="gradient flow")
    ax[0, 0].set_ylabel("loss")
    ax[0, 1].plot(t, tr.sharpness[: horizon + 1], lw=1, label="GD")
    ax[0, 1].plot(flow.time, flow.sharpness, "--", lw=1, label="gradient flow")
    two_over_eta(ax[0, 1], tr.eta)
    ax[0, 1].set_ylabel("sharpness")
    for a in ax[0]:
        a.set_xlabel("time t = ηk")
        a.legend(fontsize=8)
    dev = np.abs(flow.loss - tr.loss[: horizon + 1]) / flow.loss
    sdev = np.abs(flow.sharpness - tr.sharpness[: horizon + 1]) / flow.sharpness
    # the control: GD at step k against the flow at time 2ηk, a flow GD does not follow
    half = horizon // 2
    dev_2x = np.abs(flow.loss[: 2 * half + 1 : 2] - tr.loss[: half + 1]) / flow.loss[: 2 * half + 1 : 2]
    return ExperimentResult(
        "gd_vs_flow",
        "GD against gradient flow during progressive sharpening (A3.3)",
        "Fig. 16",
        {**cfg, "horizon_steps": horizon},
        [save(fig, ctx.fig("gd_vs_flow"))],
        dict(
            max_rel_loss_dev=float(dev.max()),
            max_rel_loss_dev_twice_the_time=float(dev_2x.max()),
            max_rel_sharpness_dev=float(sdev.max()),
            sharpness_rel_dev_end=float(sdev[-1]),
            regimes={"theory": regime.as_dict()},
            first_crossing_step={"theory": regime.first_crossing},
        ),
        notes=f"Over the PS of the theory-scaling run (ηΛ(0) = {cfg['eta_lambda0']:g}, {horizon} steps up "
        "to the first crossing of 2/η), GD and the flow compared at equal times t = ηk.",
        trajectories=[
            ctx.keep("ps_eos_theory_scaling", tr, ds.X, ds.Y),
            ctx.keep("gd_vs_flow_flow", flow, ds.X, ds.Y),
        ],
    )


# A3.3 / Fig. 16: "close" read as the GD loss within 10% of the flow's at every time of PS.
FLOW_LOSS_DEV = 0.1


def gd_follows_flow(f):
    regime_gate(f, "gd_vs_flow", "theory")
    r, r2 = metric(f, "gd_vs_flow", "max_rel_loss_dev", "max_rel_loss_dev_twice_the_time")
    return dict(
        verdict=verdict_of(r <= FLOW_LOSS_DEV),
        number=r,
        threshold=f"over PS (≥ 100 steps from a small ηΛ(0)), GD's loss within {FLOW_LOSS_DEV:.0%} of the "
        "flow's at equal times t = ηk",
        control=dict(
            what="GD at step k against the flow at time 2ηk (a flow it does not follow): max deviation "
            f"{r2:.3g}",
            number=r2,
            verdict=verdict_of(r2 <= FLOW_LOSS_DEV),
        ),
    )


RULES = [claim_rule("d14.gd_flow", "gd_vs_flow", gd_follows_flow)]
