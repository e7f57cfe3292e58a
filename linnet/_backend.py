"""Array-namespace selection: NumPy by default, CuPy on request or for CuPy input.

Every numerical function in linnet takes arrays and asks :func:`namespace` for the module
that owns them, so the same code runs on the CPU and on a GPU.
"""
from __future__ import annotations

import numpy as np

BACKENDS = ("numpy", "cupy")


def _cupy():
    try:
        import cupy
    except ImportError as exc:  # pragma: no cover - depends on the machine
        raise ImportError(
            "backend='cupy' needs CuPy: install it with `pip install 'linnet[cupy]'` "
            "(or the cupy-cudaXXx wheel matching your CUDA) on a machine with an NVIDIA GPU"
        ) from exc
    return cupy


def is_cupy_array(x) -> bool:
    return type(x).__module__.split(".")[0] == "cupy"


def namespace(*arrays, backend: str | None = None):
    """Return ``numpy`` or ``cupy``: the named ``backend``, else the one owning ``arrays``."""
    if backend is not None:
        if backend not in BACKENDS:
            raise ValueError(f"backend={backend!r} is unknown: use one of {BACKENDS}")
        return np if backend == "numpy" else _cupy()
    if any(is_cupy_array(x) for x in arrays if x is not None):
        return _cupy()
    return np


def backend_name(xp) -> str:
    return "numpy" if xp is np else "cupy"


def to_numpy(x):
    """Host copy of an array (no copy for NumPy input); scalars pass through."""
    if is_cupy_array(x):
        return x.get()
    return np.asarray(x) if not np.isscalar(x) else x


def synchronize(xp) -> None:
    """Wait for queued GPU work (no-op on NumPy); used only around timings."""
    if xp is not np:
        xp.cuda.Device().synchronize()
