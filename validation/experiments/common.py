"""Helpers several experiments share: the EoS statistics of a run, its loss spikes, the zoom window
and panels of the run figures, a run from PyTorch's init at η = c/Λ(0)."""

from __future__ import annotations

import numpy as np

import linnet
from theory.phases import first_above, phase_fractions, phase_intervals, phase_labels, upward_crossings

from .. import data as vdata
from ..figures import shade_phases, two_over_eta

# App. B.1.4: "to illustrate the degree of progressive sharpening, we choose a very small learning
# rate (so that the training converges before EOS can happen)": Figs. 11 and 12 compare degrees of
# PS at this ηΛ(0); each run's gate checks that it converged before reaching 2/η.
SMALL_C = 0.2


def eos_stats(sharpness, loss, eta):
    """The EoS numbers of a run with Λ at every step: median and spread of ηΛ over the last half,
    upward crossings of 2/η (all, last half), complete II→III→IV cycles, the step from which ηΛ
    stays near 2 (every 200-step block median within 2 ± 0.05 from there on), loss rises."""
    el = eta * np.asarray(sharpness)
    T = el.size
    half = el[T // 2 :]
    cross = upward_crossings(sharpness, eta)
    lab = phase_labels(sharpness, loss, eta)
    ivs = phase_intervals(lab)
    seq = [iv.phase for iv in ivs]
    spans = [
        (ivs[j].start, ivs[j + 2].stop) for j in range(len(seq) - 2) if seq[j : j + 3] == ["II", "III", "IV"]
    ]
    cycles = len(spans)
    blk = 200 if T >= 2000 else max(10, T // 10)
    meds = np.array([np.median(el[i : i + blk]) for i in range(0, T - blk + 1, blk)])
    ok = np.abs(meds - 2) <= 0.05
    bad = np.flatnonzero(~ok)
    hover_from = (
        None
        if not ok.size or (bad.size and bad[-1] == ok.size - 1)
        else int((bad[-1] + 1) * blk if bad.size else 0)
    )
    spikes = loss_spikes(loss)
    fr = phase_fractions(lab)
    return (
        dict(
            eta_lambda_start=float(el[0]),
            median_eta_lambda_last_half=float(np.median(half)),
            iqr_eta_lambda_last_half=float(np.subtract(*np.percentile(half, [75, 25]))),
            max_eta_lambda=float(el.max()),
            upward_crossings=int(cross.size),
            upward_crossings_last_half=int(np.sum(cross >= T // 2)),
            four_phase_cycles=int(cycles),
            loss_spikes=len(spikes),
            loss_spikes_last_half=int(sum(a >= T // 2 for a, _ in spikes)),
            hover_from_step=hover_from,
            loss_rises=int(np.sum(np.diff(loss) > 0)),
            loss_start=float(loss[0]),
            loss_end=float(loss[-1]),
            **{f"phase_{k}": round(v, 3) for k, v in fr.items()},
        ),
        lab,
        (cross, spans, spikes, hover_from),
    )


def loss_spikes(loss, rise=0.1):
    """The catapult episodes of a run: maximal runs of steps where the loss is more than ``rise``
    (10%) above its running minimum; [start, stop) pairs."""
    loss = np.asarray(loss)
    up = loss > (1 + rise) * np.minimum.accumulate(loss)
    edges = np.diff(np.concatenate([[0], up.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def zoom(marks, T, k=3):
    """A window on ``k`` loss spikes (catapults: one four-phase cycle each) from the first one after
    ηΛ settles at 2 (padded); failing that, the last complete II→III→IV cycles, or about six upward
    crossings of 2/η in the middle of the last half."""
    cross, spans, spikes, hover = marks
    late = [s_ for s_ in spikes if s_[0] >= (hover or 0)] or spikes
    if len(late) >= 2:
        sel = late[:k]
        a, b = sel[0][0], sel[-1][1]
        gap = (late[1][0] - late[0][0]) // 3
        return int(max(0, a - gap)), int(min(T, b + gap))
    if len(spans) >= 2:
        a, b = spans[-min(4, len(spans))][0], spans[-1][1]
    else:
        late = cross[cross >= T // 2]
        if late.size < 2:
            return max(0, T - 300), T
        j = max(0, late.size // 2 - 3)
        a, b = int(late[j]), int(late[min(j + 6, late.size - 1)])
    pad = max(3, (b - a) // 10)
    return int(max(0, a - pad)), int(min(T, b + pad))


def run_panels(ax_full, ax_zoom, tr, lab, window, eta, what="loss"):
    lo, hi = window
    st = tr.step
    if what == "loss":
        for a_ in (ax_full, ax_zoom):
            a_.set_ylabel("training loss L")
        ax_full.semilogy(st, tr.loss, color="C0", lw=0.8)
        sl = slice(lo, hi + 1)
        shade_phases(ax_zoom, lab[sl], st[sl])
        ax_zoom.semilogy(st[sl], tr.loss[sl], color="C0", lw=1, marker="." if hi - lo <= 200 else None, ms=2)
        ax_zoom.legend(loc="upper right", fontsize=8)
    else:
        sl = slice(lo, hi + 1)
        ax_full.plot(st, tr.sharpness, color="C3", lw=0.6, label="Λ = λ_max(G)")
        if tr.hessian_step.size:
            ax_full.plot(tr.hessian_step, tr.hessian_sharpness, "k.", ms=3, label="λ_max(Hessian)")
        two_over_eta(ax_full, eta)
        ax_full.set_ylim(0, 1.6 * max(2 / eta, np.percentile(tr.sharpness, 99)))
        shade_phases(ax_zoom, lab[sl], st[sl])
        ax_zoom.plot(
            st[sl],
            tr.sharpness[sl],
            color="C3",
            lw=0.6,
            marker="." if hi - lo <= 200 else None,
            ms=2,
            label="Λ",
        )
        two_over_eta(ax_zoom, eta)
        for a_ in (ax_full, ax_zoom):
            a_.set_xlabel("GD step")
            a_.set_ylabel("sharpness")
        ax_full.axvspan(lo, hi, color="grey", alpha=0.3, lw=0)
        ax_full.legend(loc="lower right", fontsize=8)


def checked_lambda0(lam0, run: str) -> float:
    """Λ(0) as a float, for η = c/Λ(0); a Λ(0) that is not a positive finite number (images all
    alike or all zero, a dead net) makes every ηΛ(0) impossible: a DataError naming the run."""
    lam0 = float(lam0)
    if not (np.isfinite(lam0) and lam0 > 0):
        raise vdata.DataError(
            f"{run}: Λ(0) = {lam0:g} on these data, so no step size η = c/Λ(0) puts the run at a chosen "
            "ηΛ(0); check --data (are the images all alike, or all zero?)"
        )
    return lam0


def torch_run(ctx, X, Y, m, c, steps, *, W_scale=1.0, seed=None, **kw):
    """PyTorch's init at width m (W scaled by ``W_scale``; init seed ``seed``, default the suite's),
    α = 1, η = c/Λ(0): the trajectory."""
    W, a = linnet.init_params(m, X, scheme="torch", seed=ctx.seed if seed is None else seed, alpha=1.0)
    W = W_scale * W
    eta = c / checked_lambda0(linnet.sharpness(W, a, X, alpha=1.0), f"a width-{m} run")
    return ctx.train(X, Y, eta=eta, steps=steps, W0=W, a0=a, alpha=1.0, e_hat_every=0, **kw)


# App. B.1.4 compares degrees of PS of runs that "converge before EOS can happen": a run has
# converged once its loss is below this fraction of its first loss.
CONVERGED = 1e-2


def below_2_over_eta(tr, name):
    """The run's facts for a comparison of PS degrees below the EoS (App. B.1.4's small η): the
    degree max Λ/Λ(0) up to convergence (up to the run's end when it has not converged: then a
    lower bound on the final degree, a running maximum only grows), ``converged`` (the loss below
    CONVERGED × its first value), the step that happened (steps_to_1pct_loss, None: not reached),
    and ``outside``, the reason the run is outside that regime (it diverged, or reached 2/η before
    converging), or None."""
    conv = np.flatnonzero(tr.loss <= CONVERGED * tr.loss[0])
    end = int(conv[0]) + 1 if conv.size else tr.sharpness.size
    first = first_above(tr.sharpness, tr.eta)
    outside = (
        f"{name}: {tr.stopped}"
        if tr.stopped is not None
        else f"{name}: ηΛ reached 2 at step {first}, before it converged: its PS degree is capped by the EoS"
        if first < end
        else None
    )
    return dict(
        degree=float(tr.sharpness[:end].max() / tr.sharpness[0]),
        converged=bool(conv.size),
        max_eta_lambda=float(tr.eta * tr.sharpness.max()),
        steps_to_1pct_loss=int(conv[0]) if conv.size else None,
        steps=tr.steps,
        outside=outside,
    )
