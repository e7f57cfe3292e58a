"""The compiled loop of ``train(..., jit=True)`` (Numba), as users call it: :func:`available`,
:func:`warm_up`, :func:`cached`, :func:`compile_seconds`, :class:`limit_threads` and the run's
driver. The code is the linear net's, in :mod:`linnet.families.linear2.jit` (kernels, trackers,
the loop, the driver); this public module re-exports it."""

from .families.linear2 import jit as _compiled
from .families.linear2.jit import (  # noqa: F401 - re-exported (__all__)
    CompiledResult,
    CompiledRun,
    available,
    cached,
    compile_seconds,
    limit_threads,
    result_of,
    run_compiled,
    warm_up,
)

__all__ = list(_compiled.__all__)

if __name__ == "__main__":  # python -m linnet.jit: compile the loop into the on-disk cache once
    if not available():
        raise SystemExit('the compiled loop needs Numba: pip install "linnet[jit]"')
    print(f"compiled loop ready: {warm_up():.1f} s (compiled, or loaded from the cache); cached: {cached()}")
