"""Assumptions A3.1–A3.7, A4.1–A4.5 and condition (20) of Lemma E.7 as checks on a record.

Each returns a :class:`~theory.results.CheckResult` of kind "assumption" (or "empirical" for
A3.1, whose paper statement is "most of the time"), with the fitted constant: the smallest value
for which the statement holds on this trajectory.
"""
from __future__ import annotations

import numpy as np

from .constants import Constants
from .phases import first_above, phase_two_starts
from .record import TheoryRecord
from .results import CheckResult, make_result, not_evaluated


def u1_change(rec: TheoryRecord) -> np.ndarray:
    """‖u₁(t+1) − u₁(t)‖ with the sign of u₁(t+1) aligned to u₁(t)."""
    U = rec.u1
    s = np.sign(np.sum(U[1:] * U[:-1], axis=1))
    s[s == 0] = 1
    return np.linalg.norm(U[1:] * s[:, None] - U[:-1], axis=1)


def fitted_eps(rec: TheoryRecord) -> float:
    ch = u1_change(rec)
    return float(ch.max()) if ch.size else 0.0


def first_order_parts(rec: TheoryRecord) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray],
                                                     tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """A3.2's split of one step: (actual, first-order, higher-order) for D and for ‖a‖².

    D⁺ − D = −ηGD + (η²α²/n)⟨F,D⟩KD (I2), ‖a⁺‖² − ‖a‖² = −(2η/n)⟨F,D⟩ + (η²α²/n²)‖ZD‖² (I3).
    The higher-order parts are taken from the actual change minus the first-order part, so the
    split needs no identity.
    """
    eta, n = rec.eta, rec.n
    dD = rec.D[1:] - rec.D[:-1]
    first_D = -eta * rec.GD[:-1]
    high_D = dD - first_D
    da = np.diff(rec.a_norm2)
    first_a = -2 * eta * rec.fd[:-1] / n
    high_a = da - first_a
    return (dD, first_D, high_D), (da, first_a, high_a)


def higher_order_ratio(rec: TheoryRecord) -> tuple[np.ndarray, np.ndarray]:
    """A3.2's per-step ‖higher‖/(‖first‖ + ‖higher‖), for D and for ‖a‖² (each in [0, 1])."""
    (dD, fD, hD), (da, fa, ha) = first_order_parts(rec)
    nh = np.linalg.norm(hD, axis=1)
    ratio_D = nh / np.maximum(np.linalg.norm(fD, axis=1) + nh, 1e-300)
    ratio_a = np.abs(ha) / np.maximum(np.abs(fa) + np.abs(ha), 1e-300)
    return ratio_D, ratio_a


def _transition_steps(rec: TheoryRecord) -> np.ndarray:
    return np.arange(rec.T)


def a3_1(rec: TheoryRecord, c: Constants) -> CheckResult:
    t = _transition_steps(rec)
    sa = np.sign(np.diff(rec.a_norm2))
    sl = np.sign(np.diff(rec.sharpness))
    agree = sa == sl
    return make_result("A3.1", "sign(‖A(t+1)‖ − ‖A(t)‖) = sign(Λ(t+1) − Λ(t))", "empirical", t,
                       True, agree, agree.astype(float) - 0.5,
                       fitted={"agreement": float(np.mean(agree)) if agree.size else np.nan},
                       detail="margin +0.5 where the signs agree, −0.5 where not")


def a3_2(rec: TheoryRecord, c: Constants) -> CheckResult:
    nD, na = higher_order_ratio(rec)
    ratio = np.maximum(nD, na)
    return make_result("A3.2", "D⁺ − D ≈ −ηGD and ‖a⁺‖² − ‖a‖² ≈ −(2η/n)⟨F,D⟩ (higher-order part "
                       f"≤ {c.a32_ratio} of the change)", "assumption", _transition_steps(rec), True,
                       ratio <= c.a32_ratio, c.a32_ratio - ratio,
                       fitted={"ratio_D": float(nD.max()) if nD.size else np.nan,
                               "ratio_a": float(na.max()) if na.size else np.nan},
                       detail="ratio = ‖higher‖/(‖first‖ + ‖higher‖) per step, max over D and ‖a‖²")


def a3_3(rec: TheoryRecord, c: Constants) -> CheckResult:
    name, st = "A3.3", "while ηΛ < 2 (phase I), GD's D follows gradient flow dD/dt = −GD"
    if rec.flow_D is None:
        return not_evaluated(name, st, "assumption", "no flow integration in the record (flow=True)")
    t = np.arange(rec.flow_D.shape[0])
    first = first_above(rec.sharpness, rec.eta)
    prem = t < first
    dev = np.linalg.norm(rec.D[: t.size] - rec.flow_D, axis=1) / np.maximum(
        np.sqrt(np.sum(rec.flow_D**2, axis=1) + rec.y_null2), 1e-300)
    return make_result(name, st, "assumption", t, prem, dev <= c.a33_rel, c.a33_rel - dev,
                       fitted={"max_rel_dev": float(dev[prem].max()) if prem.any() else np.nan},
                       detail="rel_dev = ‖D_GD(t) − D_flow(ηt)‖/‖D_flow‖ before the first ηΛ > 2")


def a3_4(rec: TheoryRecord, c: Constants, name: str = "A3.4") -> CheckResult:
    x = rec.eta * rec.sharpness
    return make_result(name, f"ηΛ(t) ≤ K = {c.K}", "assumption", np.arange(rec.T + 1), True,
                       x <= c.K, c.K - x, fitted={"K": float(x.max())})


def a3_5(rec: TheoryRecord, c: Constants) -> CheckResult:
    ch = u1_change(rec)
    ov = np.abs(rec.u1 @ rec.u1[0])[1:]
    ok = (ch <= c.eps) & (ov >= c.overlap_min)
    return make_result("A3.5", f"‖u₁(t+1) − u₁(t)‖ ≤ ε = {c.eps} and |⟨u₁(t), u₁(0)⟩| ≥ {c.overlap_min}",
                       "assumption", _transition_steps(rec), True, ok,
                       np.minimum(c.eps - ch, ov - c.overlap_min),
                       fitted={"eps": float(ch.max()) if ch.size else 0.0,
                               "min_overlap": float(ov.min()) if ov.size else 1.0})


def episode_eps(rec: TheoryRecord) -> tuple[np.ndarray, np.ndarray]:
    """A3.5's ε fitted per phase-II episode: (the starts t₀ of phase II, ε at each step t < T).

    An episode runs from one start of phase II to the next (the steps before the first start are
    one more stretch); its ε is the largest ‖u₁(t+1) − u₁(t)‖ within it. One ε for the whole run
    is its maximum, which a single catapult far from t sets for every step (1.1 on the Fig. 1 run:
    A3.6 then cannot hold anywhere); Lemma 3.2 and A3.6 are statements about one episode."""
    ch = u1_change(rec)
    t0 = phase_two_starts(rec.sharpness, rec.eta)
    edges = np.unique(np.concatenate([[0], t0[t0 < ch.size], [ch.size]])).astype(int)
    eps = np.zeros(ch.size)
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        eps[a:b] = ch[a:b].max() if b > a else 0.0
    return t0, eps


def a36_ratio(rec: TheoryRecord, eps) -> tuple[np.ndarray, np.ndarray]:
    """|⟨D(t₀), u₁(t₀)⟩| / (ε ‖D(t₀)‖) at each start t₀ of phase II; ``eps`` a number or per step."""
    t0 = phase_two_starts(rec.sharpness, rec.eta)
    t0 = t0[t0 < rec.T]
    du = np.abs(np.sum(rec.D * rec.u1, axis=1))
    e = np.broadcast_to(np.asarray(eps, dtype=float), (rec.T,))[t0] if rec.T else np.zeros(0)
    return t0, du[t0] / np.maximum(e * rec.d_norm[t0], 1e-300)


def a3_6(rec: TheoryRecord, c: Constants) -> CheckResult:
    _, eps = episode_eps(rec)
    t0, ratio = a36_ratio(rec, eps)
    return make_result("A3.6", f"|⟨D(t₀), u₁(t₀)⟩| ≥ c ε ‖D(t₀)‖ at each start t₀ of phase II, c = {c.a36_c}",
                       "assumption", t0, True, ratio >= c.a36_c, ratio - c.a36_c,
                       fitted={"c": float(ratio.min()) if ratio.size else np.nan,
                               "c_median": float(np.median(ratio)) if ratio.size else np.nan,
                               "eps_median": float(np.median(eps[t0])) if t0.size else np.nan},
                       detail="ε fitted per phase-II episode (theory.assumptions.episode_eps); c is the "
                       "paper's lost constant: the fitted c (smallest ratio) and its median are reported")


def a3_7(rec: TheoryRecord, c: Constants) -> CheckResult:
    x = rec.eta * rec.lambda2
    return make_result("A3.7", "every eigenvalue of G but the top one is below 1/η (ηλ₂(G) < 1)",
                       "assumption", np.arange(rec.T + 1), True, x < 1, 1 - x,
                       fitted={"max_eta_lambda2": float(x.max())})


def a4_1(rec: TheoryRecord, c: Constants) -> CheckResult:
    lam = rec.lam
    k = min(c.a41_top, lam.size - 1)
    ratios = lam[:k] / lam[1:k + 1] if k > 0 else np.zeros(0)
    gamma = float(lam[0] / lam[1]) if lam.size > 1 else np.inf
    steps = np.arange(ratios.size)
    ok = ratios <= c.a41_c
    ok0 = gamma >= c.a41_gamma
    return make_result("A4.1", f"λᵢ/λᵢ₊₁ ≤ c = {c.a41_c} for 2 ≤ i ≤ {k} and λ₁ ≥ γλ₂, γ = {c.a41_gamma}",
                       "assumption", steps, True,
                       np.where(steps == 0, ok0, ok),
                       np.where(steps == 0, gamma - c.a41_gamma, c.a41_c - ratios),
                       fitted={"c": float(ratios[1:].max()) if ratios.size > 1 else np.nan,
                               "gamma": gamma},
                       detail="'steps' index the eigenvalue ratios i = 1 … k (the first is the gap)")


def a4_2(rec: TheoryRecord, c: Constants) -> CheckResult:
    k = min(c.a41_top, rec.y_v.size)
    frac = np.abs(rec.y_v[:k]) / rec.y_norm
    return make_result("A4.2", f"|Yᵢ| ≥ δ‖Y‖ for the top {k} directions, δ = {c.a42_delta}", "assumption",
                       np.arange(k), True, frac >= c.a42_delta, frac - c.a42_delta,
                       fitted={"delta": float(frac.min())}, detail="'steps' index the directions i")


def a4_3(rec: TheoryRecord, c: Constants) -> CheckResult:
    first = first_above(rec.sharpness, rec.eta)
    ps = rec.e_hat_norm[:first]
    base = float(ps.max()) if ps.size else np.nan
    ratio = rec.e_hat_norm / base if base > 0 else np.full(rec.T + 1, np.inf)
    return make_result("A4.3", f"‖Ê(t)‖ ≤ C · max_(phase I) ‖Ê‖ through the EoS, C = {c.a43_C}",
                       "assumption", np.arange(rec.T + 1), np.arange(rec.T + 1) >= first,
                       ratio <= c.a43_C, c.a43_C - ratio,
                       fitted={"C": float(ratio[first:].max()) if first <= rec.T else np.nan,
                               "ps_bound": base})


def a4_5(rec: TheoryRecord, c: Constants) -> CheckResult:
    t0 = phase_two_starts(rec.sharpness, rec.eta)
    frac = np.abs(rec.D[t0, 0]) / np.maximum(rec.d_norm[t0], 1e-300)
    return make_result("A4.5", f"|D₁(t₀)| ≥ c‖D(t₀)‖ at each start t₀ of phase II, c = {c.a45_c}",
                       "assumption", t0, True, frac >= c.a45_c, frac - c.a45_c,
                       fitted={"c": float(frac.min()) if frac.size else np.nan})


def cond_20(rec: TheoryRecord, c: Constants) -> CheckResult:
    """Lemma E.7's condition |⟨D, du_i/dt⟩| ≤ λ_i|⟨D, u_i⟩|, evaluated for i = 1 (the record keeps
    G's top eigenvector only), with du₁/dt ≈ (u₁(t+1) − u₁(t))/η."""
    t = _transition_steps(rec)
    du = (rec.u1[1:] - rec.u1[:-1]) / rec.eta
    lhs = np.abs(np.sum(rec.D[:-1] * du, axis=1))
    rhs = rec.sharpness[:-1] * np.abs(np.sum(rec.D[:-1] * rec.u1[:-1], axis=1))
    scale = np.maximum(rhs, 1e-300)
    return make_result("cond (20)", "|⟨D, du₁/dt⟩| ≤ λ₁|⟨D, u₁⟩| (Lemma E.7, i = 1 only)", "assumption",
                       t, True, lhs <= rhs, (rhs - lhs) / scale,
                       fitted={"max_ratio": float(np.max(lhs / scale)) if t.size else np.nan},
                       detail="margin relative to λ₁|⟨D,u₁⟩|; i ≥ 2 needs G's full spectrum, not recorded")


def a4_4(rec: TheoryRecord, c: Constants) -> CheckResult:
    """A4.4 is A3.4's bound on ηΛ, restated for the linear net's theorem."""
    return a3_4(rec, c, name="A4.4")


ALL = (a3_1, a3_2, a3_3, a3_4, a3_5, a3_6, a3_7, a4_1, a4_2, a4_3, a4_4, a4_5, cond_20)
