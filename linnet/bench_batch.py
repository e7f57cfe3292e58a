"""The batched engine's section of ``python -m linnet bench``: trajectory-steps/s and memory of
:func:`linnet.train_batch` at paper size for several batch sizes, the machine's memory bandwidth
(the bound of a step's two passes over the stacked Z_v), and sweeps run in batches against one run
per task, all measured in the same process."""
from __future__ import annotations

import os
import shutil
import tempfile
import time
import tracemalloc

import numpy as np

from .batch import train_batch
from .bench import bench_data
from .init import init_params
from .spectral import spectrum
from .train import train


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


def batch_rates(Bs=(1, 8, 32, 128), *, steps=200, n=1000, d=3072, m=200, reps=2) -> list[dict]:
    """Trajectory-steps/s of ``train_batch`` at paper size, Λ every step (e_hat off, as the main
    table), torch init seeds 0 … B−1, η = 10 (α = 1), less a 0-step batch's fixed cost; the best
    of ``reps``; peak memory by tracemalloc over a 3-step batch."""
    X, Y = bench_data(n, d, np)
    sp = spectrum(X, Y)
    starts = [init_params(m, X, scheme="torch", seed=s) for s in range(max(Bs))]
    kw = dict(alpha=1.0, spectrum=sp, e_hat_every=0, progress=False)
    rows = []
    W, a = starts[0]
    train(X, Y, eta=10.0, steps=2, W0=W, a0=a, **kw)  # warm-up
    fixed1 = min(_wall(lambda: train(X, Y, eta=10.0, steps=0, W0=W, a0=a, **kw)) for _ in range(reps))
    single = min(_wall(lambda: train(X, Y, eta=10.0, steps=steps, W0=W, a0=a, **kw)) for _ in range(reps))
    rows.append(dict(B="single train", steps_per_s=steps / max(single - fixed1, 1e-9), fixed_s=fixed1))
    for B in Bs:
        W0, a0 = [s[0] for s in starts[:B]], [s[1] for s in starts[:B]]
        args = dict(eta=10.0, W0=W0, a0=a0, **kw)
        fixed = min(_wall(lambda a=args: train_batch(X, Y, steps=0, **a)) for _ in range(reps))
        wall = min(_wall(lambda a=args: train_batch(X, Y, steps=steps, **a)) for _ in range(reps))
        tracemalloc.start()
        try:
            train_batch(X, Y, steps=3, **args)
            peak = tracemalloc.get_traced_memory()[1] / 2**20
        finally:
            tracemalloc.stop()
        rate = B * steps / max(wall - fixed, 1e-9)
        rows.append(dict(B=B, steps_per_s=rate, fixed_s=fixed, peak_mib=peak,
                         stacked_mib=B * m * sp.r * 8 / 2**20))
    return rows


def _wall(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def sweep_times(*, workers=2, paper_steps=1000, catapult=True) -> list[dict]:
    """Wall time of the catapult example (42 runs) and of a 32-run paper-size η sweep, run in
    batches (the default) and one run per task with the BLAS threads left alone (linnet's sweep
    before batches), in temporary folders."""
    from .sweeps import load_config, run_sweep
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    configs = []
    cat = os.path.join(here, "examples", "catapult.toml")
    if catapult and os.path.exists(cat):
        c = load_config(cat)
        c.pop("sweep", None)
        configs.append(("catapult example (42 runs)", c))
    configs.append((f"paper-size η sweep (32 runs, {paper_steps} steps)", dict(
        fixed=dict(kind="cifar-like", n=1000, d=3072, m=200, init="torch", alpha=1.0,
                   column_norm=0.2, steps=paper_steps, seed=0),
        grid=dict(eta=[float(e) for e in np.linspace(2.0, 12.0, 32)]))))
    rows = []
    for label, cfg in configs:
        row = dict(sweep=label)
        for mode, kw in (("batched", {}), ("one per task", dict(batch_size=1, blas_threads=0))):
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
        rows.append(row)
    return rows


def report(*, quick: bool) -> tuple[str, dict]:
    """Measure and format the batched section; returns (text, numbers)."""
    bw = bandwidth_gbs()
    rates = batch_rates(steps=100 if quick else 200)
    sweeps = sweep_times(paper_steps=200 if quick else 1000)
    lines = [f"\nbatched engine (train_batch) at paper size (n=1000, d=3072, m=200, r=1000), Λ every step, "
             f"torch init seeds 0..B-1, eta=10; memory bandwidth: one stacked pass over "
             f"{bw['mib']:.0f} MiB at {bw['pass_gbs']:.1f} GB/s, copy {bw['copy_gbs']:.1f} GB/s (read+write)"]
    lines.append(f"  {'B':>12} {'traj-steps/s':>13} {'fixed s':>8} {'peak MiB':>9} {'Z_v MiB':>8} "
                 f"{'bound/s':>8}")
    for r in rates:
        bound = ""
        if "stacked_mib" in r:  # two passes over the stacked Z_v per step at the measured bandwidth
            per_step = 2 * r["stacked_mib"] * 2**20 / (bw["pass_gbs"] * 1e9)
            bound = f"{r['B'] / per_step:8.0f}"
        lines.append(f"  {str(r['B']):>12} {r['steps_per_s']:13.0f} {r['fixed_s']:8.3f} "
                     f"{r.get('peak_mib', float('nan')):9.0f} "
                     f"{r.get('stacked_mib', float('nan')):8.0f} {bound:>8}")
    lines.append("  (bound/s: B over the time of two passes over the stacked Z_v at the pass "
                 "bandwidth above)")
    lines.append("\nsweeps, 2 local workers: batched (default) against one run per task with BLAS threads "
                 "left alone (the sweep before batches), same process")
    for r in sweeps:
        lines.append(f"  {r['sweep']:44s} batched {r['batched']:7.1f} s, "
                     f"one per task {r['one per task']:7.1f} s"
                     f" ({r['speed-up']:.1f}x); ok {r['batched ok']}/{r['one per task ok']}; "
                     f"outcomes {r['batched outcomes']}")
    return "\n".join(lines), dict(bandwidth=bw, batch=rates, sweeps=sweeps)
