"""Hypothesis strategies for property-testing the paper's assumptions on the linear network.

    from hypothesis import given
    from theory.strategies import problems

    @given(problems(spectrum="A4.1", labels="A4.2"))
    def test_mine(p): ...

Data are built from a prescribed spectrum: X = U diag(√(nλ)) Vᵀ with U, V random orthonormal,
so K = XᵀX/n has exactly the eigenvalues λ and eigenvectors V.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st

import linnet


@dataclass(frozen=True)
class Problem:
    X: np.ndarray
    Y: np.ndarray
    W0: np.ndarray
    a0: np.ndarray
    eta: float
    lam: np.ndarray
    V: np.ndarray

    @property
    def eta_lambda0(self) -> float:
        return self.eta * linnet.sharpness(self.W0, self.a0, self.X)


def _orthonormal(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    Q, R = np.linalg.qr(rng.standard_normal((rows, cols)))
    return Q * np.sign(np.diag(R))


def data_from_spectrum(lam: Any, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """X (d×n) with K = XᵀX/n having eigenvalues ``lam`` (length r ≤ min(n, d)) and eigenvectors V."""
    lam = np.asarray(lam, dtype=float)
    rng = np.random.default_rng(seed)
    n = lam.size
    if n > d:
        raise ValueError(f"r = {n} eigenvalues need d ≥ {n}")
    U, V = _orthonormal(rng, d, n), _orthonormal(rng, n, n)
    return (U * np.sqrt(n * lam)) @ V.T, V


@st.composite
def spectra(draw: st.DrawFn, n: st.SearchStrategy[int] = st.integers(4, 12), *, meets_a41: bool = True,
            c: float = 1.6, gamma: float = 2.5) -> np.ndarray:
    """Eigenvalues λ₁ > … > λ_n > 0 with λ₁ = 1. With ``meets_a41``: adjacent ratios in (1, c] and
    λ₁ ≥ γλ₂ (A4.1); otherwise a spectrum with a ratio above c or a gap below γ."""
    k = draw(n)
    if meets_a41:
        ratios = draw(st.lists(st.floats(1.05, c), min_size=k - 2, max_size=k - 2))
        first = draw(st.floats(gamma, 2 * gamma))
    else:
        ratios = draw(st.lists(st.floats(1.05, 3 * c), min_size=k - 2, max_size=k - 2))
        ratios[draw(st.integers(0, max(0, k - 3)))] = draw(st.floats(2 * c, 4 * c)) if ratios else c
        first = draw(st.floats(1.05, gamma * 0.9))
    lam = [1.0, 1.0 / first]
    for r in ratios:
        lam.append(lam[-1] / r)
    return np.array(lam)


@st.composite
def labels(draw: st.DrawFn, V: np.ndarray, *, mode: str = "A4.2", delta: float | None = None,
           index: int = 0) -> np.ndarray:
    """Y in K's eigenbasis V. ``"A4.2"``: every |Yᵢ| ≥ δ‖Y‖ (default δ = 1/(2√n); needs δ ≤ 1/√n),
    random signs; ``"eigvec"``: Y = √n v_index (all label mass on one direction)."""
    n = V.shape[0]
    if mode == "eigvec":
        return np.sqrt(n) * V[:, index]
    if mode != "A4.2":
        raise ValueError(f"mode={mode!r}: use 'A4.2' or 'eigvec'")
    delta = 1 / (2 * np.sqrt(n)) if delta is None else delta
    if not 0 < delta <= 1 / np.sqrt(n):
        raise ValueError(f"delta must be in (0, 1/sqrt(n)] = (0, {1 / np.sqrt(n):.3g}], got {delta}")
    top = min(2.0, 1 / (delta * np.sqrt(n)))  # then |yᵢ|/‖y‖ ≥ 1/(top·√n) ≥ δ
    mags = np.array(draw(st.lists(st.floats(1.0, top), min_size=n, max_size=n)))
    signs = np.array(draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=n, max_size=n)))
    y = mags * signs
    return V @ (y * np.sqrt(n) / np.linalg.norm(y))


def symmetric_init(m: int, X: np.ndarray, *, scale: float = 1.0, seed: int = 0,
                   isometric: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A symmetric initialisation (F(0) = 0; also Ê(0) = 0 with ``isometric``)."""
    return linnet.init_params(m, X, scheme="symmetric-isometric" if isometric else "symmetric",
                              scale=scale, seed=seed)


def step_sizes(lo: float = 0.5, hi: float = 1.9) -> st.SearchStrategy[float]:
    """η·Λ(0) values: pair with the sharpness at the initialisation to get η."""
    return st.floats(lo, hi)


@st.composite
def problems(draw: st.DrawFn, *, n: st.SearchStrategy[int] = st.integers(4, 10),
             d_extra: st.SearchStrategy[int] = st.integers(0, 6),
             m: st.SearchStrategy[int] = st.sampled_from([64, 128]), spectrum: str = "A4.1",
             labels_mode: str = "A4.2", eta_lambda0: st.SearchStrategy[float] | None = None,
             isometric: bool = True, scale: float = 1.0) -> Problem:
    """A full problem: data with a prescribed spectrum, labels, symmetric init and η from ηΛ(0)."""
    lam = draw(spectra(n, meets_a41=(spectrum == "A4.1")))
    k = lam.size
    d = k + draw(d_extra)
    seed = draw(st.integers(0, 2**31 - 1))
    X, V = data_from_spectrum(lam, d, seed)
    Y = draw(labels(V, mode="A4.2" if labels_mode == "A4.2" else "eigvec"))
    width = draw(m)
    if isometric and width < 2 * k:
        width = 2 * k
    W0, a0 = symmetric_init(width, X, scale=scale, seed=seed, isometric=isometric)
    el0 = draw(eta_lambda0 if eta_lambda0 is not None else step_sizes())
    eta = el0 / linnet.sharpness(W0, a0, X)
    return Problem(X, Y, W0, a0, eta, lam, V)
