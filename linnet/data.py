"""Built-in synthetic data sets (X is d×n, samples as columns; Y has length n)."""

from __future__ import annotations

import numpy as np

KINDS = ("cifar-like", "gaussian", "power-law")
LABELS = ("class", "random", "top", "bottom")


def make_data(
    kind: str = "cifar-like",
    *,
    n: int = 1000,
    d: int = 3072,
    seed: int | None = 0,
    labels: str = "class",
    mean_strength: float = 1.0,
    class_strength: float = 0.5,
    decay: float = 1.0,
    column_norm: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic (X, Y) in float64.

    * ``"cifar-like"``: two classes (Y = ±1, half each), xᵢ = mean_strength·μ + yᵢ·class_strength·ν
      + ξᵢ with ξ ~ N(0, Σ), Σ's eigenvalues ∝ j^(−decay) (trace 1), μ, ν random unit vectors;
      columns scaled to norm ``column_norm`` (default 1). A strong common direction plus a
      power-law spectrum, as in CIFAR-10 (App. D.2.1, Fig. 18).
    * ``"gaussian"``: xᵢ ~ N(0, I_d) (App. B.1.4, Fig. 11); ``"power-law"``: xᵢ ~ N(0, Σ), no mean.
    ``labels``: ``"class"`` (the classes above; random ±1 for the mean-free kinds), ``"random"``
    (±1 uniform), ``"top"``/``"bottom"`` (Y = √n·v for K's top / bottom non-zero eigenvector, Fig. 12).
    ``column_norm`` rescales every column to that norm (default: 1 for cifar-like, unscaled otherwise).
    """
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r} is unknown: use one of {KINDS}")
    if labels not in LABELS:
        raise ValueError(f"labels={labels!r} is unknown: use one of {LABELS}")
    for name, v in (("n", n), ("d", d)):
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    rng = np.random.default_rng(seed)
    y = np.where(np.arange(n) < (n + 1) // 2, 1.0, -1.0)
    if kind == "gaussian":
        X = rng.standard_normal((d, n))
    else:
        sig = np.arange(1, d + 1, dtype=np.float64) ** (-decay / 2)
        sig /= np.linalg.norm(sig)
        X = sig[:, None] * rng.standard_normal((d, n))
        if kind == "cifar-like":
            mu, nu = rng.standard_normal((2, d))
            mu /= np.linalg.norm(mu)
            nu -= (nu @ mu) * mu
            nu /= np.linalg.norm(nu)
            X += mean_strength * mu[:, None] + class_strength * nu[:, None] * y[None, :]
    if column_norm is None and kind == "cifar-like":
        column_norm = 1.0
    if column_norm is not None:
        if not column_norm > 0:
            raise ValueError(f"column_norm must be > 0, got {column_norm}")
        X *= column_norm / np.linalg.norm(X, axis=0, keepdims=True)
    if labels == "random" or (labels == "class" and kind != "cifar-like"):
        Y = rng.choice([-1.0, 1.0], size=n)
    elif labels == "class":
        Y = y
    else:
        lam, V = np.linalg.eigh(X.T @ X / n) if n <= d else _top_bottom_large_n(X)
        keep = lam > lam.max() * max(n, d) * np.finfo(np.float64).eps
        Vr = V[:, keep]
        vec = Vr[:, -1] if labels == "top" else Vr[:, 0]
        Y = np.sqrt(n) * vec
    return X, Y


def _top_bottom_large_n(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d, n = X.shape
    lam, U = np.linalg.eigh(X @ X.T / n)
    keep = lam > lam.max() * max(n, d) * np.finfo(np.float64).eps
    lam, U = lam[keep], U[:, keep]
    return lam, (X.T @ U) / np.sqrt(n * lam)
