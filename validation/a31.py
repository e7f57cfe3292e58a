"""A3.1 step by step on any run (sign agreement of Δ‖A‖² and ΔΛ, ties and dead nets apart) and
App. B.2's kinds of its disagreements: pure functions on the arrays, for the suite's network
experiments and for :mod:`validation.section3`."""

from __future__ import annotations

import numpy as np

# ---- A3.1 agreement rule --------------------------------------------------------------------
TIE_RTOL = 1e-12  # |ΔΛ(t)| ≤ TIE_RTOL·Λ(t): a tie, excluded from the rate
DEAD_RTOL = 1e-12  # Λ(t) ≤ DEAD_RTOL·max Λ (or Λ = 0): the net is dead (ReLU, all units off)
COLLAPSE_RTOL = 1e-3  # Λ(t) ≤ COLLAPSE_RTOL·max Λ: (nearly) dead — few units left, not counted either

AGREE, DIFFER, TIE, DEAD = 1, 0, -1, -2


def a31_agreement(sharpness, a_norm2, *, tie_rtol=TIE_RTOL, dead_rtol=DEAD_RTOL, collapse_rtol=COLLAPSE_RTOL):
    """A3.1 step by step: for t = 0..T−2, code AGREE when sign(Λ(t+1) − Λ(t)) equals
    sign(‖A‖²(t+1) − ‖A‖²(t)), DIFFER when not, TIE when |ΔΛ(t)| ≤ tie_rtol·Λ(t), DEAD when
    Λ(t) or Λ(t+1) is ≤ dead_rtol·max Λ (a dead ReLU net: not counted as agreement) — or
    ≤ collapse_rtol·max Λ (nearly dead: the summary's ``collapsed_at``).
    Returns (codes, summary) with summary's rate = agree / (agree + differ)."""
    S = np.asarray(sharpness, dtype=float)
    A = np.asarray(a_norm2, dtype=float)
    if S.shape != A.shape or S.ndim != 1:
        raise ValueError(f"sharpness and a_norm2 must be 1-D of one length, got {S.shape}, {A.shape}")
    T = S.size
    codes = np.full(max(T - 1, 0), DIFFER, dtype=np.int8)
    if T < 2:
        return codes, dict(
            rate=float("nan"), agree=0, differ=0, ties=0, dead=0, died_at=None, collapsed_at=None
        )
    dS, dA = np.diff(S), np.diff(A)
    smax = float(np.max(np.abs(S))) if S.size else 0.0
    dead_pt = (S <= dead_rtol * smax) | (S == 0)
    coll_pt = dead_pt | (S <= collapse_rtol * smax)
    codes[np.sign(dS) == np.sign(dA)] = AGREE
    codes[np.abs(dS) <= tie_rtol * np.abs(S[:-1])] = TIE
    codes[coll_pt[:-1] | coll_pt[1:]] = DEAD
    agree, differ = int(np.sum(codes == AGREE)), int(np.sum(codes == DIFFER))
    died, coll = np.flatnonzero(dead_pt), np.flatnonzero(coll_pt)
    return codes, dict(
        rate=agree / (agree + differ) if agree + differ else float("nan"),
        agree=agree,
        differ=differ,
        ties=int(np.sum(codes == TIE)),
        dead=int(np.sum(codes == DEAD)),
        died_at=int(died[0]) if died.size else None,
        collapsed_at=int(coll[0]) if coll.size else None,
    )


# ---- App. B.2: the kinds of A3.1 disagreement ---------------------------------------------
SMOOTH_WIDTH = 10  # moving-average width for Δ‖A‖² (even: a period-2 zig-zag cancels)
TREND_WINDOW = 3  # (a): within this many steps of a sign change of the smoothed Δ‖A‖²
LATE_FRACTION = 0.8  # (c): after this fraction of the steps ...
LATE_LOSS_FRACTION = 0.01  # ... or once the loss is below this fraction of its start
KINDS = ("trend_change", "oscillation", "late", "other")


def _smooth(x, width):
    if width <= 1 or x.size < width:
        return x
    return np.convolve(x, np.ones(width) / width, mode="same")


def classify_disagreements(
    sharpness,
    a_norm2,
    loss,
    steps=None,
    *,
    smooth_width=SMOOTH_WIDTH,
    trend_window=TREND_WINDOW,
    late_fraction=LATE_FRACTION,
    late_loss_fraction=LATE_LOSS_FRACTION,
):
    """Classify the A3.1 disagreement steps t (Δ between t and t+1; default: those coded DIFFER by
    :func:`a31_agreement`) into App. B.2's kinds, first match wins:
    (a) "trend_change": |t − s| ≤ trend_window for a step s where the smoothed Δ‖A‖² changes sign;
    (b) "oscillation": ΔΛ changes sign at consecutive steps around t (sign ΔΛ(t−1) ≠ sign ΔΛ(t) and
        sign ΔΛ(t) ≠ sign ΔΛ(t+1));
    (c) "late": t ≥ late_fraction·T or loss(t) < late_loss_fraction·loss(0);
    (d) "other". Returns ({t: kind}, {kind: count})."""
    S, A, L = (np.asarray(v, dtype=float) for v in (sharpness, a_norm2, loss))
    T = S.size
    if steps is None:
        codes, _ = a31_agreement(S, A)
        steps = np.flatnonzero(codes == DIFFER)
    dS = np.sign(np.diff(S))
    sA = np.sign(_smooth(np.diff(A), smooth_width))
    flips = np.flatnonzero((sA[1:] != sA[:-1]) & (sA[1:] != 0) & (sA[:-1] != 0)) + 1
    kinds = {}
    for t in (int(s) for s in steps):
        if flips.size and np.min(np.abs(flips - t)) <= trend_window:
            k = "trend_change"
        elif 0 < t < dS.size - 1 and dS[t - 1] != dS[t] and dS[t] != dS[t + 1]:
            k = "oscillation"
        elif t >= late_fraction * T or L[t] < late_loss_fraction * L[0]:
            k = "late"
        else:
            k = "other"
        kinds[t] = k
    counts = {k: sum(1 for v in kinds.values() if v == k) for k in KINDS}
    return kinds, counts
