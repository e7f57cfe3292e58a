"""The linear net's spectral GD step and its Λ / ‖Ê‖ trackers compiled with Numba (optional).

The same mathematics as :class:`linnet.families.linear2.engines.SpectralEngine` driven by
:func:`linnet.run.loop.run` with the :class:`~linnet.run.observers.Sharpness` and
:class:`~linnet.run.observers.EHat` observers, in one compiled loop over the steps, with no Python
between them (the kernels in :mod:`.kernels`, the trackers in :mod:`.trackers`, the loop over the
steps in :mod:`.loop`, the run's driver in :mod:`.driver`):

* **Step** (I1, docs/theory.md §2.3). With D = αZ_vᵀa − Y_v and y = −ηα λ⊙D,
  a⁺ = a − (ηα/n) Z_v D and Z_v⁺ = Z_v + a yᵀ. It takes two sweeps over Z_v (m×r): a read-only
  sweep for Z_v [D, p₁, p₂] (pᵢ: the trackers' probes), and a read–write sweep that applies the
  rank-1 update in place while it accumulates Z_v⁺ᵀ[a⁺, Z_v⁺p₁, Z_v⁺p₂], the next state's
  observation and the probes' images (Z_v⁺p = Z_v p + a (y·p)). Each sweep is split into the two
  halves of Z_v's rows, on two threads for a single run (each core then keeps its half, 0.8 MB
  at paper size, in its L2 cache from step to step) or one after the other for the members of
  :func:`linnet.train_batch` (``jit=True``: one member per core); the column sums add the
  halves' sums in a fixed order, so both give the same numbers to the bit.
* **Trackers**: :class:`linnet.linalg.tracking.EigTracker`'s algorithm, step for step: the images
  S = AQ follow the closed-form change of G and Ê (I4), the probe advances one Krylov step per
  call, and Rayleigh–Ritz with Davidson expansion runs until ρ ≤ tol·|θ|; re-orthonormalised and recomputed
  every ``REFRESH_EVERY`` calls. The stop rule, hence the guarantee |Λ − λ| ≤ ρ, is the same; so
  is the sign of the Ritz vector (largest entry positive at the first call, then continuous). The
  probe's random restart (when it falls into the basis) draws from Numba's generator instead.

It agrees with the NumPy path to roundoff, not bitwise: the sweeps' sums are vectorised
(``fastmath`` reassociation and contraction only: no assumption about NaN or infinities), and the
update is applied every step instead of deferred
(:class:`~linnet.families.linear2.lowrank.LowRank`). The NumPy path stays the reference the tests
compare this loop against (``tests/test_jit.py``).

Numba compiles the kernels on first use and caches the machine code on disk (``cache=True``: in
``__pycache__`` beside these files, or under ``NUMBA_CACHE_DIR``); :func:`warm_up` does it,
:func:`compile_seconds` reports what it cost in this process and :func:`cached` whether the cache
holds it already.
"""

from .driver import (
    CompiledResult,
    CompiledRun,
    cached,
    compile_seconds,
    limit_threads,
    result_of,
    run_compiled,
    warm_up,
)
from .kernels import available

__all__ = [
    "CompiledResult",
    "CompiledRun",
    "available",
    "cached",
    "compile_seconds",
    "limit_threads",
    "result_of",
    "run_compiled",
    "warm_up",
]
