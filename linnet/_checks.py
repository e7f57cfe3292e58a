"""Input validation shared by the public functions: clear errors that name the argument."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._backend import namespace
from ._types import Array, DTypeLike


def resolve_dtype(dtype: DTypeLike) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype={dtype!r} is not a dtype: use 'float64' or 'float32'") from exc
    if dt not in (np.float64, np.float32):
        raise TypeError(f"dtype={dt} is not supported: use 'float64' (default) or 'float32'")
    return dt


def check_matrix(
    name: str,
    A: Array,
    *,
    rows: int | None = None,
    cols: int | None = None,
    rows_name: str = "",
    cols_name: str = "",
) -> None:
    if not hasattr(A, "shape") or not hasattr(A, "dtype"):
        raise TypeError(f"{name} must be a NumPy or CuPy array, got {type(A).__name__}")
    if A.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {tuple(A.shape)}")
    if rows is not None and A.shape[0] != rows:
        raise ValueError(
            f"{name} has {A.shape[0]} rows but {rows_name} needs {rows}; got shape {tuple(A.shape)}"
        )
    if cols is not None and A.shape[1] != cols:
        raise ValueError(
            f"{name} has {A.shape[1]} columns but {cols_name} needs {cols}; got shape {tuple(A.shape)}"
        )
    _check_real(name, A)


def check_vector(name: str, v: Array, *, length: int | None = None, length_name: str = "") -> None:
    if not hasattr(v, "shape") or not hasattr(v, "dtype"):
        raise TypeError(f"{name} must be a NumPy or CuPy array, got {type(v).__name__}")
    if v.ndim != 1:
        raise ValueError(
            f"{name} must be 1-D, got shape {tuple(v.shape)}"
            + ("; flatten it with .ravel()" if v.ndim == 2 and 1 in v.shape else "")
        )
    if length is not None and v.shape[0] != length:
        raise ValueError(f"{name} has length {v.shape[0]} but {length_name} needs {length}")
    _check_real(name, v)


def _check_real(name: str, A: Array) -> None:
    if A.dtype.kind not in "fiu":
        raise TypeError(f"{name} must hold real numbers, got dtype {A.dtype}")


def check_finite(name: str, A: Array) -> None:
    xp = namespace(A)
    if not bool(xp.all(xp.isfinite(A))):
        raise ValueError(f"{name} contains NaN or inf: clean or drop those entries first")


def check_eta(eta: Any) -> float:
    try:
        eta = float(eta)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"eta must be a positive number, got {eta!r}") from exc
    if not math.isfinite(eta) or eta <= 0:
        raise ValueError(f"eta must be a finite step size > 0, got {eta}")
    return eta


def check_problem(W: Array, a: Array, X: Array, Y: Array | None = None) -> None:
    """Validate the shapes of (W, a, X, Y): X is d×n, W is m×d, a has length m, Y length n."""
    check_matrix("X", X)
    d, n = X.shape
    check_matrix("W", W, cols=d, cols_name=f"X (d×n = {d}×{n}, columns are samples)")
    check_vector("a", a, length=W.shape[0], length_name=f"W (m×d = {W.shape[0]}×{d})")
    if Y is not None:
        check_vector("Y", Y, length=n, length_name=f"X (d×n = {d}×{n}, one label per column)")
