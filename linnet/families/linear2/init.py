"""Initialisations of (W, a) (App. C.1 and App. A)."""

from __future__ import annotations

import math

import numpy as np

from ..._backend import namespace, to_numpy
from ..._checks import check_finite, check_matrix, resolve_dtype
from ..._types import Array, DTypeLike
from .model import resolve_alpha

SCHEMES = ("symmetric", "symmetric-isometric", "gaussian", "torch")


def init_params(
    m: int,
    X: Array,
    *,
    scheme: str = "symmetric",
    scale: float = 1.0,
    seed: int | None = None,
    alpha: float | None = None,
    dtype: DTypeLike | None = None,
    backend: str | None = None,
) -> tuple[Array, Array]:
    """Initial (W, a) for width ``m`` on data ``X`` (d×n), drawn on the host from ``seed``.

    * ``"gaussian"``: Wᵢⱼ, aᵢ ~ N(0, scale²) (the NTK parametrisation with α = 1/√m).
    * ``"symmetric"``: W = [B; B], a = [c; −c] with B, c ~ N(0, scale²), so F(0) = 0 (App. C.1).
    * ``"symmetric-isometric"``: as symmetric with B = Q U_Xᵀ / (α√2), Q (m/2 × r) with
      orthonormal columns and U_X an orthonormal basis of span(X), so α² WᵀW = P_X and
      Ê(0) = 0 exactly; needs rank(X) = r ≤ m/2. ``scale`` multiplies c only.
    * ``"torch"``: ``nn.Linear``'s default bounds, Wᵢⱼ ~ U(±1/√d), aᵢ ~ U(±1/√m), times ``scale``
      (use with ``alpha=1.0``).
    The arrays come back in ``dtype`` (default: X's float dtype) on X's backend (or ``backend``).
    """
    check_matrix("X", X)
    check_finite("X", X)
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 2:
        raise ValueError(f"m (the width) must be an integer ≥ 2, got {m!r}")
    m = int(m)
    if scheme not in SCHEMES:
        raise ValueError(f"scheme={scheme!r} is unknown: use one of {SCHEMES}")
    if scheme.startswith("symmetric") and m % 2:
        raise ValueError(
            f"scheme={scheme!r} pairs neurons, so m must be even; got m={m} "
            f"(use m={m + 1} or scheme='gaussian')"
        )
    scale = float(scale)
    if not math.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a finite number > 0, got {scale}")
    xp = namespace(X, backend=backend)
    dt = resolve_dtype(
        dtype if dtype is not None else (X.dtype if X.dtype in (np.float32, np.float64) else np.float64)
    )
    rng = np.random.default_rng(seed)
    d = X.shape[0]
    h = m // 2
    if scheme == "gaussian":
        W = scale * rng.standard_normal((m, d))
        a = scale * rng.standard_normal(m)
    elif scheme == "torch":
        W = scale * rng.uniform(-1 / math.sqrt(d), 1 / math.sqrt(d), (m, d))
        a = scale * rng.uniform(-1 / math.sqrt(m), 1 / math.sqrt(m), m)
    else:
        if scheme == "symmetric":
            B = scale * rng.standard_normal((h, d))
        else:
            Xh = np.asarray(to_numpy(X), dtype=np.float64)
            U, s, _ = np.linalg.svd(Xh, full_matrices=False)
            r = int(np.sum(s > s[0] * max(Xh.shape) * np.finfo(np.float64).eps)) if s.size else 0
            if r > h:
                raise ValueError(
                    f"scheme='symmetric-isometric' needs rank(X) ≤ m/2, but rank(X) = {r} and "
                    f"m/2 = {h}: use a width m ≥ {2 * r}, or scheme='symmetric'"
                )
            Q, _ = np.linalg.qr(rng.standard_normal((h, r)))
            al = resolve_alpha(alpha, m)
            B = (Q @ U[:, :r].T) / (al * math.sqrt(2))
        c = scale * rng.standard_normal(h)
        W = np.vstack([B, B])
        a = np.concatenate([c, -c])
    return xp.asarray(W, dtype=dt), xp.asarray(a, dtype=dt)
