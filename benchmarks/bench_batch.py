"""The batched engine's section of ``python -m benchmarks``: trajectory-steps/s and memory of
:func:`linnet.train_batch` at paper size for several batch sizes, the machine's memory bandwidth
(the bound of a step's two passes over the stacked Z_v), and sweeps run in batches against one run
per task, all measured in the same process."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import tracemalloc
from typing import Any

import numpy as np

from benchmarks.bench import bench_data
from benchmarks.bench_sweep import paper_eta_sweep
from linnet._backend import available_cpus
from linnet.families.linear2.batch import train_batch
from linnet.families.linear2.init import init_params
from linnet.spectral import spectrum
from linnet.train import train


def bandwidth_gbs(nbytes: int = 51 * 2**20, reps: int = 10) -> dict:
    """Best-of-``reps`` read bandwidth of one stacked pass Z_v·V (B×m×r by B×r×4 products) and of
    ``np.copyto`` (read + write) over ``nbytes``."""
    b = max(1, nbytes // (200 * 1000 * 8))
    Z = np.random.default_rng(0).standard_normal((b, 200, 1000))
    V = np.ones((b, 1000, 4))
    dst = np.empty_like(Z)

    def best(fn):
        fn()
        t = np.inf
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            t = min(t, time.perf_counter() - t0)
        return t

    t_mv = best(lambda: Z @ V)
    t_cp = best(lambda: np.copyto(dst, Z))
    return dict(mib=Z.nbytes / 2**20, pass_gbs=Z.nbytes / t_mv / 1e9, copy_gbs=2 * Z.nbytes / t_cp / 1e9)


def batch_rates(
    Bs=(1, 8, 32, 128), *, steps=200, n=1000, d=3072, m=200, reps=3, jit: bool = False, xp: Any = np
) -> list[dict]:
    """Trajectory-steps/s of ``train_batch`` at paper size, Λ every step (e_hat off, as the main
    table), torch init seeds 0 … B−1, η = 10 (α = 1), less a 0-step batch's fixed cost; the best
    of ``reps``; peak memory by tracemalloc over a 3-step batch (NumPy only: on CuPy, ``xp``, it
    would see the host's share). ``jit``: the compiled members (``train_batch(jit=True)``, one
    member per core at a time) against ``train(jit=True)``."""
    X, Y = bench_data(n, d, xp)
    sp = spectrum(X, Y)
    starts = [init_params(m, X, scheme="torch", seed=s) for s in range(max(Bs))]
    kw: dict[str, Any] = dict(alpha=1.0, spectrum=sp, e_hat_every=0, progress=False, jit=jit)
    rows = []
    W, a = starts[0]
    train(X, Y, eta=10.0, steps=2, W0=W, a0=a, **kw)  # warm-up
    fixed1 = min(_wall(lambda: train(X, Y, eta=10.0, steps=0, W0=W, a0=a, **kw)) for _ in range(reps))
    single = min(_wall(lambda: train(X, Y, eta=10.0, steps=steps, W0=W, a0=a, **kw)) for _ in range(reps))
    rows.append(dict(B="single train", steps_per_s=steps / max(single - fixed1, 1e-9), fixed_s=fixed1))
    for B in Bs:
        W0, a0 = [s[0] for s in starts[:B]], [s[1] for s in starts[:B]]
        args: dict[str, Any] = dict(eta=10.0, W0=W0, a0=a0, **kw)
        fixed = min(_wall(lambda a=args: train_batch(X, Y, steps=0, **a)) for _ in range(reps))
        wall = min(_wall(lambda a=args: train_batch(X, Y, steps=steps, **a)) for _ in range(reps))
        peak = float("nan")
        if xp is np:
            tracemalloc.start()
            try:
                train_batch(X, Y, steps=3, **args)
                peak = tracemalloc.get_traced_memory()[1] / 2**20
            finally:
                tracemalloc.stop()
        rate = B * steps / max(wall - fixed, 1e-9)
        rows.append(
            dict(B=B, steps_per_s=rate, fixed_s=fixed, peak_mib=peak, stacked_mib=B * m * sp.r * 8 / 2**20)
        )
    return rows


def _wall(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def sweep_times(*, workers=2, paper_steps=1000, catapult=True, jit: bool = False) -> list[dict]:
    """Wall time of the catapult example (42 runs) and of a 32-run paper-size η sweep, run in
    batches (the default) and one run per task with the BLAS threads left alone (linnet's sweep
    before batches), in temporary folders; ``jit``: also batched with ``jit=True``."""
    from linnet.sweeps import load_config, run_sweep

    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    configs = []
    cat = os.path.join(here, "examples", "catapult.toml")
    if catapult and os.path.exists(cat):
        c = load_config(cat)
        c.pop("sweep", None)
        configs.append(("catapult example (42 runs)", c))
    configs.append((f"paper-size η sweep (32 runs, {paper_steps} steps)", paper_eta_sweep(paper_steps)))
    rows = []
    for label, cfg in configs:
        row: dict[str, Any] = dict(sweep=label)
        modes: tuple[tuple[str, dict[str, Any]], ...] = (
            ("batched", {}),
            ("one per task", dict(batch_size=1, blas_threads=0)),
        )
        if jit:
            modes += (("batched, jit", dict(jit=True)),)
        for mode, kw in modes:
            out = tempfile.mkdtemp(prefix="linnet-bench-sweep-")
            try:
                t0 = time.perf_counter()
                res = run_sweep(cfg, out, workers=workers, progress=False, **kw)
                row[mode] = time.perf_counter() - t0
                row[f"{mode} ok"] = sum(r.get("status") == "ok" for r in res)
                row[f"{mode} outcomes"] = sorted({r.get("outcome", "?") for r in res})
            finally:
                shutil.rmtree(out, ignore_errors=True)
        row["speed-up"] = row["one per task"] / row["batched"]
        if jit:
            row["speed-up, jit"] = row["one per task"] / row["batched, jit"]
        rows.append(row)
    return rows


def report(*, quick: bool) -> tuple[str, dict]:
    """Measure and format the batched section; returns (text, numbers)."""
    from linnet import jit as compiled

    has_jit = compiled.available()
    bw = bandwidth_gbs()
    bw1 = bandwidth_gbs(nbytes=200 * 1000 * 8, reps=50)  # one member's Z_v, cache resident
    steps = 100 if quick else 200
    rates = batch_rates(steps=steps)
    jit_rates = batch_rates(steps=steps, jit=True) if has_jit else []
    sweeps = sweep_times(paper_steps=200 if quick else 1000, jit=has_jit)
    cpus = available_cpus()
    lines = [
        f"\nbatched runs (train_batch) at paper size (n=1000, d=3072, m=200, r=1000), Λ every step, "
        f"torch init seeds 0..B-1, eta=10, {steps} steps; lockstep NumPy engine and, with Numba, "
        f"jit=True (members side by side, one per core); {cpus} CPUs"
    ]
    lines.append(
        f"  memory bandwidth: one stacked pass over {bw['mib']:.0f} MiB at {bw['pass_gbs']:.1f} GB/s"
        " "
        f"(copy {bw['copy_gbs']:.1f} GB/s read+write); one pass over one member's "
        f"{bw1['mib']:.1f} MiB (cache resident) at {bw1['pass_gbs']:.1f} GB/s"
    )
    lines.append(
        f"  {'B':>12} {'traj-steps/s':>13} {'fixed s':>8} {'peak MiB':>9} {'Z_v MiB':>8} "
        f"{'bound/s':>8} | {'jit st/s':>9} {'jit fixed':>9} {'jit bound':>9}"
    )
    for i, r in enumerate(rates):
        bound = jit_bound = ""
        if "stacked_mib" in r:  # two passes over the stacked Z_v per step at the measured bandwidth
            per_step = 2 * r["stacked_mib"] * 2**20 / (bw["pass_gbs"] * 1e9)
            bound = f"{r['B'] / per_step:8.0f}"
            # jit: each member's two passes at the cache-resident rate, min(B, cpus) at a time
            jit_bound = f"{min(r['B'], cpus) * bw1['pass_gbs'] * 1e9 / (2 * 200 * 1000 * 8):9.0f}"
        j = jit_rates[i] if jit_rates else None
        lines.append(
            f"  {str(r['B']):>12} {r['steps_per_s']:13.0f} {r['fixed_s']:8.3f} "
            f"{r.get('peak_mib', float('nan')):9.0f} "
            f"{r.get('stacked_mib', float('nan')):8.0f} {bound:>8} | "
            + (f"{j['steps_per_s']:9.0f} {j['fixed_s']:9.3f} {jit_bound:>9}" if j else "      -")
        )
    lines.append(
        "  (bound/s: B over the time of two passes over the stacked Z_v at the stacked bandwidth; "
        "jit bound: each member's two passes over its own Z_v at the cache-resident rate, one "
        "member per CPU; the 'single train' row is train(), and train(jit=True) in the jit columns)"
    )
    lines.append(
        "\nsweeps, 2 local workers: batched (default) against one run per task with BLAS threads "
        "left alone (the sweep before batches), same process"
    )
    for r in sweeps:
        lines.append(
            f"  {r['sweep']:44s} batched {r['batched']:7.1f} s, "
            f"one per task {r['one per task']:7.1f} s"
            f" ({r['speed-up']:.1f}x)"
            + (
                f", batched with jit {r['batched, jit']:7.1f} s ({r['speed-up, jit']:.1f}x)"
                if "batched, jit" in r
                else ""
            )
            + f"; ok {r['batched ok']}/{r['one per task ok']}; outcomes {r['batched outcomes']}"
        )
    return "\n".join(lines), dict(
        bandwidth=bw, bandwidth_member=bw1, batch=rates, batch_jit=jit_rates, sweeps=sweeps
    )
