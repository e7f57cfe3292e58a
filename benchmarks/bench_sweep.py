"""``python -m benchmarks.bench_sweep``: what a sweep costs beyond its runs, measured in one process.

Two workloads, each timed end to end on this machine's cores (``workers`` local processes):

* the paper-size η sweep (32 linear-net runs, n = 1000, d = 3072, m = 200, torch init, η from 2 to
  12, Λ and ‖Ê‖ every step): :func:`linnet.sweeps.run_sweep` against
  :func:`linnet.train_batch` on the same 32 runs in this process (data, spectrum and starts made
  beforehand and not timed), on the NumPy loop and on the compiled one. The ratio is
  trajectory-steps/s of the sweep over those of ``train_batch``, as called (its trajectories
  carry W_final) and stepping only (``final_weights=False``: the strictest reference, since the
  sweep's rows do not need W_final either). The sweep runs once on a pool of its own (started
  and stopped within the timing) and once on a reused :class:`linnet.pool.WorkerPool`.
* the catapult example (``examples/catapult.toml``, 42 tiny runs): the sweep on the NumPy loop,
  on the compiled loop and with its default loop (:func:`linnet.sweeps.auto_jit`: compiled here
  when this machine's Numba cache holds it) against one run per process (a fresh interpreter per
  run, ``workers`` at a time, running ``linnet.sweeps.run_one`` on the NumPy loop: a script per
  run, as one would without a sweep).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

import linnet
from linnet import jit as compiled
from linnet.pool import WorkerPool
from linnet.sweeps import expand_grid, load_config, run_sweep

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def paper_eta_sweep(steps: int) -> dict:
    return dict(
        fixed=dict(
            kind="cifar-like",
            n=1000,
            d=3072,
            m=200,
            init="torch",
            alpha=1.0,
            column_norm=0.2,
            steps=steps,
            seed=0,
        ),
        grid=dict(eta=[float(e) for e in np.linspace(2.0, 12.0, 32)]),
    )


def sweep_vs_batch(steps: int, *, jit: bool, workers: int) -> dict:
    """Seconds of ``train_batch`` on the sweep's 32 runs (in this process; as called, and with
    ``final_weights=False``: pure stepping, as the sweep's rows need) and of the sweep, on a pool
    of its own and on a reused pool (one that ran a 2-run sweep on the same data before)."""
    cfg = paper_eta_sweep(steps)
    specs = expand_grid(cfg)
    X, Y = linnet.make_data("cifar-like", n=1000, d=3072, seed=0, column_norm=0.2)
    sp = linnet.spectrum(X, Y)
    W, a = linnet.init_params(200, X, scheme="torch", seed=0, alpha=1.0)
    if jit:
        compiled.warm_up()
    batch_s = {}
    for final in (True, False):
        t0 = time.perf_counter()
        linnet.train_batch(
            X,
            Y,
            eta=[s["eta"] for s in specs],
            W0=[W] * len(specs),
            a0=[a] * len(specs),
            alpha=1.0,
            steps=steps,
            spectrum=sp,
            progress=False,
            jit=jit,
            final_weights=final,
        )
        batch_s[final] = time.perf_counter() - t0
    out = tempfile.mkdtemp(prefix="linnet-bench-sweep-")
    try:
        t0 = time.perf_counter()
        rows = run_sweep(cfg, os.path.join(out, "own"), workers=workers, progress=False, jit=jit)
        t_sweep = time.perf_counter() - t0
        with WorkerPool(workers) as pool:
            earlier = {**cfg, "fixed": {**cfg["fixed"], "steps": 10}, "grid": dict(eta=[1.0, 1.5])}
            run_sweep(earlier, os.path.join(out, "earlier"), pool=pool, progress=False, jit=jit)
            t0 = time.perf_counter()
            reused = run_sweep(cfg, os.path.join(out, "reused"), pool=pool, progress=False, jit=jit)
            t_reused = time.perf_counter() - t0
    finally:
        shutil.rmtree(out, ignore_errors=True)
    traj_steps = len(specs) * steps
    return dict(
        jit=jit,
        steps=steps,
        runs=len(specs),
        train_batch_s=batch_s[True],
        train_batch_stepping_s=batch_s[False],
        sweep_s=t_sweep,
        sweep_reused_pool_s=t_reused,
        train_batch_rate=traj_steps / batch_s[True],
        sweep_rate=traj_steps / t_sweep,
        ratio=batch_s[True] / t_sweep,
        ratio_stepping=batch_s[False] / t_sweep,
        ratio_reused_pool=batch_s[True] / t_reused,
        ratio_reused_pool_stepping=batch_s[False] / t_reused,
        ok=sum(r["status"] == "ok" for r in rows + reused),
    )


def _one_per_process(specs: list[dict], workers: int) -> float:
    """Seconds to run each spec in its own fresh interpreter, ``workers`` at a time."""
    code = (
        f"import json, sys; sys.path.insert(0, {HERE!r}); from linnet.sweeps.runner import run_one; "
        "row = run_one(json.loads(sys.argv[1]), jit=False); sys.exit(row['status'] != 'ok')"
    )
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    todo = list(specs)
    running: list[subprocess.Popen] = []
    failed = 0
    t0 = time.perf_counter()
    while todo or running:
        while todo and len(running) < workers:
            spec = todo.pop(0)
            running.append(subprocess.Popen([sys.executable, "-c", code, json.dumps(spec)], env=env))
        time.sleep(0.01)
        for p in [p for p in running if p.poll() is not None]:
            failed += p.returncode != 0
            running.remove(p)
    if failed:
        raise RuntimeError(f"{failed} of the one-per-process runs failed")
    return time.perf_counter() - t0


def catapult(workers: int) -> dict:
    """The catapult example on the NumPy loop (the default on a machine whose Numba cache lacks the
    compiled loop), on the compiled one (warm cache), and with the sweep's default here (see
    linnet.sweeps.auto_jit), against one run per process; and whether the two loops give every run
    the same outcome."""
    cfg = load_config(os.path.join(HERE, "examples", "catapult.toml"))
    cfg.pop("sweep", None)
    specs = expand_grid(cfg)
    times, loops, ok, run_s, outcomes = {}, {}, {}, {}, {}
    cached = compiled.cached()
    for mode, jit in (("NumPy", False), ("compiled", True), ("default", None)):
        if jit and not compiled.available():
            continue
        out = tempfile.mkdtemp(prefix="linnet-bench-sweep-")
        try:
            t0 = time.perf_counter()
            rows = run_sweep(cfg, out, workers=workers, progress=False, jit=jit)
            times[mode] = time.perf_counter() - t0
            loops[mode] = "compiled" if rows[0]["jit"] else "NumPy"
            ok[mode] = sum(r["status"] == "ok" for r in rows)
            run_s[mode] = sum(r["seconds"] for r in rows) / workers  # the runs alone, spread evenly
            outcomes[mode] = [r.get("outcome") for r in rows]
        finally:
            shutil.rmtree(out, ignore_errors=True)
    t_proc = _one_per_process(specs, workers)
    same = None  # without Numba there is no second loop to compare with
    if "compiled" in outcomes:
        same = sum(a == b for a, b in zip(outcomes["NumPy"], outcomes["compiled"], strict=True))
    return dict(
        runs=len(specs),
        cached_before=cached,
        sweep_s=times,
        loop=loops,
        ok=ok,
        one_per_process_s=t_proc,
        speed_up={k: t_proc / v for k, v in times.items()},
        runs_alone_s=run_s,
        most_speed_up={k: t_proc / v for k, v in run_s.items()},
        same_outcomes=same,
    )


def report(*, steps: int, workers: int) -> tuple[str, dict]:
    load0 = os.getloadavg()[0]
    modes = [False] + ([True] if compiled.available() else [])
    rows = [sweep_vs_batch(steps, jit=j, workers=workers) for j in modes]
    cat = catapult(workers)
    load1 = os.getloadavg()[0]
    lines = [
        f"sweeps against their runs — {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, NumPy {np.__version__}, {workers} local workers; "
        f"1-min load {load0:.2f} at the start, {load1:.2f} at the end",
        f"paper-size η sweep, {rows[0]['runs']} runs × {steps} steps (Λ and ‖Ê‖ every step); "
        "train_batch as called (with W_final) and stepping only (final_weights=False, as the "
        "sweep's rows need); the sweep on a pool of its own and on a reused one:",
        f"  {'loop':8} {'train_batch s':>14} {'stepping s':>11} {'sweep s':>8} {'reused s':>9} "
        f"{'ratio':>6} {'vs stepping':>12} {'reused':>7} {'vs stepping':>12}",
    ]
    for r in rows:
        lines.append(
            f"  {'jit' if r['jit'] else 'NumPy':8} {r['train_batch_s']:14.2f} "
            f"{r['train_batch_stepping_s']:11.2f} {r['sweep_s']:8.2f} {r['sweep_reused_pool_s']:9.2f} "
            f"{r['ratio']:6.2f} {r['ratio_stepping']:12.2f} {r['ratio_reused_pool']:7.2f} "
            f"{r['ratio_reused_pool_stepping']:12.2f}"
        )
    lines.append(
        f"catapult example, {cat['runs']} runs; one run per process {cat['one_per_process_s']:.1f} s; "
        f"compiled loop in the cache before: {cat['cached_before']}; the same outcome on both loops: "
        + (f"{cat['same_outcomes']}/{cat['runs']} runs;" if cat["same_outcomes"] is not None else "n/a;")
    )
    for mode, secs in cat["sweep_s"].items():
        lines.append(
            f"  sweep ({mode}: {cat['loop'][mode]} loop) {secs:.1f} s: {cat['speed_up'][mode]:.1f}x; "
            f"its runs alone {cat['runs_alone_s'][mode]:.1f} s a worker, so at most "
            f"{cat['most_speed_up'][mode]:.1f}x on this loop"
        )
    return "\n".join(lines), dict(eta_sweep=rows, catapult=cat, load=(load0, load1))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_sweep", description=__doc__)
    p.add_argument("--steps", type=int, default=500, help="steps per run of the η sweep (default 500)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--json", help="also write the numbers here")
    args = p.parse_args(argv)
    text, numbers = report(steps=args.steps, workers=args.workers)
    print(text)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(numbers, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
