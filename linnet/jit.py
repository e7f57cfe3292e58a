"""The compiled loop of ``train(..., jit=True)`` (Numba), as users call it: :func:`available`,
:func:`warm_up`, :func:`compile_seconds`, :class:`limit_threads` and the run's driver. The code is
the linear net's, in :mod:`linnet.families.linear2.jit` (kernels, trackers, the loop, the driver);
this public module re-exports it."""

from .families.linear2 import jit as _compiled
from .families.linear2.jit import (  # noqa: F401 - re-exported (__all__)
    CompiledResult,
    CompiledRun,
    available,
    compile_seconds,
    limit_threads,
    result_of,
    run_compiled,
    warm_up,
)

__all__ = list(_compiled.__all__)
