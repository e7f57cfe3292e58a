"""Trajectory analysis: the four phases of §3.1 as per-step labels and intervals, first
crossings of 2/η, and excursions above a threshold (used by sweeps, bench and ``theory``).

With Λ(t) the sharpness and 2/η the stability threshold, and s(t) = sign(Λ(t+1) − Λ(t)):
I: Λ ≤ 2/η and rising (progressive sharpening); II: Λ > 2/η and rising; III: Λ > 2/η and falling
(the loss may rise); IV: Λ ≤ 2/η and falling — and, by the paper's rule, IV lasts until the loss is
back near its level just before III (within ``loss_rtol``), after which rising steps are I again.
The last step takes the sign of the step before it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PHASES = ("I", "II", "III", "IV")


def phase_labels(sharpness, loss, eta: float, *, loss_rtol: float = 0.05) -> np.ndarray:
    """Per-step labels 1–4 (phase I–IV)."""
    S = np.asarray(sharpness, dtype=float)
    L = np.asarray(loss, dtype=float)
    if S.shape != L.shape or S.ndim != 1:
        raise ValueError(f"sharpness and loss must be 1-D of one length, got {S.shape} and {L.shape}")
    T = S.shape[0]
    if T == 0:
        return np.zeros(0, dtype=np.int8)
    rising = np.empty(T, dtype=bool)
    rising[:-1] = np.diff(S) > 0
    rising[-1] = rising[-2] if T > 1 else True
    above = S * eta > 2
    labels = np.empty(T, dtype=np.int8)
    recovering, loss_ref = False, np.inf
    for t in range(T):
        if above[t]:
            lab = 2 if rising[t] else 3
            if lab == 3 and (t == 0 or labels[t - 1] != 3):
                loss_ref = L[t - 1] if t > 0 else L[t]
            if lab == 3:
                recovering = True
        else:
            if recovering and L[t] <= loss_ref * (1 + loss_rtol):
                recovering = False
            lab = 4 if (not rising[t] or recovering) else 1
        labels[t] = lab
    return labels


@dataclass(frozen=True)
class PhaseInterval:
    phase: str
    start: int
    stop: int  # exclusive

    @property
    def length(self) -> int:
        return self.stop - self.start


def phase_intervals(labels) -> list[PhaseInterval]:
    """Maximal runs of one label, as [start, stop) step intervals."""
    labels = np.asarray(labels)
    out = []
    start = 0
    for t in range(1, labels.shape[0] + 1):
        if t == labels.shape[0] or labels[t] != labels[start]:
            out.append(PhaseInterval(PHASES[labels[start] - 1], start, t))
            start = t
    return out


def phase_fractions(labels) -> dict[str, float]:
    labels = np.asarray(labels)
    return {p: float(np.mean(labels == i + 1)) if labels.size else 0.0 for i, p in enumerate(PHASES)}


def first_above(sharpness, eta: float) -> int:
    """First step with ηΛ > 2 (where the first phase I ends); len(sharpness) if there is none."""
    above = np.asarray(sharpness) * eta > 2
    return int(np.argmax(above)) if above.any() else int(above.size)


def upward_crossings(sharpness, eta: float) -> np.ndarray:
    """Steps t ≥ 1 where ηΛ goes from ≤ 2 to > 2."""
    starts = phase_two_starts(sharpness, eta)
    return starts[starts > 0]


def phase_two_starts(sharpness, eta: float) -> np.ndarray:
    """Steps t₀ where ηΛ crosses above 2 (the start of each phase II), t₀ = 0 included if above."""
    above = np.asarray(sharpness) * eta > 2
    return np.flatnonzero(above & ~np.concatenate([[False], above[:-1]]))


def excursions(values, threshold: float) -> list[tuple[int, int | None]]:
    """Maximal runs with values > threshold, as (start, stop) with stop None if still open at the end."""
    above = np.asarray(values) > threshold
    out: list[tuple[int, int | None]] = []
    start = None
    for t, a in enumerate(above):
        if a and start is None:
            start = t
        elif not a and start is not None:
            out.append((start, t))
            start = None
    if start is not None:
        out.append((start, None))
    return out
