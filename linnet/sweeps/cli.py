"""``python -m linnet sweep CONFIG.toml [CONFIG.toml …]`` and :func:`linnet.sweep`."""

from __future__ import annotations

import contextlib
import os
import sys
import time

from ..pool import WorkerPool
from .grid import OUTCOMES, load_config
from .plots import boundaries, plot_phase_diagram
from .workers import run_sweep


def sweep(grid: dict, *, fixed: dict | None = None, out: str = "sweep-out", **kwargs) -> list[dict]:
    """Run ``grid`` (parameter → list of values; see :data:`GRID_KEYS`) over ``fixed`` settings.

    Shorthand for :func:`run_sweep` with ``{"grid": grid, "fixed": fixed}``; keyword arguments
    (``scheduler``, ``client``, ``workers``, ``checker``, ``save_trajectories`` …) pass through.
    """
    return run_sweep({"grid": dict(grid), "fixed": dict(fixed or {})}, out, **kwargs)


def main(argv=None, *, prog="python -m linnet sweep", default_checker=None) -> int:
    """The sweep CLI; ``default_checker`` is the checker used when ``--checker`` is not given
    (``python -m theory sweep`` passes the theory checks)."""
    import argparse

    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "config",
        nargs="+",
        help="TOML file with [grid] (and optional [fixed], [sweep], [plot]); several run one after "
        "the other on one set of local workers, which keep their imports and data in between",
    )
    p.add_argument(
        "--out", help="output folder (default: the config's sweep.out, else sweep-out; one config only)"
    )
    p.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786")
    p.add_argument("--workers", type=int, help="local processes (default: all cores)")
    p.add_argument(
        "--checker",
        metavar="MODULE:FUNCTION",
        help="per-run check hook, called as f(traj, X, Y) -> dict of extra columns; "
        "theory.checks:sweep_checker runs the paper's checks (slower)",
    )
    p.add_argument("--check", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--retry-errors", action="store_true")
    p.add_argument(
        "--batch-size",
        type=int,
        help="most runs trained together per task (default: sweep.batch_size, else 32; 1 = one per task)",
    )
    p.add_argument(
        "--blas-threads",
        type=int,
        help="BLAS threads per task (default: the cores divided among the workers)",
    )
    p.add_argument(
        "--jit",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="linear-net runs on the compiled loop, train(jit=True) (default: sweep.jit, else the "
        "loop of the sweep's finished runs, else linnet.sweeps.auto_jit: compiled where Numba is "
        "installed and the runs would take the NumPy loop at least a minute, or a second where "
        "the compiled loop is already in this machine's cache); --no-jit: the NumPy loop",
    )
    args = p.parse_args(argv)
    if args.check:
        p.error("--check is now --checker theory.checks:sweep_checker (or: python -m theory sweep CONFIG)")
    if args.out and len(args.config) > 1:
        p.error("--out names one config's folder: with several, give each its sweep.out")
    try:
        configs = [load_config(path) for path in args.config]
        outs = [args.out or c.get("sweep", {}).get("out", "sweep-out") for c in configs]
        if len(set(outs)) != len(outs):
            raise ValueError(f"the configs share an output folder ({outs}): give each its own sweep.out")
        kwargs = dict(
            scheduler=args.scheduler,
            checker=args.checker or default_checker,
            retry_errors=args.retry_errors,
            batch_size=args.batch_size,
            blas_threads=args.blas_threads,
            jit=args.jit,
        )
        with _shared_workers(len(configs), args) as pool:
            for config, out in zip(configs, outs, strict=True):
                t0 = time.perf_counter()
                workers = {"workers": args.workers} if pool is None else {"pool": pool}
                rows = run_sweep(config, out, **kwargs, **workers)
                _report(config, out, rows, time.perf_counter() - t0)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _shared_workers(n_configs: int, args):
    """One local :class:`linnet.pool.WorkerPool` for several configs (None for one, or on Dask)."""
    if n_configs == 1 or args.scheduler:
        return contextlib.nullcontext()
    return WorkerPool(args.workers or os.cpu_count() or 1)


def _report(config: dict, out: str, rows: list[dict], seconds: float) -> None:
    """A finished sweep's figures and its one-paragraph summary on stdout."""
    plot = config.get("plot", {})
    figs = plot_phase_diagram(
        rows, out, x=plot.get("x", "eta_lambda0"), y=plot.get("y", "m"), title=plot.get("title")
    )
    counts = {oc: sum(r.get("outcome") == oc for r in rows) for oc in OUTCOMES}
    errors = sum(r.get("status") != "ok" for r in rows)
    print(
        f"{len(rows)} runs in {out}/summary.csv ({seconds:.1f}s this session): {counts}, "
        f"{errors} errors; figures {', '.join(figs)}"
    )
    if plot.get("boundaries"):
        for g, b in boundaries(rows, x=plot.get("x", "eta_lambda0"), group=plot.get("y", "m")).items():
            print(
                f"  {plot.get('y', 'm')}={g}: catapult from {b['catapult_from']}, diverges from "
                f"{b['diverges_from']} (largest converging {b['converges_up_to']})"
            )
