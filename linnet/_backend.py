"""Array-namespace selection: NumPy by default, CuPy on request or for CuPy input.

Every numerical function in linnet takes arrays and asks :func:`namespace` for the module
that owns them, so the same code runs on the CPU and on a GPU.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ._types import Array, ArrayModule

BACKENDS = ("numpy", "cupy")


def _cupy() -> ArrayModule:
    try:
        import cupy
    except ImportError as exc:  # pragma: no cover - depends on the machine
        raise ImportError(
            "backend='cupy' needs CuPy: install it with `pip install 'linnet[cupy]'` "
            "(or the cupy-cudaXXx wheel matching your CUDA) on a machine with an NVIDIA GPU"
        ) from exc
    return cupy


def is_cupy_array(x: Any) -> bool:
    return type(x).__module__.split(".")[0] == "cupy"


def namespace(*arrays: Array, backend: str | None = None) -> ArrayModule:
    """Return ``numpy`` or ``cupy``: the named ``backend``, else the one owning ``arrays``."""
    if backend is not None:
        if backend not in BACKENDS:
            raise ValueError(f"backend={backend!r} is unknown: use one of {BACKENDS}")
        return np if backend == "numpy" else _cupy()
    if any(is_cupy_array(x) for x in arrays if x is not None):
        return _cupy()
    return np


def backend_name(xp: ArrayModule) -> str:
    return "numpy" if xp is np else "cupy"


def is_torch_tensor(x: Any) -> bool:
    return type(x).__module__.split(".")[0] == "torch"


def to_numpy(x: Any) -> Any:
    """Host copy of an array or a torch tensor (no copy for NumPy input or CPU tensors); scalars
    pass through."""
    if is_cupy_array(x):
        return x.get()
    if is_torch_tensor(x):
        return x.detach().cpu().numpy()
    return np.asarray(x) if not np.isscalar(x) else x


def synchronize(xp: ArrayModule) -> None:
    """Wait for queued GPU work (no-op on NumPy); used only around timings."""
    if xp is not np:
        xp.cuda.Device().synchronize()


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class one_blas_thread:
    """NumPy's BLAS limited to one thread inside the block (threadpoolctl; a no-op on CuPy)."""

    _ctl: Any = None

    def __init__(self, xp: ArrayModule) -> None:
        self.on = xp is np
        self.lim: Any = None

    def __enter__(self) -> one_blas_thread:
        if self.on:
            if one_blas_thread._ctl is None:
                from threadpoolctl import ThreadpoolController

                one_blas_thread._ctl = ThreadpoolController()
            self.lim = one_blas_thread._ctl.limit(limits=1, user_api="blas")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.lim is not None:
            self.lim.restore_original_limits()
