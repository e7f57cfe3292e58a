"""The report of :func:`validation.check_model`: ``index.md`` (the scorecard first, with the paper's
sentence beside each rule), three figures like the paper's Figs. 1–3, ``summary.json`` and the
run's ``trajectory.npz`` (with its data: ``linnet.load_trajectory`` reads it back and
``python -m theory check`` replays it)."""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from linnet.analysis import phase_labels

from .figures import new, save, shade_phases, two_over_eta
from .section3 import FIRST_FEW, Evidence, a31_window
from .verdicts import Scorecard


def _figures(out: str, ev: Evidence, u1_steps: np.ndarray) -> list[tuple[str, str]]:
    tr, eta = ev.traj, ev.traj.eta
    S, L, A = tr.sharpness, tr.loss, tr.a_norm2
    x = np.asarray(tr.step)
    lab = phase_labels(S, L, eta)
    figs = []

    fig, ax = new(1, 2, w=6.0)
    shade_phases(ax[0, 0], lab, x)
    ax[0, 0].semilogy(x, L, lw=1)
    ax[0, 0].set(xlabel="GD step", ylabel="loss", title="loss (phases II–IV shaded)")
    shade_phases(ax[0, 1], lab, x)
    ax[0, 1].plot(x, S, lw=1, label="Λ = λ_max(G)")
    if tr.hessian_step.size:
        ax[0, 1].plot(tr.hessian_step, tr.hessian_sharpness, ".", ms=3, label="λ_max(∇²L)")
    two_over_eta(ax[0, 1], eta)
    ax[0, 1].set(xlabel="GD step", ylabel="sharpness", title="sharpness and 2/η")
    ax[0, 1].legend(fontsize=8)
    figs.append(
        ("Fig. 1: PS, then the edge of stability", save(fig, os.path.join(out, "fig1_sharpness.png")))
    )

    end, _ = a31_window(ev.regime)
    stop = (end if end is not None else tr.steps) + 1
    fig, ax = new(1, 1, w=8.0)
    a = ax[0, 0]
    shade_phases(a, lab[:stop], x[:stop])
    a.plot(x[:stop], S[:stop], lw=1, color="C3")
    a.set_ylabel("sharpness Λ", color="C3")
    b = a.twinx()  # each on its own scale, as in the paper's Fig. 2: the claim is about directions
    b.plot(x[:stop], A[:stop], lw=1, color="C2")
    b.set_ylabel("‖A‖² (output layer)", color="C2")
    a.set(xlabel="GD step", title=f"A3.1: ‖A‖² and the sharpness, PS and the first {FIRST_FEW} oscillations")
    figs.append(("Fig. 2: ‖A‖² moves with Λ (A3.1)", save(fig, os.path.join(out, "fig2_a_norm.png"))))

    fig, ax = new(1, 2, w=6.0)
    if tr.ga_step.size:
        ax[0, 0].plot(x, S, lw=1, label="Λ = ‖G‖")
        ax[0, 0].plot(tr.ga_step, tr.ga_norm, lw=1, label="‖G_A‖")
        ax[0, 0].legend(fontsize=8)
    ax[0, 0].set(xlabel="GD step", title="(a) ‖G_A‖ against ‖G‖ (Fig. 13)")
    n = int(tr.config["n"])
    L_u1 = np.asarray(tr.d_u1) ** 2 / (2 * n)
    shade_phases(ax[0, 1], lab, x)
    ax[0, 1].semilogy(x, L, lw=1, label="L")
    ax[0, 1].semilogy(x, np.maximum(L_u1, 1e-300), lw=1, label="u₁ part ⟨D,u₁⟩²/2n")
    ax[0, 1].semilogy(x, np.maximum(L - L_u1, 1e-300), lw=1, label="the rest")
    ax[0, 1].set(
        xlabel="GD step", title="(b) the loss split (Fig. 3b)", ylim=(max(L.min() / 100, 1e-12), L.max() * 2)
    )
    ax[0, 1].legend(fontsize=8)
    figs.append(("Fig. 3: ‖G_A‖ ≪ ‖G‖, and the loss split", save(fig, os.path.join(out, "fig3_split.png"))))

    if ev.first_order.size or u1_steps.size:
        fig, ax = new(1, 2, w=6.0)
        if ev.first_order.size:
            ax[0, 0].semilogy(np.arange(ev.first_order.size), ev.first_order, lw=0.8)
            ax[0, 0].set(xlabel="GD step t", title="A3.2: ‖(D⁺−D)+ηGD‖/‖D⁺−D‖ (Fig. 15)")
        if u1_steps.size:
            ax[0, 1].plot(u1_steps, ev.u1_overlap, lw=1)
            ax[0, 1].axhline(0.98, color="k", ls="--", lw=1)
            ax[0, 1].set(xlabel="GD step", title="A3.5: |⟨u₁(t), u₁(0)⟩| (Fig. 17)")
        figs.append(("A3.2 and A3.5", save(fig, os.path.join(out, "fig_a32_a35.png"))))
    return figs


def write_report(
    out: str, card: Scorecard, ev: Evidence, X: np.ndarray, Y: np.ndarray, *, u1_steps: np.ndarray
) -> None:
    """Write the report into ``out``; ``X`` in the layout the run's ``linnet.train`` took (PyTorch
    modules: samples first, as the module takes it; linnet's families: d×n)."""
    os.makedirs(out, exist_ok=True)
    tr = dataclasses.replace(ev.traj, extras={**ev.traj.extras, "model": np.array(card.model)})
    tr.save(os.path.join(out, "trajectory.npz"), data=(X, Y))  # X as linnet.train took it
    with open(os.path.join(out, "summary.json"), "w") as fh:
        fh.write(card.to_json())
    figs = _figures(out, ev, u1_steps)
    reg, s = card.regime, card.settings
    lines = [
        f"# §3 of Li, Wang & Li (NeurIPS 2022) on {card.model}",
        "",
        f"Data: {card.data}, n = {int(ev.traj.config['n'])}. These verdicts are about this model on "
        "these data, nothing else.",
        "",
        "## Scorecard",
        "",
        ", ".join(f"{v} {k}" for k, v in card.counts().items()),
        "",
        card.markdown(),
        "",
        "## The run",
        "",
        f"- η = {s['eta']:.6g} = {s['eta_lambda0']:g}/Λ(0), Λ(0) = {s['lambda0']:.6g} ({s['chosen']})",
        *[
            f"- ηΛ(0) = {d['eta_lambda0']:g} dropped: ηΛ first above 2 at step {d['first_crossing_step']}"
            for d in s["eta_lambda0_dropped"]
        ],
        f"- {reg.steps} steps (cap {s['cap']}){'; stopped: ' + reg.stopped if reg.stopped else ''}; "
        f"first crossing of 2/η at step {reg.first_crossing}; {len(reg.crossings)} upward crossings",
        f"- Λ and ‖G_A‖ every step, λ_max(∇²L) every {s['hessian_every']} steps; "
        "the trajectory: `trajectory.npz` (`linnet.load_trajectory`)",
        "",
        "## What the paper says, claim by claim",
        "",
    ]
    for v in card.verdicts:
        lines += [
            f'**{v.title}** ({v.paper}) — {v.verdict}. *"{v.paper_quote}"* Rule: {v.rule}. Here: {v.reason}.',
            "",
        ]
    lines += ["## Figures", ""]
    for title, path in figs:
        lines += [f"### {title}", "", f"![{title}]({os.path.basename(path)})", ""]
    with open(os.path.join(out, "index.md"), "w") as fh:
        fh.write("\n".join(lines))
