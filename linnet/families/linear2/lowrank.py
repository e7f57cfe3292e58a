"""A matrix kept as a base and its last few rank-1 updates (:class:`LowRank`): the spectral
engine's Z_v, and each member's in the batched engine."""

from __future__ import annotations


class LowRank:
    """A matrix A = B + P Q kept as a base B (m×r) and its last j ≤ k rank-1 updates P (m×j),
    Q (j×r), folded into B by one matrix product every k updates.

    A GD step changes Z_v by a rank-1 term (I1). Applying it at once costs an elementwise pass
    over m×r numbers, several times a matrix–vector product here; deferring it makes the step
    cost two small products and moves the work into one BLAS call per k steps.
    """

    def __init__(self, xp, B, k: int = 16):
        self.xp, self.B, self.k, self.j = xp, B, k, 0
        m, r = B.shape
        self.P = xp.zeros((m, k), dtype=B.dtype)
        self.Q = xp.zeros((k, r), dtype=B.dtype)

    def add(self, x, y) -> bool:
        """A += x yᵀ; True when the buffer is full and must be folded."""
        self.P[:, self.j] = x
        self.Q[self.j] = y
        self.j += 1
        return self.j == self.k

    def fold(self):
        # In-place BLAS (dgemm with beta = 1 here, or dger every step instead of deferring) took
        # 1.9 ms and 0.5 ms a call inside a run on the 2-core bench machine, against 0.15 and
        # 0.03 ms alone, and slowed what followed: OpenBLAS's second thread.
        if self.j:
            self.B += self.P[:, : self.j] @ self.Q[: self.j]
            self.j = 0
        return self.B

    def mv(self, v):
        """A v."""
        out = self.B @ v
        if self.j:
            out += self.P[:, : self.j] @ (self.Q[: self.j] @ v)
        return out

    def rmv(self, w):
        """Aᵀ w."""
        out = self.B.T @ w
        if self.j:
            out += self.Q[: self.j].T @ (self.P[:, : self.j].T @ w)
        return out

    def col0(self):
        out = self.B[:, 0]
        if self.j:
            out = out + self.P[:, : self.j] @ self.Q[: self.j, 0]
        return out
