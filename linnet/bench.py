"""``python -m linnet bench``: speed and memory of the spectral engine against the literal W, a path.

Prints a table (and ``--json`` writes the numbers). Every figure in a row is measured in the
same process on the same data, so ratios are like for like. Steps/s are with Λ = λ_max(G)
computed every step (train's eigen-tracker at its default relative residual 1e-6), without ‖Ê‖
or the Hessian, and count the steps only: the one-off start and finish of a run (forming Z_v from
W0 and W from Z_v, O(m·d·r)) is measured by a 0-step run, subtracted, and reported as "fixed".
The fast engine's figures are the best of three runs (this machine is shared). A second table
gives the fast engine's milliseconds per step by what is measured along the run (nothing, Λ,
Λ and ‖Ê‖, and the Hessian's top eigenvalue too).
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
import tracemalloc

import numpy as np

from ._backend import namespace, synchronize
from .data import make_data
from .engines import ENGINES
from .init import init_params
from .observers import WarmLanczos
from .spectral import spectrum
from .train import train


def _data(n, d, xp, seed=0):
    X, Y = make_data("cifar-like", n=n, d=d, seed=seed, column_norm=0.2)
    return xp.asarray(X), xp.asarray(Y)


def _problem(n, d, m, xp):
    """The benchmark's data and start: CIFAR-like (X, Y) and PyTorch's default init (W, a), seed 0."""
    X, Y = _data(n, d, xp)
    W, a = init_params(m, X, scheme="torch", seed=0)
    return X, Y, W, a


def _peak_mib(fn):
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def _seconds(fn, xp, keep=False):
    t0 = time.perf_counter()
    out = fn()
    synchronize(xp)
    wall = time.perf_counter() - t0
    return (wall, out) if keep else wall


def _hessian_seconds(engine_cls, sp, W, a, xp, tol=1e-8):
    eng = engine_cls(sp, W, a, 1.0, W.dtype, 5)
    obs = eng.observe()
    mv, dim = eng.hessian_matvec(obs)
    eig = WarmLanczos(xp, W.dtype, dim, "LA", tol, 400, 3)
    return _seconds(lambda: eig(mv), xp), eig.iterations


def bench_size(n, d, m, *, steps_fast, steps_literal, xp, literal=True, hessian=True):
    X, Y, W, a = _problem(n, d, m, xp)
    row = dict(n=n, d=d, m=m)
    t0 = time.perf_counter()
    sp = spectrum(X, Y)
    synchronize(xp)
    row["setup_s"] = time.perf_counter() - t0
    kw = dict(eta=10.0, alpha=1.0, W0=W, a0=a, spectrum=sp, e_hat_every=0, progress=False)
    for path, st, on in (("fast", steps_fast, True), ("literal", steps_literal, literal)):
        if not on:
            continue
        engine = "spectral" if path == "fast" else "literal"
        train(X, Y, steps=2, engine=engine, **kw)  # warm-up (BLAS threads, CuPy kernels)
        reps = 3 if path == "fast" else 1
        fixed = min(_seconds(lambda: train(X, Y, steps=0, engine=engine, **kw), xp) for _ in range(reps))
        runs = [_seconds(lambda: train(X, Y, steps=st, engine=engine, **kw), xp, keep=True)
                for _ in range(reps)]
        wall, tr = min(runs, key=lambda r: r[0])
        row[f"{path}_fixed_s"] = fixed
        row[f"{path}_steps_per_s"] = tr.steps / max(wall - fixed, 1e-9)
        row[f"{path}_stopped"] = tr.stopped
        if hessian:
            row[f"{path}_hessian_s"], row[f"{path}_hessian_iters"] = _hessian_seconds(
                ENGINES[engine], sp, xp.asarray(tr.W_final), xp.asarray(tr.a_final), xp)
        if xp is np:
            row[f"{path}_peak_mib"] = _peak_mib(lambda: train(X, Y, steps=3, engine=engine, **{
                **kw, "spectrum": spectrum(X, Y) if path == "fast" else sp}))
    if literal:
        row["ratio"] = row["fast_steps_per_s"] / row["literal_steps_per_s"]
    return row


MEASURED = (("GD only", dict(sharpness_every=0, e_hat_every=0)),
            ("Λ", dict(e_hat_every=0)),
            ("Λ and ‖Ê‖ (train's default)", dict()),
            ("Λ, ‖Ê‖ and the Hessian's λ_max", dict(hessian_every=1)))


def per_step_costs(n, d, m, *, steps, xp, reps=3):
    """Milliseconds per step of the fast engine by what is measured along the run (the η = 10 run
    from torch init): the best of ``reps`` runs each, taken in turn, less a 0-step run's fixed cost."""
    X, Y, W, a = _problem(n, d, m, xp)
    sp = spectrum(X, Y)
    best = {label: math.inf for label, _ in MEASURED}
    for _ in range(reps):
        for label, extra in MEASURED:
            kw = dict(eta=10.0, alpha=1.0, W0=W, a0=a, spectrum=sp, progress=False, **extra)
            fixed = _seconds(lambda: train(X, Y, steps=0, **kw), xp)
            best[label] = min(best[label], _seconds(lambda: train(X, Y, steps=steps, **kw), xp) - fixed)
    return {label: 1e3 * s / steps for label, s in best.items()}


def autograd_baseline(n, d, m, *, steps, eta=10.0, tol=1e-6):
    """What a researcher would hand-roll in PyTorch: W and a as tensors, the GD step by autograd,
    and Λ = λ_max(G) every step by Lanczos warm-started from the previous eigenvector, with
    G v = J(Jᵀv)/n from ``torch.func.vjp`` then ``torch.func.jvp`` (the NTK Gram matrix, the same Λ
    as ours). Returns steps/s and the largest deviation of its loss and Λ from linnet's run."""
    try:
        import torch
        from torch.func import jvp, vjp
    except ImportError as exc:
        raise SystemExit("--torch needs PyTorch: pip install torch (it is not a linnet dependency)") from exc
    from .lanczos import lanczos
    X, Y, W0, a0 = _problem(n, d, m, np)
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    W, a = torch.from_numpy(W0.copy()).requires_grad_(), torch.from_numpy(a0.copy()).requires_grad_()

    def f(W_, a_):
        return (W_ @ Xt).T @ a_  # α = 1, outputs for the n samples

    losses, lams, u = [], [], None
    for t in range(steps):
        if t == 1:
            t0 = time.perf_counter()  # the first step's cold Lanczos start is not timed
        out = f(W, a)
        loss = ((out - Yt) ** 2).sum() / (2 * n)
        gW, ga = torch.autograd.grad(loss, (W, a))
        Wd, ad = W.detach(), a.detach()
        _, pull = vjp(f, Wd, ad)

        def matvec(v):
            tangents = pull(torch.from_numpy(v))
            return jvp(f, (Wd, ad), tangents)[1].numpy() / n
        res = lanczos(matvec, n=n, v0=u, tol=tol, maxiter=200)
        u = res.vector
        losses.append(float(loss.detach()))
        lams.append(res.value)
        with torch.no_grad():
            W -= eta * gW
            a -= eta * ga
    wall = time.perf_counter() - t0
    ours = train(X, Y, eta=eta, steps=steps - 1, W0=W0, a0=a0, alpha=1.0, e_hat_every=0, progress=False)
    return dict(steps_per_s=(steps - 1) / wall, loss_dev=float(np.max(np.abs(np.array(losses) - ours.loss) / ours.loss)),
                lambda_dev=float(np.max(np.abs(np.array(lams) - ours.sharpness) / ours.sharpness)),
                torch=torch.__version__, threads=torch.get_num_threads())


def torch_eta10_run(xp):
    """The paper-size run of Fig. 1: torch init, η = 10, 1000 steps, set-up included."""
    X, Y = _data(1000, 3072, xp)
    t0 = time.perf_counter()
    tr = train(X, Y, eta=10.0, steps=1000, m=200, init="torch", alpha=1.0, seed=0,
               e_hat_every=0, progress=False)
    synchronize(xp)
    wall = time.perf_counter() - t0
    from .analysis import upward_crossings
    return dict(wall_s=wall, max_eta_lambda=float(tr.eta * tr.sharpness.max()),
                crossings=upward_crossings(tr.sharpness, tr.eta).tolist(), loss_final=float(tr.loss[-1]), stopped=tr.stopped)


def _fmt(v, spec):
    return "-" if v is None else format(v, spec)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m linnet bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="only the paper size, a short d sweep and the costs per step")
    p.add_argument("--backend", choices=("numpy", "cupy"), default="numpy")
    p.add_argument("--json", help="also write the numbers to this file")
    p.add_argument("--torch", action="store_true",
                   help="also time a hand-rolled PyTorch autograd loop at paper size (needs torch)")
    p.add_argument("--batch", action="store_true", help="also the batched engine and batched sweeps (linnet.bench_batch)")
    p.add_argument("--batch-only", action="store_true", help="only the batched engine and sweeps section")
    args = p.parse_args(argv)
    if args.batch_only:
        return _batch_section(args)
    xp = namespace(backend=args.backend)
    sizes = [(1000, 3072, 200, True)] if args.quick else [
        (1000, 3072, 200, True), (5000, 3072, 200, True), (50000, 3072, 200, True)]
    run = torch_eta10_run(xp)  # first, as a fresh script would run it
    rows = []
    for n, d, m, lit in sizes:
        print(f"measuring n={n} d={d} m={m} ...", file=sys.stderr, flush=True)
        rows.append(bench_size(n, d, m, steps_fast=500 if n <= 5000 else 300,
                               steps_literal=20 if n <= 1000 else 3, xp=xp, literal=lit))
    sweep = []
    for d in ((768, 3072) if args.quick else (768, 3072, 12288)):
        print(f"measuring d sweep d={d} ...", file=sys.stderr, flush=True)
        sweep.append(bench_size(1000, d, 200, steps_fast=500, steps_literal=0, xp=xp,
                                literal=False, hessian=False))
    print("measuring the cost per step by what is measured ...", file=sys.stderr, flush=True)
    costs = per_step_costs(1000, 3072, 200, steps=1000, xp=xp)
    auto = None
    if args.torch:
        print("measuring the PyTorch autograd baseline ...", file=sys.stderr, flush=True)
        auto = autograd_baseline(1000, 3072, 200, steps=10)

    dev = platform.processor() or platform.machine()
    print(f"\nlinnet bench — backend {args.backend}, {dev}, Python {platform.python_version()}, "
          f"NumPy {np.__version__}")
    print("Λ every step (eigen-tracker, rel. residual 1e-6); steps/s without a run's fixed start/finish; "
          "Hessian λ_max cold Lanczos to 1e-8; peak = tracemalloc peak of set-up + 3 steps (NumPy only)\n")
    hdr = (f"{'n':>6} {'d':>6} {'m':>4} | {'setup s':>8} {'fixed s':>8} | {'fast st/s':>9} {'lit st/s':>9} {'ratio':>7} | "
           f"{'fast H s':>8} {'lit H s':>8} | {'fast MiB':>8} {'lit MiB':>8}")
    print(hdr + "\n" + "-" * len(hdr))
    for r in rows:
        print(f"{r['n']:6d} {r['d']:6d} {r['m']:4d} | {r['setup_s']:8.2f} {r['fast_fixed_s']:8.3f} | "
              f"{r['fast_steps_per_s']:9.0f} {_fmt(r.get('literal_steps_per_s'), '9.2f')} "
              f"{_fmt(r.get('ratio'), '7.0f')} | {_fmt(r.get('fast_hessian_s'), '8.3f')} "
              f"{_fmt(r.get('literal_hessian_s'), '8.2f')} | {_fmt(r.get('fast_peak_mib'), '8.0f')} "
              f"{_fmt(r.get('literal_peak_mib'), '8.0f')}")
    print("\nper-step cost against d (n=1000, m=200, fast engine):")
    for r in sweep:
        print(f"  d={r['d']:6d}: setup {r['setup_s']:6.2f} s, fixed {r['fast_fixed_s']:6.3f} s per run, "
              f"{r['fast_steps_per_s']:6.0f} steps/s")
    print("\nms per step of the fast engine at paper size by what is measured every step "
          "(1000 steps of the run below, best of 3):")
    for label, ms in costs.items():
        print(f"  {label:38s} {ms:6.3f}")
    print(f"\n1000-step paper-size run (torch init, alpha=1, eta=10), set-up included: "
          f"{run['wall_s']:.2f} s; max eta*Lambda {run['max_eta_lambda']:.3f}; "
          f"crossings of 2/eta at steps {run['crossings']}; final loss {run['loss_final']:.3g}"
          + (f"; STOPPED {run['stopped']}" if run["stopped"] else ""))
    if auto is not None:
        fast = rows[0]["fast_steps_per_s"]
        print(f"\nPyTorch {auto['torch']} autograd loop at paper size ({auto['threads']} threads; "
              f"G products by vjp+jvp, warm-started Lanczos, steps 2-10): {auto['steps_per_s']:.2f} steps/s; "
              f"fast engine {fast / auto['steps_per_s']:.0f}x faster; its loss and Lambda agree with "
              f"linnet's to {auto['loss_dev']:.1e} and {auto['lambda_dev']:.1e}")
    if args.batch:
        _batch_section(args, json_path=None)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(dict(rows=rows, d_sweep=sweep, per_step_ms=costs, torch_eta10=run, autograd=auto,
                           backend=args.backend),
                      fh, indent=1)
    return 0


def _batch_section(args, json_path="same"):
    from .bench_batch import report
    text, numbers = report(quick=args.quick)
    print(text)
    if args.json and json_path == "same":
        with open(args.json, "w") as fh:
            json.dump(numbers, fh, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
