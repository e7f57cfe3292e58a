"""What a run measures along the way: :class:`RunConfig`, checked once for :func:`linnet.train`,
:func:`linnet.train_batch` and the compiled loop, and written into every trajectory's config."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _count(name: str, value, *, hint: str = " (0 = never)") -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be an integer ≥ 0{hint}, got {value!r}")


@dataclass(frozen=True)
class RunConfig:
    """``steps`` GD steps; Λ = λ_max(G) every ``sharpness_every`` steps, its eigen-tracker stopped at
    relative residual ``sharpness_tol`` (also ‖Ê‖'s and ‖G_A‖'s); ‖Ê‖ every ``e_hat_every``
    (families that have Ê); ‖G_A‖ every ``ga_every`` (None: the family's default); the Hessian's
    λ_max every ``hessian_every``, to ``hessian_tol``; the first ``top_k`` of K's eigendirections'
    components of D and F recorded every step. An interval of 0 means never."""

    steps: int
    sharpness_every: int = 1
    sharpness_tol: float = 1e-6
    e_hat_every: int = 1
    ga_every: int | None = None
    hessian_every: int = 0
    hessian_tol: float = 1e-8
    top_k: int = 5

    def __post_init__(self) -> None:
        _count("steps", self.steps, hint="")
        for name in ("sharpness_every", "e_hat_every", "ga_every", "hessian_every", "top_k"):
            value = getattr(self, name)
            _count(name, 0 if value is None else value)

    def entries(self, *, top_k: int, ga_every: int, measures_e_hat: bool) -> dict:
        """The trajectory config's entries for these settings, with the engine's ``top_k`` (at most
        the data's rank) and the ``ga_every`` in force (the family's default where None)."""
        return dict(
            steps_requested=int(self.steps),
            top_k=int(top_k),
            sharpness_every=int(self.sharpness_every),
            sharpness_tol=float(self.sharpness_tol),
            e_hat_every=int(self.e_hat_every) if measures_e_hat else 0,
            ga_every=int(ga_every),
            hessian_every=int(self.hessian_every),
            hessian_tol=float(self.hessian_tol),
        )
