"""Extremal eigenpair of a symmetric operator given only v ↦ A v (Lanczos, full reorthogonalisation).

Backend-agnostic: vectors live in ``xp`` (NumPy or CuPy); only the small tridiagonal
problem goes to the host. The stop rule is the Ritz residual ρ = ‖A u − θ u‖ = |β_k s_k|, which
bounds the distance from θ to the spectrum by ρ (Bauer–Fike for symmetric A) and the distance to
the eigenvalue it approximates by ρ²/gap (Kato–Temple), gap being its distance to the rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg.lapack import dstev

from .._types import Array, ArrayModule, DTypeLike, MatVec


@dataclass(frozen=True)
class LanczosResult:
    """Ritz pair (value, vector) with ``residual`` = ‖A u − θ u‖ (absolute), the Krylov
    dimension used, whether the relative residual reached ``tol``, ``gap`` = the distance to the
    nearest other Ritz value (an estimate of the spectral gap; inf for one iteration), and
    ``runner_up``: the Ritz vector next in line (None for one iteration), a cheap warm start for
    the eigenvector that may overtake this one."""

    value: float
    vector: Array
    residual: float
    iterations: int
    converged: bool
    gap: float = math.inf
    runner_up: Array | None = None


def _dot(x: Array, y: Array) -> float:
    return float(x @ y)


def lanczos(
    matvec: MatVec,
    *,
    n: int,
    xp: ArrayModule = np,
    dtype: DTypeLike = np.float64,
    v0: Array | None = None,
    which: str = "LA",
    tol: float = 1e-10,
    maxiter: int = 100,
    seed: int = 0,
) -> LanczosResult:
    """Top eigenpair of the symmetric operator ``matvec`` on R^n.

    ``which="LA"``: largest algebraic eigenvalue; ``"LM"``: largest magnitude.
    Converged when ‖A u − θ u‖ ≤ tol · |θ| (or the Krylov space became invariant).
    ``v0`` warm-starts the iteration (e.g. the previous step's eigenvector).
    """
    if which not in ("LA", "LM"):
        raise ValueError(f"which={which!r} is unknown: use 'LA' or 'LM'")
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol}")
    k_max = max(1, min(int(maxiter), n))
    if v0 is None:
        v0 = np.random.default_rng(seed).standard_normal(n)
    v0 = xp.asarray(v0, dtype=dtype)
    nrm = math.sqrt(_dot(v0, v0))
    if not math.isfinite(nrm) or nrm == 0.0:
        raise ValueError("v0 must be a finite non-zero vector")
    eps = float(np.finfo(dtype).eps)
    Q = xp.empty((k_max, n), dtype=dtype)
    alphas, betas = np.zeros(k_max), np.zeros(k_max)
    Q[0] = v0 / nrm
    theta, s, resid, gap, j = 0.0, np.ones(1), math.inf, math.inf, 0
    for j in range(k_max):
        w = matvec(Q[j])
        before = math.sqrt(_dot(w, w))
        Qj = Q[: j + 1]
        # Classical Gram–Schmidt against the whole basis; h[j] is the Lanczos α_j.
        h = Qj @ w
        w = w - Qj.T @ h
        beta = math.sqrt(_dot(w, w))
        if beta < 0.7 * before:  # severe cancellation: orthogonalise once more (DGKS)
            h2 = Qj @ w
            w = w - Qj.T @ h2
            h = h + h2
            beta = math.sqrt(_dot(w, w))
        alphas[j], betas[j] = float(h[j]), beta
        if j == 0:
            evals, evecs = alphas[:1], np.ones((1, 1))
        else:
            evals, evecs, info = dstev(alphas[: j + 1], betas[:j], compute_v=1)
            if info != 0:
                raise np.linalg.LinAlgError(f"tridiagonal eigensolver failed (info={info})")
        idx = j if which == "LA" else int(np.argmax(np.abs(evals)))
        theta, s = float(evals[idx]), evecs[:, idx]
        if j:  # evals ascend: the neighbours of idx are the nearest other Ritz values
            gap = min(abs(theta - float(evals[i])) for i in (idx - 1, idx + 1) if 0 <= i <= j)
        resid = abs(beta * s[-1])
        scale = max(float(np.max(np.abs(evals))), np.finfo(np.float64).tiny)
        converged = resid <= tol * abs(theta) or beta <= 10 * eps * scale
        if converged or j + 1 == k_max:
            second = None
            if j:
                nxt = idx - 1 if which == "LA" else int(np.argsort(np.abs(evals))[-2])
                second = Qj.T @ xp.asarray(evecs[:, nxt], dtype=dtype)
            return LanczosResult(
                theta, Qj.T @ xp.asarray(s, dtype=dtype), resid, j + 1, converged, gap, second
            )
        Q[j + 1] = w / beta
    raise AssertionError("unreachable")  # pragma: no cover
