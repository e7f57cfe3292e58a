"""Type aliases for annotations.

linnet accepts NumPy and CuPy arrays alike (and CuPy is optional), so an array is annotated as
``Array = Any``: the annotation documents the role; the shape and dtype checks are in ``_checks``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

Array: TypeAlias = Any
"""A NumPy or CuPy array (``numpy.ndarray`` or ``cupy.ndarray``)."""

ArrayModule: TypeAlias = Any
"""The array namespace: the ``numpy`` or the ``cupy`` module."""

DTypeLike: TypeAlias = Any
"""Anything ``numpy.dtype`` accepts ('float64', np.float32, ...)."""

MatVec: TypeAlias = Callable[[Any], Any]
"""A linear operator given as v ↦ A v (or V ↦ A V on the columns of V)."""
