"""PyTorch's intra-op threads from the cores actually free.

On a shared machine a PyTorch CPU run that keeps one thread per core while other jobs run on the
same cores is not proportionally slower but many times slower: its OpenMP threads wait on each
other at every parallel region. Measured on the 2-core machine under a load average of ~9, the
per-sample Jacobian of a small CNN on 1,000 images took 1.1–2.2 s with 2 threads and 0.22–0.35 s
with 1. So a run takes the cores the other jobs leave (:func:`choose_threads`, a pure function of
the numbers) and a sweep's worker the threads its share of the cores allows (:func:`sweep_threads`).
"""

from __future__ import annotations

import os


def choose_threads(*, affinity: int, load1: float, own: float = 0.0) -> int:
    """Threads for a CPU run: the cores it may use (``affinity``) less the other jobs' load,
    ``others = max(0, load1 − own)`` (``load1`` the 1-minute load average, ``own`` what this process
    itself contributes to it: its busy threads where it has been running), rounded to the nearest
    whole core; never more than ``affinity``, at least 1."""
    if isinstance(affinity, bool) or not isinstance(affinity, int) or affinity < 1:
        raise ValueError(f"affinity must be a whole number of cores ≥ 1, got {affinity!r}")
    if not (load1 >= 0 and own >= 0):
        raise ValueError(f"load1 and own must be ≥ 0 (a load average, busy threads), got {load1!r}, {own!r}")
    others = max(0.0, float(load1) - float(own))
    return max(1, min(affinity, int(affinity - others + 0.5)))


def machine_cores() -> tuple[int, float]:
    """(cores this process may run on, the 1-minute load average): ``os.sched_getaffinity`` where
    the platform has it (else ``os.cpu_count()``) and ``os.getloadavg()`` (0.0 where absent)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    try:
        load1 = os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - not POSIX
        load1 = 0.0
    return max(1, cores), float(load1)


def set_free_threads(*, own: float = 0.0) -> int:
    """Set ``torch.set_num_threads`` to :func:`choose_threads` of this machine now; return it."""
    import torch

    cores, load1 = machine_cores()
    n = choose_threads(affinity=cores, load1=load1, own=own)
    torch.set_num_threads(n)
    return n


def sweep_threads() -> int:
    """Threads for one sweep worker's PyTorch run: the BLAS threads the sweep left this worker
    (its share of the cores: ``threadpoolctl`` reports the limit the sweep set), and no more than
    the free cores (:func:`choose_threads`); one where several workers share the cores."""
    cores, load1 = machine_cores()
    free = choose_threads(affinity=cores, load1=load1)
    try:
        from threadpoolctl import threadpool_info

        blas = [int(i["num_threads"]) for i in threadpool_info() if i.get("user_api") == "blas"]
    except Exception:  # noqa: BLE001 - threadpoolctl absent or unreadable: the free cores decide
        blas = []
    return max(1, min([free, *blas]))


__all__ = ["choose_threads", "machine_cores", "set_free_threads", "sweep_threads"]
