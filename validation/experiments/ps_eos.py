"""Fig. 1 (and Fig. 4): PS, then the edge of stability, on the two-layer linear net; the §3 claims
judged on that run."""

from __future__ import annotations

import dataclasses

import theory

from ..figures import new, save
from ..rules import S3_CLAIMS, s3_matrix
from ..section3 import judge_run
from ..verdicts import MIN_PS_STEPS
from .common import eos_stats, run_panels, zoom
from .context import MAIN_C, THEORY_C, ExperimentResult, replay_span


def ps_eos(ctx):
    ds, cfg, tr, rec = ctx.main_run()
    eta = tr.eta
    metrics, lab, cross = eos_stats(tr.sharpness, tr.loss, eta)
    window = zoom(cross, tr.steps)
    fig, ax = new(2, 2, w=6.6, h=3.2)
    run_panels(ax[0, 0], ax[0, 1], tr, lab, window, eta, "loss")
    run_panels(ax[1, 0], ax[1, 1], tr, lab, window, eta, "sharpness")
    ax[0, 0].set_title(
        f"whole run: {tr.steps:,} steps ({cfg['train_seconds']:g} s); {ds.name}, m={cfg['m']}, η={eta:g}"
    )
    ax[0, 1].set_title(f"zoom: steps {window[0]:,}–{window[1]:,} (grey band at left), phases shaded")
    ax[0, 0].set_title(ax[0, 0].get_title(), fontsize=9)
    ax[0, 1].set_title(ax[0, 1].get_title(), fontsize=9)
    metrics = dict(steps=tr.steps, train_seconds=cfg["train_seconds"], **metrics, zoom_window=list(window))
    ev = ctx.main_evidence()
    metrics["first_crossing_step"] = {"main": ev.regime.first_crossing}
    metrics["regimes"] = {"main": ev.regime.as_dict()}
    metrics["section3"] = {"main": [v.as_dict() for v in judge_run(ev, "linear")]}
    if tr.hessian_step.size:
        idx = tr.hessian_step
        metrics["hessian_over_gram_first"] = float(tr.hessian_sharpness[0] / tr.sharpness[idx[0]])
        metrics["hessian_over_gram_last"] = float(tr.hessian_sharpness[-1] / tr.sharpness[idx[-1]])
    table = theory.check_all(rec)
    t_ds, t_cfg, t_tr, t_rec = ctx.theory_run()
    t_rec = dataclasses.replace(t_rec, extras={**t_rec.extras, "e7": ctx.e7()})
    table2 = theory.check_all(t_rec)
    files = [ctx.keep("ps_eos", tr, ds.X, ds.Y), ctx.keep("ps_eos_theory_scaling", t_tr, t_ds.X, t_ds.Y)]
    notes = (
        f"η = {cfg['eta_lambda0']:g}/Λ(0) (the first of {MAIN_C} whose PS lasts ≥ {MIN_PS_STEPS} steps"
        + (
            "; dropped: "
            + ", ".join(
                f"{d['eta_lambda0']:g} (crossed at step {d['first_crossing_step']})"
                for d in cfg["eta_lambda0_dropped"]
            )
            if cfg["eta_lambda0_dropped"]
            else ""
        )
        + f"); PS lasted {ev.regime.first_crossing} steps. "
        f"The run takes {tr.steps:,} steps ({cfg['train_seconds']:g} s of training); ηΛ has a median of "
        f"{metrics['median_eta_lambda_last_half']:.3f} over the last half (from step "
        f"{metrics['hover_from_step']} on, every 200-step median is within 2 ± 0.05), with "
        f"{metrics['upward_crossings']} upward crossings of 2/η, {metrics['loss_spikes']} loss spikes "
        "(catapults, "
        "the loss 10% above its running minimum) and "
        f"{metrics['four_phase_cycles']} clean II→III→IV sequences of the sign rule (near 2/η Λ also flips "
        "above and below 2/η every other step, which the sign rule reads as short II/III alternations). "
        "Phases are the sign rule of §3.1 with the loss-recovery rule for phase IV. "
        "The Hessian's top eigenvalue (dots) exceeds λ_max(G) at the start from PyTorch's small init "
        "(the residual term of I10) and meets it once the loss is small. The first check table is on the "
        f"exact replay of {replay_span(rec)} (the end of PS and the first crossings of 2/η); the "
        f"second is for a run in the theory's scaling (symmetric init, α = 1/√m, ηΛ(0) = {THEORY_C:g}), "
        f"exact replay of {replay_span(t_rec)}, with Lemma E.7 evaluated on its first steps (see "
        "lemma_e7). Lemma 3.1, Theorem 1 and Theorem 2.1 read the whole run's series, not the replay."
    )
    return ExperimentResult(
        "ps_eos",
        "Progressive sharpening, then the edge of stability",
        "Fig. 1, 4",
        cfg,
        [save(fig, ctx.fig("ps_eos"))],
        metrics,
        {
            f"Fig. 1 run, exact replay of {replay_span(rec)} "
            f"(torch init, ηΛ(0) = {cfg['eta_lambda0']:g})": table,
            f"theory-scaling run ({t_cfg['m']} wide, symmetric init), "
            f"exact replay of {replay_span(t_rec)}": table2,
        },
        notes,
        trajectories=files,
    )


# The two-layer linear net's §3 rows. A3.1 is structural there (G = α²‖a‖²K + G_A: Λ moves with
# ‖a‖² while G_A is small), so its rows are consistency; App. B.2's anomalies are about the deep
# nets' A3.1 (Figs. 5–10) and are judged there. The other rows carry their controls: ‖G_A‖ ≪ ‖G‖
# and u₁'s stability turn into consistency where the control (the run at init, the data's top
# direction) passes too, as it does on this net.
RULES = s3_matrix(
    "ps_eos",
    {"main": "linear"},
    consistency=("s3.a31.ps", "s3.a31.oscillations"),
    claims=tuple(c for c in S3_CLAIMS if c != "s3.anomalies"),
)
