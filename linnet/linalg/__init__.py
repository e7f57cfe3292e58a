"""Eigensolvers for symmetric operators given by their products: :func:`lanczos` (top or
largest-magnitude eigenpair, with a runner-up) and :class:`EigTracker` (the top eigenpair of a
slowly changing operator, followed along a run)."""

from .lanczos import LanczosResult, lanczos
from .tracking import EigTracker

__all__ = ["EigTracker", "LanczosResult", "lanczos"]
