"""The paper's §3 picture as rules on one GD run of any network with a linear output layer.

Each rule judges one claim of :mod:`theory.claims` on a run's :class:`Evidence` and returns a
:class:`validation.verdicts.Verdict`. Each first checks that the run is in the regime its claim is
about (:class:`validation.verdicts.Regime`: a progressive PS of ≥ 100 steps from ηΛ(0) < 2, then
oscillations around 2/η) and answers "not comparable", with the reason, where it is not; then it
applies a rule that says what the paper's sentence says (quoted in the claim), over the phase the
paper shows, from typical values or rates rather than single extremes. The thresholds are stated
once, below, with why each was chosen.

The run needs Λ at every step (``sharpness_every=1``) and ‖G_A‖ at every step (``ga_every=1``,
the default of the deep families); A3.2 needs the first-order ratios of
:class:`FirstOrderObserver`, run alongside the training.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from linnet import to_numpy
from linnet.analysis import phase_intervals, phase_labels
from linnet.run.observers import BaseObserver, WarmLanczos
from theory.claims import claim

from .a31 import AGREE, DIFFER, a31_agreement, classify_disagreements
from .verdicts import (
    DIFFERS,
    MIN_APPLICABLE,
    MIN_CROSSINGS,
    REPRODUCED,
    Regime,
    Verdict,
    judge,
    not_applicable,
)

# ---- the rules' thresholds, each with its reason ----------------------------------------------
# Fig. 1: "keeps increasing" / "decreases" over PS, read as rates over its steps (GD's first steps
# and single roundoff-size wiggles aside), and "oscillate around 2/η" as the median of ηΛ after the
# first crossing within 2 ± HOVER_BAND (Fig. 1's band is narrower: 0.1 leaves room for slower
# deep-net oscillations without admitting a run that settles well below or above 2/η).
PS_RISE_RATE, PS_FALL_RATE, HOVER_BAND = 0.8, 0.9, 0.1
# §3.1: the four phases "happen cyclically": at least MIN_CROSSINGS complete II→III→IV cycles.
MIN_CYCLES = MIN_CROSSINGS
# App. B.1: A3.1 "most of the time in the progressive sharpening stage and the first few
# oscillations": the window ends at the FIRST_FEW-th upward crossing of 2/η (or the run's end when
# it has MIN_CROSSINGS to FIRST_FEW − 1), and "most of the time" is read as ≥ 4 steps in 5.
FIRST_FEW, MOST = 5, 0.8
# Fig. 13: λ_max(G_A) "very close to 0" against the sharpness: its typical (median) share of Λ
# over the run at most a tenth (an order of magnitude).
GA_SHARE = 0.1
# Fig. 3(b): "mainly due to the u₁-component": over the EoS steps where L rises, the rest's rises
# sum to at most a tenth of the u₁ part's.
REST_SHARE = 0.1
# Fig. 15: "almost the same" in PS and "close most of the time" in the EoS: the median of
# ‖higher-order part‖/‖actual update‖ at most a tenth in each phase.
FIRST_ORDER_RATIO = 0.1
# Fig. 17: "larger than at least 0.98": the share of steps with |⟨u₁(t), u₁(0)⟩| > 0.98 at least
# 0.9 (a typical value, not the single minimum, which falls inside a catapult).
U1_OVERLAP, U1_SHARE = 0.98, 0.9
# App. B.2 sorts A3.1's disagreements into three kinds and gives no share: the kinds say something
# only if disagreeing steps are of them more often than agreeing steps are (the control), judged by
# a 95% interval on the difference of the two shares (normal approximation); fewer than
# MIN_ANOMALIES steps of either are not enough to say.
MIN_ANOMALIES, Z95 = 10, 1.96
# §3.1's phases II–III are where the loss rises (the catapult) and IV where it recovers: a cycle
# counts when the loss rises in II–III by more than SPIKE_RISE (the suite's catapult size,
# validation.experiments.common.loss_spikes) and falls back in IV.
SPIKE_RISE = 0.1


@dataclass(frozen=True)
class Evidence:
    """One run's measurements: its trajectory (Λ, ‖G_A‖ every step), its regime, the A3.2 ratios
    per transition t → t+1 (NaN where not measured; empty when not measured at all) with, for the
    control, the same ratios from the previous step's first-order term (``first_order_stale``),
    |⟨u₁(t), u₁(0)⟩| (default: the trajectory's ``u1_overlap_init``; a run trained in pieces
    passes the overlaps with the run's own u₁(0), from :class:`U1Observer`), and, for A3.5's
    control, |⟨u₁(t), v₁⟩| against the data's top direction v₁ (the top eigenvector of the data
    kernel K = XᵀX: the trajectory's ``u1_v1_overlap``)."""

    traj: Any
    regime: Regime
    first_order: np.ndarray = field(default_factory=lambda: np.zeros(0))
    u1_overlap: np.ndarray = field(default_factory=lambda: np.zeros(0))
    first_order_stale: np.ndarray = field(default_factory=lambda: np.zeros(0))
    u1_data_overlap: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @classmethod
    def of(cls, traj, first_order=None, u1_overlap=None, first_order_stale=None) -> Evidence:
        """The evidence of ``traj``; ``first_order``: the :class:`FirstOrderObserver` that ran
        alongside it, or its ratios and (``first_order_stale``) its control's, as arrays (a run
        trained in pieces)."""
        fo, stale = np.zeros(0), np.zeros(0)
        if isinstance(first_order, FirstOrderObserver):
            fo = np.asarray(first_order.ratios, dtype=float)
            stale = np.asarray(first_order.stale_ratios, dtype=float)
        elif first_order is not None:
            fo = np.asarray(first_order, dtype=float)
            stale = np.zeros(0) if first_order_stale is None else np.asarray(first_order_stale, dtype=float)
            if stale.size != fo.size:  # not measured along the whole run: no control
                stale = np.zeros(0)
        ov = traj.u1_overlap_init if u1_overlap is None else u1_overlap
        v1 = np.asarray(traj.u1_v1_overlap, dtype=float)
        return cls(traj, Regime.of(traj), fo, np.asarray(ov, dtype=float), stale, v1)


def host(x) -> np.ndarray:
    """A float64 NumPy copy of a NumPy, CuPy or PyTorch array."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(to_numpy(x), dtype=np.float64)


class U1Observer(BaseObserver):
    """|⟨u₁(t), u₁(0)⟩| every ``every`` steps, u₁ = G's top eigenvector by warm-started Lanczos,
    against ``reference`` (u₁ at the run's start; default: the first one this observer sees), so
    that a run trained in pieces compares every piece with the same u₁(0)."""

    def __init__(self, every: int, reference=None, tol: float = 1e-6):
        self.every, self.tol = int(every), float(tol)
        self.reference = None if reference is None else np.asarray(reference, dtype=np.float64)
        self.eig: WarmLanczos | None = None
        self.steps: list[int] = []
        self.overlaps: list[float] = []

    def observe(self, t: int, obs, engine) -> None:
        if not self.every or t % self.every:
            return
        if self.eig is None:
            self.eig = WarmLanczos(engine.xp, engine.dtype, engine.dim, "LA", self.tol, 300, 7)
        u1 = host(self.eig(engine.gram_matvec(obs))[2])
        if self.reference is None:
            self.reference = u1
        self.steps.append(t)
        self.overlaps.append(abs(float(u1 @ self.reference)))


class FirstOrderObserver(BaseObserver):
    """A3.2 along a run: at each transition t → t+1, ‖(D(t+1) − D(t)) − (−η G(t) D(t))‖ over
    ‖D(t+1) − D(t)‖ — the share of the residual's actual change not explained by its first-order
    term −ηG D (GD on L = ‖D‖²/2n moves θ by −ηJᵀD/n, so D moves by −ηJJᵀD/n = −ηGD to first
    order). One G product per step. ``stale_ratios``: the same with the previous step's term
    −ηG(t−1)D(t−1) (NaN for the first transition) — A3.2's control, a prediction that ignores the
    current state."""

    def __init__(self, eta: float):
        self.eta = float(eta)
        self.prev: tuple[np.ndarray, np.ndarray] | None = None
        self.prev_gd: np.ndarray | None = None
        self.ratios: list[float] = []
        self.stale_ratios: list[float] = []

    def observe(self, t: int, obs, engine) -> None:
        D = host(obs.D)
        if self.prev is not None:
            D0, GD0 = self.prev
            actual = D - D0
            size = float(np.linalg.norm(actual))
            self.ratios.append(
                float(np.linalg.norm(actual + self.eta * GD0)) / size if size > 0 else math.nan
            )
            self.stale_ratios.append(
                float(np.linalg.norm(actual + self.eta * self.prev_gd)) / size
                if size > 0 and self.prev_gd is not None
                else math.nan
            )
            self.prev_gd = GD0
        GD = host(engine.gram_matvec(obs)(obs.D))
        self.prev = (D, GD)


# ---- the rules --------------------------------------------------------------------------------
# Each rule is also evaluated on a control where the phenomenon it is about is absent, and its
# verdict carries the control's statistic and what the rule says there (``Verdict.control``): a rule
# that says "reproduced" on its control cannot fail on that claim, and the scorecard shows it as
# consistency, not as a reproduction.


def _control(what: str, number: object, ok: bool) -> dict:
    return dict(what=what, number=number, verdict=REPRODUCED if ok else DIFFERS)


def _half_period(regime: Regime) -> int:
    """Half the oscillation's period: half the median gap between upward crossings of 2/η."""
    gaps = np.diff(regime.crossings)
    return max(1, int(np.median(gaps)) // 2) if gaps.size else 1


def _shift(x: np.ndarray, lag: int) -> np.ndarray:
    """``x`` rotated by ``lag`` steps: the same series, put in anti-phase with the oscillation when
    ``lag`` is half its period (:func:`_half_period`)."""
    return np.roll(x, lag)


def _ps_eos_parts(S, L, eta, ps: slice, eos: slice) -> tuple[bool, dict]:
    """Fig. 1's sentence on the PS steps ``ps`` and the EoS steps ``eos``: Λ rises and L falls
    over PS (rates), the median ηΛ over the EoS within 2 ± HOVER_BAND, and the loss decreasing
    non-monotonically there — its envelope (running minimum) ends below its value at the window's
    start, and it rises at least once (never judged on the last step: a run may end inside a
    catapult)."""
    rise = float(np.mean(np.diff(S[ps]) > 0))
    fall = float(np.mean(np.diff(L[ps]) < 0))
    le = L[eos]
    med = float(np.median(eta * S[eos]))
    rises = int(np.sum(np.diff(le) > 0))
    envelope_end = float(np.min(le))
    nonmono = bool(envelope_end < le[0] and rises > 0)
    ok = rise >= PS_RISE_RATE and fall >= PS_FALL_RATE and abs(med - 2) <= HOVER_BAND and nonmono
    return ok, dict(
        rise=rise,
        fall=fall,
        median=med,
        rises=rises,
        start=float(le[0]),
        envelope=envelope_end,
        nonmono=nonmono,
    )


def ps_then_eos(ev: Evidence) -> Verdict:
    c = claim("s3.ps_then_eos")
    rule = (
        f"over PS, Λ rises on ≥ {PS_RISE_RATE:.0%} and L falls on ≥ {PS_FALL_RATE:.0%} of the steps; "
        f"after the first crossing the median ηΛ is within 2 ± {HOVER_BAND}, and the loss's running "
        "minimum falls below its value at the crossing while the loss rises at least once"
    )
    gate = ev.regime.eos_gate()
    if gate is not None:
        return judge(c, gate=gate, rule=rule)
    tc = ev.regime.first_crossing
    assert tc is not None
    S, L, eta = np.asarray(ev.traj.sharpness), np.asarray(ev.traj.loss), ev.traj.eta
    ok, m = _ps_eos_parts(S, L, eta, slice(0, tc + 1), slice(tc, None))
    tr = ev.traj
    hess = ""
    if tr.hessian_step.size and np.any(tr.hessian_step >= tc):
        # §2 defines the sharpness as the Gram's Λ; the Hessian's λ_max, which sets GD's stability,
        # is reported beside it over the same EoS steps (their gap, not the verdict)
        at = np.asarray(tr.hessian_step) >= tc
        h = np.asarray(tr.hessian_sharpness)[at]
        g = S[np.asarray(tr.hessian_step)[at]]
        hess = (
            f"; the Hessian's λ_max at {h.size} EoS steps: median ηλ_max {np.median(eta * h):.4g}, "
            f"λ_max/Λ median {np.median(h / g):.3g}"
        )
    # control: the windows swapped — the PS test on the EoS steps, the EoS test on the PS steps,
    # where neither phenomenon is
    ok_c, mc = _ps_eos_parts(S, L, eta, slice(tc, None), slice(0, tc + 1))
    return judge(
        c,
        gate=None,
        ok=ok,
        number=m["median"],
        rule=rule,
        measured=(
            f"PS of {tc} steps (ηΛ {ev.regime.eta_lambda0:.3g} → 2): Λ rose on {m['rise']:.0%}, "
            f"L fell on {m['fall']:.0%}; then median ηΛ {m['median']:.4g}, loss {m['start']:.3g} → "
            f"running minimum {m['envelope']:.3g} with {m['rises']} rises "
            f"({'non-monotone decrease' if m['nonmono'] else 'no non-monotone decrease'}), "
            f"{len(ev.regime.crossings)} upward crossings{hess}"
        ),
        control=_control(
            f"the windows swapped (PS test on the EoS steps: Λ rose on {mc['rise']:.0%}, L fell on "
            f"{mc['fall']:.0%}; EoS test on the PS steps: median ηΛ {mc['median']:.3g}, {mc['rises']} "
            "loss rises)",
            mc["median"],
            ok_c,
        ),
    )


def _cycles(S, L, eta) -> tuple[int, int, list[str]]:
    """(complete II→III→IV cycles, those in which the loss catapults — rises by more than
    SPIKE_RISE over its value at the cycle's start during II–III and falls back below that peak in
    IV —, the phases present)."""
    ivs = phase_intervals(phase_labels(S, L, eta))
    seq = [iv.phase for iv in ivs]
    total = with_loss = 0
    for j in range(len(seq) - 2):
        if seq[j : j + 3] != ["II", "III", "IV"]:
            continue
        total += 1
        a, b, e = ivs[j].start, ivs[j + 1].stop, ivs[j + 2].stop
        peak = float(np.max(L[a : b + 1]))
        if peak > (1 + SPIKE_RISE) * L[a] and float(np.min(L[b:e])) < peak:
            with_loss += 1
    return total, with_loss, sorted(set(seq))


def four_phases(ev: Evidence) -> Verdict:
    c = claim("s3.four_phases")
    rule = (
        f"every phase I–IV present and ≥ {MIN_CYCLES} complete II→III→IV cycles in which the loss "
        f"rises by > {SPIKE_RISE:.0%} in II–III and falls back in IV"
    )
    gate = ev.regime.eos_gate()
    if gate is not None:
        return judge(c, gate=gate, rule=rule)
    S, L, eta = np.asarray(ev.traj.sharpness), np.asarray(ev.traj.loss), ev.traj.eta
    total, cycles, present = _cycles(S, L, eta)
    ok = cycles >= MIN_CYCLES and len(present) == 4
    # control: the loss shifted by half an oscillation against Λ, so its rises no longer follow
    # the phases
    lag = _half_period(ev.regime)
    _, cycles_c, _ = _cycles(S, _shift(L, lag), eta)
    return judge(
        c,
        gate=None,
        ok=ok,
        number=cycles,
        rule=rule,
        measured=(
            f"{cycles} of {total} II→III→IV cycles with the loss's rise and fall; phases present: "
            f"{', '.join(present)}"
        ),
        control=_control(
            f"the loss shifted by {lag} steps (half an oscillation) against Λ: {cycles_c} such cycles",
            cycles_c,
            cycles_c >= MIN_CYCLES,
        ),
    )


def a31_windows(regime: Regime) -> tuple[tuple[int, int, int] | None, str | None]:
    """((0, t_c, end), None): PS is steps 0…t_c (the first crossing of 2/η), "the first few
    oscillations" t_c…end, end the FIRST_FEW-th upward crossing (the run's end with MIN_CROSSINGS
    to FIRST_FEW − 1 of them), extended to at least MIN_APPLICABLE steps past t_c (a net whose Λ
    crosses 2/η every other step is judged on its first MIN_APPLICABLE steps of EoS); or (None,
    why not comparable)."""
    why = regime.eos_gate()
    if why is not None:
        return None, why
    tc = regime.first_crossing
    assert tc is not None
    cr = regime.crossings
    end = cr[FIRST_FEW - 1] if len(cr) >= FIRST_FEW else regime.steps
    return (0, tc, min(regime.steps, max(end, tc + MIN_APPLICABLE))), None


def a31_window(regime: Regime) -> tuple[int | None, str | None]:
    """The last step of "PS and the first few oscillations" (see :func:`a31_windows`)."""
    w, why = a31_windows(regime)
    return (None, why) if w is None else (w[2], None)


def _a31_rate(S, A, lo: int, hi: int) -> dict:
    """A3.1 on steps lo…hi: the agreement summary, plus ``null`` — the agreement a random pairing
    of the window's ΔΛ with its Δ‖A‖² gives on average, p_Λ·p_A + (1 − p_Λ)(1 − p_A) with p the
    shares of rising steps among the counted ones (the permuted control)."""
    codes, s = a31_agreement(S[lo : hi + 1], A[lo : hi + 1])
    counted = (codes == AGREE) | (codes == DIFFER)
    dS, dA = np.diff(S[lo : hi + 1])[counted], np.diff(A[lo : hi + 1])[counted]
    pS, pA = (float(np.mean(d > 0)) if d.size else math.nan for d in (dS, dA))
    return dict(s, counted=int(counted.sum()), null=pS * pA + (1 - pS) * (1 - pA))


def _a31_in(ev: Evidence, claim_id: str, part: str) -> Verdict:
    c = claim(claim_id)
    where = (
        "over PS (steps 0 to the first crossing of 2/η)"
        if part == "ps"
        else (
            f"over the first few oscillations (the first to the {FIRST_FEW}th upward crossing of 2/η, at "
            f"least {MIN_APPLICABLE} steps)"
        )
    )
    rule = (
        f"sign(Δ‖A‖²) = sign(ΔΛ) on ≥ {MOST:.0%} of the steps {where} (ties and a dead net not "
        f"counted; ≥ {MIN_APPLICABLE} steps)"
    )
    w, gate = a31_windows(ev.regime)
    if gate is not None:
        return judge(c, gate=gate, rule=rule)
    assert w is not None
    lo, hi = (w[0], w[1]) if part == "ps" else (w[1], w[2])
    s = _a31_rate(
        np.asarray(ev.traj.sharpness, dtype=float), np.asarray(ev.traj.a_norm2, dtype=float), lo, hi
    )
    if s["counted"] < MIN_APPLICABLE:
        return judge(
            c,
            gate=f"only {s['counted']} steps counted in steps {lo}–{hi} (ties {s['ties']}, dead "
            f"{s['dead']}): fewer than {MIN_APPLICABLE}",
            rule=rule,
        )
    return judge(
        c,
        gate=None,
        ok=s["rate"] >= MOST,
        number=s["rate"],
        rule=rule,
        measured=f"{s['agree']} of {s['counted']} steps agree in steps {lo}–{hi} ({s['rate']:.1%})",
        control=_control(
            f"ΔΛ and Δ‖A‖² paired at random within the window (expected agreement {s['null']:.1%})",
            s["null"],
            s["null"] >= MOST,
        ),
    )


def a31_ps(ev: Evidence) -> Verdict:
    return _a31_in(ev, "s3.a31.ps", "ps")


def a31_oscillations(ev: Evidence) -> Verdict:
    return _a31_in(ev, "s3.a31.oscillations", "oscillations")


def ga_small(ev: Evidence) -> Verdict:
    c = claim("s3.ga_small")
    rule = f"the median over the run of ‖G_A‖/Λ ≤ {GA_SHARE}"
    tr = ev.traj
    if tr.ga_step.size == 0:
        return not_applicable(c, "‖G_A‖ was not measured (ga_every=0)", rule)
    gate = ev.regime.eos_gate()
    if gate is not None:
        return judge(c, gate=gate, rule=rule)
    S = np.asarray(tr.sharpness)[np.asarray(tr.ga_step)]
    share = np.asarray(tr.ga_norm) / S
    med = float(np.median(share))
    init = float(share[0])
    return judge(
        c,
        gate=None,
        ok=med <= GA_SHARE,
        number=med,
        rule=rule,
        measured=(f"median {med:.3g}, range {share.min():.3g}–{share.max():.3g} over {share.size} steps"),
        control=_control(
            f"the run at initialisation (step {int(tr.ga_step[0])}, before any training): "
            f"‖G_A‖/Λ = {init:.3g}",
            init,
            init <= GA_SHARE,
        ),
    )


def _rest_share(L, L_u1, tc: int) -> tuple[int, float, float, float]:
    dL, du, dr = (np.diff(x[tc:]) for x in (L, L_u1, L - L_u1))
    up = dL > 0
    u_rise = float(np.sum(np.maximum(du, 0)[up]))
    r_rise = float(np.sum(np.maximum(dr, 0)[up]))
    return int(up.sum()), u_rise, r_rise, (r_rise / u_rise if u_rise > 0 else math.inf)


def loss_split(ev: Evidence) -> Verdict:
    c = claim("s3.loss_split")
    rule = (
        f"over the EoS steps where L rises, the rest's rises (L − ⟨D,u₁⟩²/2n) sum to ≤ {REST_SHARE} "
        "× the u₁ part's"
    )
    tr = ev.traj
    gate = ev.regime.eos_gate()
    if gate is not None:
        return judge(c, gate=gate, rule=rule)
    tc = ev.regime.first_crossing
    assert tc is not None
    n = int(tr.config["n"])
    L = np.asarray(tr.loss, dtype=float)
    L_u1 = np.asarray(tr.d_u1, dtype=float) ** 2 / (2 * n)
    ups, u_rise, r_rise, ratio = _rest_share(L, L_u1, tc)
    if ups == 0:
        return judge(c, gate="the loss never rose after the first crossing: nothing to attribute", rule=rule)
    # control: the u₁ part shifted by half an oscillation against the loss over the EoS, so that its
    # rises no longer fall on the loss's
    lag = _half_period(ev.regime)
    L_c = np.concatenate([L_u1[:tc], _shift(L_u1[tc:], lag)])
    _, _, _, ratio_c = _rest_share(L, np.minimum(L_c, L), tc)
    return judge(
        c,
        gate=None,
        ok=ratio <= REST_SHARE,
        number=ratio,
        rule=rule,
        measured=f"{ups} rising steps: the rest rose by {r_rise:.3g}, the u₁ part by {u_rise:.3g}",
        control=_control(
            f"the u₁ part shifted by {lag} steps (half an oscillation) against the loss over the EoS (its "
            "share capped at L): the rest/u₁ "
            f"ratio {ratio_c:.3g}",
            ratio_c,
            ratio_c <= REST_SHARE,
        ),
    )


def a32(ev: Evidence) -> Verdict:
    c = claim("s3.a32")
    rule = (
        f"median ‖(D⁺ − D) + ηGD‖/‖D⁺ − D‖ ≤ {FIRST_ORDER_RATIO} over PS and over the EoS "
        f"(≥ {MIN_APPLICABLE} steps each)"
    )
    if ev.first_order.size == 0:
        return not_applicable(c, "the first-order ratios were not measured (FirstOrderObserver)", rule)
    gate = ev.regime.eos_gate()
    if gate is not None:
        return judge(c, gate=gate, rule=rule)
    tc = ev.regime.first_crossing
    assert tc is not None

    def medians(r):
        r = np.asarray(r, dtype=float)
        ps, eos = r[:tc], r[tc:]
        ps, eos = ps[np.isfinite(ps)], eos[np.isfinite(eos)]
        return ps, eos

    ps, eos = medians(ev.first_order)
    if min(ps.size, eos.size) < MIN_APPLICABLE:
        return judge(
            c, gate=f"{ps.size} PS and {eos.size} EoS steps measured: fewer than {MIN_APPLICABLE}", rule=rule
        )
    m_ps, m_eos = float(np.median(ps)), float(np.median(eos))
    control = None
    if ev.first_order_stale.size:
        ps_c, eos_c = medians(ev.first_order_stale)
        mc_ps, mc_eos = float(np.median(ps_c)), float(np.median(eos_c))
        control = _control(
            f"the previous step's first-order term −ηG(t−1)D(t−1) in place of the current one: median "
            f"{mc_ps:.3g} in PS, {mc_eos:.3g} in the EoS",
            mc_eos,
            max(mc_ps, mc_eos) <= FIRST_ORDER_RATIO,
        )
    return judge(
        c,
        gate=None,
        ok=max(m_ps, m_eos) <= FIRST_ORDER_RATIO,
        number=m_eos,
        rule=rule,
        measured=f"median {m_ps:.3g} in PS, {m_eos:.3g} in the EoS (max {eos.max():.3g})",
        control=control,
    )


def a35(ev: Evidence) -> Verdict:
    c = claim("s3.a35")
    rule = f"|⟨u₁(t), u₁(0)⟩| > {U1_OVERLAP} on ≥ {U1_SHARE:.0%} of the steps"
    ov = ev.u1_overlap
    if ov.size == 0:  # not measured: says nothing of the regime, as in the other rules
        return not_applicable(c, "u₁ was not tracked", rule)
    gate = ev.regime.eos_gate()
    if gate is not None:
        return judge(c, gate=gate, rule=rule)
    share = float(np.mean(ov > U1_OVERLAP))
    control = None
    if ev.u1_data_overlap.size:
        dv = ev.u1_data_overlap
        share_c = float(np.mean(dv > U1_OVERLAP))
        control = _control(
            f"u₁(t) against the data's top direction (K = XᵀX's top eigenvector) instead of u₁(0): "
            f"{share_c:.1%} of {dv.size} steps above {U1_OVERLAP} (median {np.median(dv):.4g})",
            share_c,
            share_c >= U1_SHARE,
        )
    return judge(
        c,
        gate=None,
        ok=share >= U1_SHARE,
        number=share,
        rule=rule,
        measured=f"{share:.1%} of {ov.size} steps; median {np.median(ov):.4g}, min {ov.min():.4g}",
        control=control,
    )


def anomalies(ev: Evidence) -> Verdict:
    c = claim("s3.anomalies")
    rule = (
        "A3.1's disagreeing steps are of kinds (a) trend change, (b) oscillation, (c) late more often "
        "than its agreeing steps are: the difference of the two shares above 0 with 95% confidence"
    )
    gate = ev.regime.eos_gate()
    if gate is not None:
        return judge(c, gate=gate, rule=rule)
    S, A, L = ev.traj.sharpness, ev.traj.a_norm2, ev.traj.loss
    codes, _ = a31_agreement(S, A)
    dis, agr = np.flatnonzero(codes == DIFFER), np.flatnonzero(codes == AGREE)
    if min(dis.size, agr.size) < MIN_ANOMALIES:
        return judge(
            c,
            gate=f"A3.1 failed on {dis.size} and held on {agr.size} steps: fewer than {MIN_ANOMALIES} "
            "to compare",
            rule=rule,
        )
    _, counts = classify_disagreements(S, A, L, dis)
    _, counts_a = classify_disagreements(S, A, L, agr)
    p1 = 1 - counts["other"] / dis.size
    p0 = 1 - counts_a["other"] / agr.size
    diff = p1 - p0
    se = math.sqrt(p1 * (1 - p1) / dis.size + p0 * (1 - p0) / agr.size)
    lo = diff - Z95 * se
    return judge(
        c,
        gate=None,
        ok=lo > 0,
        number=diff,
        rule=rule,
        measured=(
            f"{dis.size} disagreements: trend change {counts['trend_change']}, oscillation "
            f"{counts['oscillation']}, late {counts['late']}, other {counts['other']} ({p1:.0%} of kinds "
            f"a–c) against {p0:.0%} of the {agr.size} agreeing steps: difference {diff:+.3f}, 95% interval "
            f"{lo:+.3f} to {diff + Z95 * se:+.3f}"
        ),
        control=_control(
            f"the agreeing steps: {p0:.0%} of them are of kinds a–c (the rule compares against them)",
            p0,
            False,
        ),
    )


RULES = (ps_then_eos, four_phases, a31_ps, a31_oscillations, ga_small, loss_split, a32, a35, anomalies)


def judge_run(ev: Evidence, network: str = "") -> tuple[Verdict, ...]:
    """Every §3 rule on one run, in the order of :data:`RULES`, each verdict naming ``network``."""
    return tuple(dataclasses.replace(rule(ev), network=network) for rule in RULES)
