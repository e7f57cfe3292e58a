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

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from linnet import to_numpy
from linnet.analysis import phase_intervals, phase_labels
from linnet.run.observers import BaseObserver, WarmLanczos
from theory.claims import claim

from .a31 import DIFFER, a31_agreement, classify_disagreements
from .verdicts import MIN_APPLICABLE, MIN_CROSSINGS, Regime, Verdict, judge, not_applicable

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
# App. B.2: the disagreements fall into the three kinds — at least 80% of them, and more often
# than steps taken at random do (the null: every step classified as if it disagreed); fewer than
# MIN_ANOMALIES disagreements are not enough to say.
ANOMALY_SHARE, MIN_ANOMALIES = 0.8, 10


@dataclass(frozen=True)
class Evidence:
    """One run's measurements: its trajectory (Λ, ‖G_A‖ every step), its regime, the A3.2 ratios
    per transition t → t+1 (NaN where not measured; empty when not measured at all), and
    |⟨u₁(t), u₁(0)⟩| (default: the trajectory's ``u1_overlap_init``; a run trained in pieces
    passes the overlaps with the run's own u₁(0), from :class:`U1Observer`)."""

    traj: Any
    regime: Regime
    first_order: np.ndarray = field(default_factory=lambda: np.zeros(0))
    u1_overlap: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @classmethod
    def of(cls, traj, first_order=None, u1_overlap=None) -> Evidence:
        fo = np.zeros(0) if first_order is None else np.asarray(first_order, dtype=float)
        ov = traj.u1_overlap_init if u1_overlap is None else u1_overlap
        return cls(traj, Regime.of(traj), fo, np.asarray(ov, dtype=float))


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
    order). One G product per step."""

    def __init__(self, eta: float):
        self.eta = float(eta)
        self.prev: tuple[np.ndarray, np.ndarray] | None = None
        self.ratios: list[float] = []

    def observe(self, t: int, obs, engine) -> None:
        D = host(obs.D)
        if self.prev is not None:
            D0, GD0 = self.prev
            actual = D - D0
            size = float(np.linalg.norm(actual))
            self.ratios.append(
                float(np.linalg.norm(actual + self.eta * GD0)) / size if size > 0 else math.nan
            )
        GD = host(engine.gram_matvec(obs)(obs.D))
        self.prev = (D, GD)


# ---- the rules --------------------------------------------------------------------------------


def ps_then_eos(ev: Evidence) -> Verdict:
    c = claim("s3.ps_then_eos")
    rule = (
        f"over PS, Λ rises on ≥ {PS_RISE_RATE:.0%} and L falls on ≥ {PS_FALL_RATE:.0%} of the steps; "
        f"after the first crossing the median ηΛ is within 2 ± {HOVER_BAND} and the loss ends lower "
        "with at least one rise"
    )
    gate = ev.regime.eos_gate()
    if gate is not None:
        return judge(c, gate=gate, rule=rule)
    tc = ev.regime.first_crossing
    assert tc is not None
    S, L, eta = ev.traj.sharpness, ev.traj.loss, ev.traj.eta
    rise = float(np.mean(np.diff(S[: tc + 1]) > 0))
    fall = float(np.mean(np.diff(L[: tc + 1]) < 0))
    med = float(np.median(eta * S[tc:]))
    nonmono = bool(L[-1] < L[tc] and np.any(np.diff(L[tc:]) > 0))
    ok = rise >= PS_RISE_RATE and fall >= PS_FALL_RATE and abs(med - 2) <= HOVER_BAND and nonmono
    return judge(
        c,
        gate=None,
        ok=ok,
        number=med,
        rule=rule,
        measured=(
            f"PS of {tc} steps (ηΛ {ev.regime.eta_lambda0:.3g} → 2): Λ rose on {rise:.0%}, "
            f"L fell on {fall:.0%}; then median ηΛ {med:.4g}, loss {L[tc]:.3g} → {L[-1]:.3g} "
            f"({'non-monotone' if nonmono else 'not non-monotone and lower'}), "
            f"{len(ev.regime.crossings)} upward crossings"
        ),
    )


def four_phases(ev: Evidence) -> Verdict:
    c = claim("s3.four_phases")
    rule = f"every phase I–IV present and ≥ {MIN_CYCLES} complete II→III→IV cycles"
    gate = ev.regime.eos_gate()
    if gate is not None:
        return judge(c, gate=gate, rule=rule)
    lab = phase_labels(ev.traj.sharpness, ev.traj.loss, ev.traj.eta)
    seq = [iv.phase for iv in phase_intervals(lab)]
    cycles = sum(seq[j : j + 3] == ["II", "III", "IV"] for j in range(len(seq) - 2))
    present = sorted(set(seq))
    ok = cycles >= MIN_CYCLES and len(present) == 4
    return judge(
        c,
        gate=None,
        ok=ok,
        number=cycles,
        rule=rule,
        measured=f"{cycles} II→III→IV cycles; phases present: {', '.join(present)}",
    )


def a31_window(regime: Regime) -> tuple[int | None, str | None]:
    """The last step of "PS and the first few oscillations" (the FIRST_FEW-th upward crossing, or
    the run's end with MIN_CROSSINGS to FIRST_FEW − 1 of them), or (None, why not comparable)."""
    why = regime.eos_gate()
    if why is not None:
        return None, why
    cr = regime.crossings
    return (cr[FIRST_FEW - 1] if len(cr) >= FIRST_FEW else regime.steps), None


def a31(ev: Evidence) -> Verdict:
    c = claim("s3.a31")
    rule = (
        f"sign(Δ‖A‖²) = sign(ΔΛ) on ≥ {MOST:.0%} of the steps from the start to the "
        f"{FIRST_FEW}th upward crossing of 2/η (ties and a dead net not counted; ≥ {MIN_APPLICABLE} steps)"
    )
    end, gate = a31_window(ev.regime)
    if gate is not None:
        return judge(c, gate=gate, rule=rule)
    _, s = a31_agreement(ev.traj.sharpness[: end + 1], ev.traj.a_norm2[: end + 1])
    counted = s["agree"] + s["differ"]
    if counted < MIN_APPLICABLE:
        return judge(
            c,
            gate=f"only {counted} steps counted up to step {end} (ties {s['ties']}, dead "
            f"{s['dead']}): fewer than {MIN_APPLICABLE}",
            rule=rule,
        )
    rate = s["rate"]
    return judge(
        c,
        gate=None,
        ok=rate >= MOST,
        number=rate,
        rule=rule,
        measured=f"{s['agree']} of {counted} steps agree up to step {end} ({rate:.1%})",
    )


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
    return judge(
        c,
        gate=None,
        ok=med <= GA_SHARE,
        number=med,
        rule=rule,
        measured=(f"median {med:.3g}, range {share.min():.3g}–{share.max():.3g} over {share.size} steps"),
    )


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
    L_u1 = np.asarray(tr.d_u1) ** 2 / (2 * n)
    rest = np.asarray(tr.loss) - L_u1
    dL, du, dr = (np.diff(x[tc:]) for x in (tr.loss, L_u1, rest))
    up = dL > 0
    if not up.any():
        return judge(c, gate="the loss never rose after the first crossing: nothing to attribute", rule=rule)
    u_rise = float(np.sum(np.maximum(du, 0)[up]))
    r_rise = float(np.sum(np.maximum(dr, 0)[up]))
    ratio = r_rise / u_rise if u_rise > 0 else math.inf
    return judge(
        c,
        gate=None,
        ok=ratio <= REST_SHARE,
        number=ratio,
        rule=rule,
        measured=f"{int(up.sum())} rising steps: the rest rose by {r_rise:.3g}, the u₁ part by {u_rise:.3g}",
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
    r = ev.first_order
    ps, eos = r[:tc], r[tc:]
    ps, eos = ps[np.isfinite(ps)], eos[np.isfinite(eos)]
    if min(ps.size, eos.size) < MIN_APPLICABLE:
        return judge(
            c, gate=f"{ps.size} PS and {eos.size} EoS steps measured: fewer than {MIN_APPLICABLE}", rule=rule
        )
    m_ps, m_eos = float(np.median(ps)), float(np.median(eos))
    return judge(
        c,
        gate=None,
        ok=max(m_ps, m_eos) <= FIRST_ORDER_RATIO,
        number=m_eos,
        rule=rule,
        measured=f"median {m_ps:.3g} in PS, {m_eos:.3g} in the EoS (max {eos.max():.3g})",
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
    return judge(
        c,
        gate=None,
        ok=share >= U1_SHARE,
        number=share,
        rule=rule,
        measured=f"{share:.1%} of {ov.size} steps; median {np.median(ov):.4g}, min {ov.min():.4g}",
    )


def anomalies(ev: Evidence) -> Verdict:
    c = claim("s3.anomalies")
    rule = (
        f"≥ {ANOMALY_SHARE:.0%} of A3.1's disagreements are of kinds (a) trend change, (b) oscillation, "
        "(c) late, and more than of all steps taken as a null"
    )
    gate = ev.regime.eos_gate()
    if gate is not None:
        return judge(c, gate=gate, rule=rule)
    S, A, L = ev.traj.sharpness, ev.traj.a_norm2, ev.traj.loss
    codes, _ = a31_agreement(S, A)
    dis = np.flatnonzero(codes == DIFFER)
    if dis.size < MIN_ANOMALIES:
        return judge(
            c, gate=f"A3.1 failed on {dis.size} steps: fewer than {MIN_ANOMALIES} to classify", rule=rule
        )
    _, counts = classify_disagreements(S, A, L, dis)
    _, null = classify_disagreements(S, A, L, np.arange(codes.size))
    share = 1 - counts["other"] / dis.size
    share_null = 1 - null["other"] / codes.size
    ok = share >= ANOMALY_SHARE and share > share_null
    return judge(
        c,
        gate=None,
        ok=ok,
        number=share,
        rule=rule,
        measured=(
            f"{dis.size} disagreements: trend change {counts['trend_change']}, oscillation "
            f"{counts['oscillation']}, late {counts['late']}, other {counts['other']} "
            f"({share:.0%} of kinds a–c, against {share_null:.0%} of all steps)"
        ),
    )


RULES = (ps_then_eos, four_phases, a31, ga_small, loss_split, a32, a35, anomalies)


def judge_run(ev: Evidence) -> tuple[Verdict, ...]:
    """Every §3 rule on one run, in the order of :data:`RULES`."""
    return tuple(rule(ev) for rule in RULES)
