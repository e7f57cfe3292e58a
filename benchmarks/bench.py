"""``python -m benchmarks`` (or ``python -m linnet bench`` in a source checkout): speed and memory
of the spectral engine against the literal W, a path.

Prints a table (and ``--json`` writes the numbers). Every figure in a row is measured in the
same process on the same data, so ratios are like for like. Steps/s are with Λ = λ_max(G)
computed every step (train's eigen-tracker at its default relative residual 1e-6), without ‖Ê‖
or the Hessian, and count the steps only: the one-off start and finish of a run (forming Z_v from
W0 and W from Z_v, O(m·d·r)) is measured by a 0-step run, subtracted, and reported as "fixed".
The fast engine's figures are the best of three runs (this machine is shared); with Numba, the
"jit" column is the same run as one compiled loop (``train(..., jit=True)``, :mod:`linnet.jit`),
whose compile time (into an empty cache, and loaded from it) is reported too. A second table
gives the fast engine's milliseconds per step by what is measured along the run (nothing, Λ,
Λ and ‖Ê‖, and the Hessian's top eigenvalue too), on both paths. A third section times the MLP family
(linnet.MLP 3072-200-200-200-200-1, tanh, PyTorch init, float64, η = 0.5) at paper size: steps/s
with Λ every step (‖G_A‖ on and off), one cold Hessian λ_max, peak memory, the milliseconds of
each part of a step, and (``--torch``) a hand-written PyTorch autograd loop on the same net;
``--mlp-only`` runs that section alone.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
import tracemalloc

import numpy as np

from linnet._backend import namespace, synchronize
from linnet.data import make_data
from linnet.families.linear2.engines import ENGINES
from linnet.families.linear2.init import init_params
from linnet.jit import available as jit_available
from linnet.run.observers import WarmLanczos
from linnet.spectral import spectrum
from linnet.train import train


def bench_data(n, d, xp, seed=0):
    X, Y = make_data("cifar-like", n=n, d=d, seed=seed, column_norm=0.2)
    return xp.asarray(X), xp.asarray(Y)


def paper_problem(n, d, m, xp):
    """The benchmark's data and start: CIFAR-like (X, Y) and PyTorch's default init (W, a), seed 0."""
    X, Y = bench_data(n, d, xp)
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
    X, Y, W, a = paper_problem(n, d, m, xp)
    row = dict(n=n, d=d, m=m)
    t0 = time.perf_counter()
    sp = spectrum(X, Y)
    synchronize(xp)
    row["setup_s"] = time.perf_counter() - t0
    kw = dict(eta=10.0, alpha=1.0, W0=W, a0=a, spectrum=sp, e_hat_every=0, progress=False)
    with_jit = jit_available() and xp is np
    for path, st, on in (
        ("fast", steps_fast, True),
        ("jit", steps_fast, with_jit),
        ("literal", steps_literal, literal),
    ):
        if not on:
            continue
        engine = "literal" if path == "literal" else "spectral"
        pkw = dict(kw, engine=engine, jit=path == "jit")
        train(X, Y, steps=2, **pkw)  # warm-up (BLAS threads, CuPy kernels, the compiled loop)
        reps = 1 if path == "literal" else 3
        fixed = min(_seconds(lambda: train(X, Y, steps=0, **pkw), xp) for _ in range(reps))
        runs = [_seconds(lambda: train(X, Y, steps=st, **pkw), xp, keep=True) for _ in range(reps)]
        wall, tr = min(runs, key=lambda r: r[0])
        row[f"{path}_fixed_s"] = fixed
        row[f"{path}_steps_per_s"] = tr.steps / max(wall - fixed, 1e-9)
        row[f"{path}_stopped"] = tr.stopped
        if hessian and path != "jit":
            row[f"{path}_hessian_s"], row[f"{path}_hessian_iters"] = _hessian_seconds(
                ENGINES[engine], sp, xp.asarray(tr.W_final), xp.asarray(tr.a_final), xp
            )
        if xp is np:
            row[f"{path}_peak_mib"] = _peak_mib(
                lambda: train(
                    X, Y, steps=3, **{**pkw, "spectrum": sp if path == "literal" else spectrum(X, Y)}
                )
            )
    if literal:
        row["ratio"] = row["fast_steps_per_s"] / row["literal_steps_per_s"]
    return row


MEASURED = (
    ("GD only", dict(sharpness_every=0, e_hat_every=0)),
    ("Λ", dict(e_hat_every=0)),
    ("Λ and ‖Ê‖ (train's default)", dict()),
    ("Λ, ‖Ê‖ and the Hessian's λ_max", dict(hessian_every=1)),
)
MEASURED_JIT = (
    ("GD only, jit", dict(sharpness_every=0, e_hat_every=0, jit=True)),
    ("Λ, jit", dict(e_hat_every=0, jit=True)),
    ("Λ and ‖Ê‖, jit", dict(jit=True)),
)


def jit_compile_seconds() -> dict:
    """Seconds the compiled loop's first use takes in a fresh process: compiling it into an empty
    Numba cache (``NUMBA_CACHE_DIR``, a temporary folder), then loading it from that cache in a
    second fresh process."""
    import subprocess
    import tempfile

    code = "from linnet import jit; print(jit.warm_up())"
    out = []
    with tempfile.TemporaryDirectory(prefix="linnet-numba-cache-") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        for _ in range(2):
            res = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            )
            out.append(float(res.stdout.strip().splitlines()[-1]))
    return dict(cold_s=out[0], cached_s=out[1])


def per_step_costs(n, d, m, *, steps, xp, reps=3):
    """Milliseconds per step of the fast engine by what is measured along the run (the η = 10 run
    from torch init): the best of ``reps`` runs each, taken in turn, less a 0-step run's fixed cost."""
    X, Y, W, a = paper_problem(n, d, m, xp)
    sp = spectrum(X, Y)
    measured = MEASURED + (MEASURED_JIT if jit_available() and xp is np else ())
    best = {label: math.inf for label, _ in measured}
    for _ in range(reps):
        for label, extra in measured:
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
    from linnet.linalg.lanczos import lanczos

    X, Y, W0, a0 = paper_problem(n, d, m, np)
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
    return dict(
        steps_per_s=(steps - 1) / wall,
        loss_dev=float(np.max(np.abs(np.array(losses) - ours.loss) / ours.loss)),
        lambda_dev=float(np.max(np.abs(np.array(lams) - ours.sharpness) / ours.sharpness)),
        torch=torch.__version__,
        threads=torch.get_num_threads(),
    )


def torch_eta10_run(xp):
    """The paper-size run of Fig. 1: torch init, η = 10, 1000 steps, set-up included."""
    X, Y = bench_data(1000, 3072, xp)
    t0 = time.perf_counter()
    tr = train(
        X, Y, eta=10.0, steps=1000, m=200, init="torch", alpha=1.0, seed=0, e_hat_every=0, progress=False
    )
    synchronize(xp)
    wall = time.perf_counter() - t0
    from linnet.analysis import upward_crossings

    return dict(
        wall_s=wall,
        max_eta_lambda=float(tr.eta * tr.sharpness.max()),
        crossings=upward_crossings(tr.sharpness, tr.eta).tolist(),
        loss_final=float(tr.loss[-1]),
        stopped=tr.stopped,
    )


# --------------------------------------------------------------------------- the MLP family

MLP_WIDTHS = (3072, 200, 200, 200, 200, 1)
MLP_ETA = 0.5  # stable at paper size: ηΛ rises to ≈ 1.9 (the EoS) by step 20 and stays below 2/η;
# η = 1/λ_max(∇²L(0)) ≈ 3.5 is not: Λ grows 20,000× within 10 steps (progressive sharpening)
# and the loss overflows.


def _mlp_problem(n, d, widths, xp):
    from linnet.families import MLP

    X, Y = make_data("cifar-like", n=n, d=d, seed=0)
    return xp.asarray(X), xp.asarray(Y), MLP(tuple(widths), activation="tanh", init="torch", seed=0)


def _best(fn, xp, reps):
    return min(_seconds(fn, xp) for _ in range(reps))


def _per_call(fn, xp, reps=5):
    """Seconds per call of ``fn``, the best of ``reps`` single calls after one untimed call."""
    fn()
    return _best(fn, xp, reps)


def bench_mlp(
    n=1000,
    d=3072,
    widths=MLP_WIDTHS,
    *,
    eta=MLP_ETA,
    steps=30,
    warmup=3,
    xp=np,
    reps=3,
    torch_steps=None,
    tol=1e-6,
    hessian_tol=1e-8,
):
    """The MLP family (tanh, PyTorch init, float64) at one size: steps/s with Λ every step (‖G_A‖
    on and off; and GD alone), measured over ``steps`` steps that follow ``warmup`` steps (the
    warm-up run's cost, a run of ``warmup`` steps, is subtracted), best of ``reps``; one cold
    Hessian λ_max (WarmLanczos to ``hessian_tol``) and its HVP count; the tracemalloc peak of
    set-up + 3 steps; the time of each part of a step at the state after the warm-up; and, with
    ``torch_steps``, the hand-written PyTorch autograd loop on the same net and data."""
    from linnet.families.mlp import maths as mlp

    X, Y, model = _mlp_problem(n, d, widths, xp)
    widths = tuple(int(w) for w in model.widths)
    row = dict(
        n=n,
        d=d,
        widths=list(widths),
        activation="tanh",
        init="torch",
        dtype="float64",
        eta=eta,
        steps=steps,
        warmup=warmup,
        reps=reps,
        cpus=os.cpu_count(),
        loadavg_start=list(os.getloadavg()),
    )
    t0 = time.perf_counter()
    sp = spectrum(X, Y)
    synchronize(xp)
    row["setup_s"] = time.perf_counter() - t0
    base = dict(
        eta=eta,
        model=model,
        spectrum=sp,
        sharpness_every=1,
        sharpness_tol=tol,
        hessian_every=0,
        progress=False,
    )
    train(X, Y, steps=warmup, **base)  # warm-up (BLAS threads, page faults)
    runs = {}
    for key, extra in (
        ("gd", dict(sharpness_every=0, ga_every=0)),
        ("lambda", dict(ga_every=0)),
        ("lambda_ga", dict(ga_every=1)),
    ):
        kw = {**base, **extra}
        fixed = _best(lambda: train(X, Y, steps=warmup, **kw), xp, reps)
        wall, tr = min(
            (_seconds(lambda: train(X, Y, steps=warmup + steps, **kw), xp, keep=True) for _ in range(reps)),
            key=lambda r: r[0],
        )
        row[f"{key}_steps_per_s"] = steps / max(wall - fixed, 1e-9)
        row[f"{key}_stopped"] = tr.stopped
        runs[key] = tr
    tr = runs["lambda_ga"]
    row["sharpness_products_per_step"] = tr.config["sharpness_products"] / tr.loss.shape[0]
    row["gram"] = tr.config["gram"]
    row["eta_lambda_max"] = float(eta * np.max(tr.sharpness))
    row["loss_first_last"] = [float(tr.loss[0]), float(tr.loss[-1])]
    row["lambda_ga_same_as_lambda"] = bool(np.array_equal(tr.sharpness, runs["lambda"].sharpness))

    # One engine at the state after the warm-up: the Hessian, and the parts of a step.
    eng = model.build(X, Y, spectrum=sp, dtype=np.dtype("float64"), xp=xp, top_k=5).engine
    for _ in range(warmup):
        eng.step(eta, eng.observe())
    obs = eng.observe()
    mv, dim = eng.hessian_matvec(obs)
    eig = WarmLanczos(xp, eng.dtype, dim, "LA", hessian_tol, 400, 3)
    row["hessian_s"], (lam_h, _, _) = _seconds(lambda: eig(mv), xp, keep=True)
    row["hessian_hvps"], row["hessian_lambda"], row["hessian_params"] = eig.iterations, float(lam_h), dim
    v = xp.asarray(np.random.default_rng(0).standard_normal(n))
    w = xp.asarray(np.random.default_rng(0).standard_normal(dim))
    Gmv = eng.gram_matvec(obs)
    parts = {
        "forward+backward": lambda: eng.observe(),
        "gradients+update": lambda: mlp.gradients(obs.fwd, obs.B, obs.D),
        "dense G (n×n)": lambda: mlp.gram(obs.fwd, obs.B, K0=eng.K0),
        "one G product (as the tracker's)": lambda: Gmv(v),
        "one matrix-free J(Jᵀv)/n": lambda: mlp.gram_matvec(obs.fwd, obs.B)(v),
        "‖G_A‖ (h×h eigvalsh)": lambda: mlp.ga_norm(obs.fwd),
        "one HVP": lambda: mv(w),
    }
    row["parts_ms"] = {k: 1e3 * _per_call(f, xp) for k, f in parts.items()}
    row["parts_ms"]["tracker products per step"] = (
        row["parts_ms"]["one G product (as the tracker's)"] * row["sharpness_products_per_step"]
    )
    row["hessian_hvp_share"] = row["hessian_hvps"] * row["parts_ms"]["one HVP"] / 1e3 / row["hessian_s"]
    if xp is np:
        row["peak_mib"] = _peak_mib(lambda: train(X, Y, steps=3, **{**base, "spectrum": spectrum(X, Y)}))
    if torch_steps:
        auto = mlp_autograd_baseline(n, d, widths, eta=eta, steps=torch_steps, warmup=warmup, tol=tol)
        row["torch"] = auto
        row["torch_ratio"] = row["lambda_ga_steps_per_s"] / auto["steps_per_s"]
    row["loadavg_end"] = list(os.getloadavg())
    row["targets"] = dict(
        steps_per_s_ge_20=row["lambda_ga_steps_per_s"] >= 20,
        hessian_le_1s=row["hessian_s"] <= 1.0,
        torch_ratio_ge_20=None if not torch_steps else row["torch_ratio"] >= 20,
    )
    return row


def mlp_autograd_baseline(n, d, widths, *, eta, steps, warmup=1, tol=1e-6):
    """A hand-written PyTorch loop for the MLP (float64, the full d-dimensional first layer, one
    thread per core): the GD step by autograd, Λ = λ_max(G) every step by Lanczos warm-started
    from the previous eigenvector on G v = J(Jᵀv)/n (``torch.func.vjp`` then ``jvp``), to relative
    residual ``tol``. Times the ``steps`` steps after ``warmup``; returns steps/s and the largest
    relative deviation of its loss and Λ from linnet's run over all its steps."""
    try:
        import torch
        from torch.func import jvp, vjp
    except ImportError as exc:
        raise SystemExit("--torch needs PyTorch: pip install torch (it is not a linnet dependency)") from exc
    from linnet.families.mlp.maths import init_weights
    from linnet.linalg.lanczos import lanczos

    torch.set_num_threads(os.cpu_count() or 1)
    X, Y, model = _mlp_problem(n, d, widths, np)
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    Ws = [torch.from_numpy(w.copy()).requires_grad_() for w in init_weights(widths, init="torch", seed=0)]

    def f(*Ws_):
        H = Xt
        for W in Ws_[:-1]:
            H = torch.tanh(W @ H)
        return (Ws_[-1] @ H)[0]

    losses, lams, u = [], [], None
    for t in range(warmup + steps):
        if t == warmup:
            t0 = time.perf_counter()
        out = f(*Ws)
        loss = ((out - Yt) ** 2).sum() / (2 * n)
        grads = torch.autograd.grad(loss, Ws)
        Wd = tuple(W.detach() for W in Ws)
        _, pull = vjp(f, *Wd)

        def matvec(v):
            return jvp(f, Wd, pull(torch.from_numpy(v)))[1].numpy() / n

        res = lanczos(matvec, n=n, v0=u, tol=tol, maxiter=300)
        u = res.vector
        losses.append(float(loss.detach()))
        lams.append(res.value)
        with torch.no_grad():
            for W, g in zip(Ws, grads, strict=True):
                W -= eta * g
    wall = time.perf_counter() - t0
    ours = train(
        X, Y, eta=eta, steps=warmup + steps - 1, model=model, sharpness_tol=tol, ga_every=0, progress=False
    )
    return dict(
        steps_per_s=steps / wall,
        steps=steps,
        warmup=warmup,
        loss_dev=float(np.max(np.abs(np.array(losses) - ours.loss) / ours.loss)),
        lambda_dev=float(np.max(np.abs(np.array(lams) - ours.sharpness) / ours.sharpness)),
        torch=torch.__version__,
        threads=torch.get_num_threads(),
    )


def print_mlp(r):
    w = "-".join(str(h) for h in r["widths"])
    print(
        f"\nMLP family (linnet.MLP {w}, tanh, torch init, float64, gram={r['gram']}, eta={r['eta']:g}; "
        f"{r['steps']} steps after {r['warmup']} warm-up steps, best of {r['reps']}; "
        f"max eta*Lambda {r['eta_lambda_max']:.3f}, loss {r['loss_first_last'][0]:.3g} -> "
        f"{r['loss_first_last'][1]:.3g}):"
    )
    hdr = (
        f"{'n':>6} {'d':>6} | {'setup s':>8} | {'GD st/s':>8} {'Λ st/s':>8} {'Λ+GA st/s':>9} | "
        f"{'H λmax s':>8} {'HVPs':>5} | {'peak MiB':>8} | {'torch st/s':>10} {'ratio':>6}"
    )
    print(hdr + "\n" + "-" * len(hdr))
    t = r.get("torch")
    print(
        f"{r['n']:6d} {r['d']:6d} | {r['setup_s']:8.2f} | {r['gd_steps_per_s']:8.2f} "
        f"{r['lambda_steps_per_s']:8.2f} {r['lambda_ga_steps_per_s']:9.2f} | {r['hessian_s']:8.3f} "
        f"{r['hessian_hvps']:5d} | {_fmt(r.get('peak_mib'), '8.0f')} | "
        f"{_fmt(None if t is None else t['steps_per_s'], '10.3f')} {_fmt(r.get('torch_ratio'), '6.1f')}"
    )
    print(
        f"  Λ tracker: {r['sharpness_products_per_step']:.2f} G products per step; Hessian λ_max "
        f"{r['hessian_lambda']:.6g} over {r['hessian_params']} parameters, "
        f"HVPs {100 * r['hessian_hvp_share']:.0f}% of its time"
    )
    if t is not None:
        print(
            f"  PyTorch {t['torch']} autograd loop ({t['threads']} threads, {t['steps']} steps after "
            f"{t['warmup']}): loss and Lambda agree with linnet's to {t['loss_dev']:.1e} and "
            f"{t['lambda_dev']:.1e}"
        )
    print(
        f"  machine: {r['cpus']} CPUs, 1-min load average {r['loadavg_start'][0]:.2f} at the start, "
        f"{r['loadavg_end'][0]:.2f} at the end (figures above 1 load per CPU are contended)"
    )
    print("  ms per call at the state after the warm-up (best of 5):")
    for k, ms in r["parts_ms"].items():
        print(f"    {k:36s} {ms:8.2f}")
    tg = r["targets"]

    def met(b):
        return "not measured" if b is None else ("met" if b else "NOT met")

    print(
        f"  targets: >= 20 steps/s with Lambda (and ‖G_A‖) every step: {met(tg['steps_per_s_ge_20'])}; "
        f">= 20x the autograd loop: {met(tg['torch_ratio_ge_20'])}; Hessian lambda_max <= 1 s: "
        f"{met(tg['hessian_le_1s'])}"
    )


def _fmt(v, spec):
    return "-" if v is None else format(v, spec)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument(
        "--quick",
        action="store_true",
        help="only the paper size, a short d sweep and the costs per "
        "step; the MLP section once instead of the best of 3",
    )
    p.add_argument("--backend", choices=("numpy", "cupy"), default="numpy")
    p.add_argument("--json", help="also write the numbers to this file")
    p.add_argument(
        "--torch",
        action="store_true",
        help="also time a hand-rolled PyTorch autograd loop at paper size (needs torch)",
    )
    p.add_argument(
        "--mlp-only", action="store_true", help="only the MLP family's section (linnet.MLP at paper size)"
    )
    p.add_argument(
        "--batch",
        action="store_true",
        help="also the batched engine and batched sweeps (benchmarks.bench_batch)",
    )
    p.add_argument("--batch-only", action="store_true", help="only the batched engine and sweeps section")
    args = p.parse_args(argv)
    if args.batch_only:
        return _batch_section(args)
    xp = namespace(backend=args.backend)
    print("measuring the MLP family at paper size ...", file=sys.stderr, flush=True)
    mlp_row = bench_mlp(xp=xp, reps=1 if args.quick else 3, torch_steps=10 if args.torch else None)
    if args.mlp_only:
        print(
            f"\nlinnet bench — backend {args.backend}, {platform.processor() or platform.machine()}, "
            f"Python {platform.python_version()}, NumPy {np.__version__}"
        )
        print_mlp(mlp_row)
        if args.json:
            with open(args.json, "w") as fh:
                json.dump(dict(mlp=mlp_row, backend=args.backend), fh, indent=1)
        return 0
    sizes = (
        [(1000, 3072, 200, True)]
        if args.quick
        else [(1000, 3072, 200, True), (5000, 3072, 200, True), (50000, 3072, 200, True)]
    )
    run = torch_eta10_run(xp)  # first, as a fresh script would run it
    rows = []
    for n, d, m, lit in sizes:
        print(f"measuring n={n} d={d} m={m} ...", file=sys.stderr, flush=True)
        rows.append(
            bench_size(
                n,
                d,
                m,
                steps_fast=500 if n <= 5000 else 300,
                steps_literal=20 if n <= 1000 else 3,
                xp=xp,
                literal=lit,
            )
        )
    sweep = []
    for d in (768, 3072) if args.quick else (768, 3072, 12288):
        print(f"measuring d sweep d={d} ...", file=sys.stderr, flush=True)
        sweep.append(
            bench_size(1000, d, 200, steps_fast=500, steps_literal=0, xp=xp, literal=False, hessian=False)
        )
    print("measuring the cost per step by what is measured ...", file=sys.stderr, flush=True)
    costs = per_step_costs(1000, 3072, 200, steps=1000, xp=xp)
    compile_s = None
    if jit_available() and xp is np:
        print("measuring the compiled loop's compile time ...", file=sys.stderr, flush=True)
        compile_s = jit_compile_seconds()
    auto = None
    if args.torch:
        print("measuring the PyTorch autograd baseline ...", file=sys.stderr, flush=True)
        auto = autograd_baseline(1000, 3072, 200, steps=10)

    dev = platform.processor() or platform.machine()
    print(
        f"\nlinnet bench — backend {args.backend}, {dev}, Python {platform.python_version()}, "
        f"NumPy {np.__version__}"
    )
    print(
        "Λ every step (eigen-tracker, rel. residual 1e-6); steps/s without a run's fixed start/finish; "
        "Hessian λ_max cold Lanczos to 1e-8; peak = tracemalloc peak of set-up + 3 steps (NumPy only)\n"
    )
    hdr = (
        f"{'n':>6} {'d':>6} {'m':>4} | {'setup s':>8} {'fixed s':>8} | "
        f"{'fast st/s':>9} {'jit st/s':>9} {'lit st/s':>9} {'ratio':>7} | "
        f"{'fast H s':>8} {'lit H s':>8} | {'fast MiB':>8} {'lit MiB':>8}"
    )
    print(hdr + "\n" + "-" * len(hdr))
    for r in rows:
        print(
            f"{r['n']:6d} {r['d']:6d} {r['m']:4d} | {r['setup_s']:8.2f} {r['fast_fixed_s']:8.3f} | "
            f"{r['fast_steps_per_s']:9.0f} {_fmt(r.get('jit_steps_per_s'), '9.0f')} "
            f"{_fmt(r.get('literal_steps_per_s'), '9.2f')} "
            f"{_fmt(r.get('ratio'), '7.0f')} | {_fmt(r.get('fast_hessian_s'), '8.3f')} "
            f"{_fmt(r.get('literal_hessian_s'), '8.2f')} | {_fmt(r.get('fast_peak_mib'), '8.0f')} "
            f"{_fmt(r.get('literal_peak_mib'), '8.0f')}"
        )
    print("\nper-step cost against d (n=1000, m=200, fast engine):")
    for r in sweep:
        print(
            f"  d={r['d']:6d}: setup {r['setup_s']:6.2f} s, fixed {r['fast_fixed_s']:6.3f} s per run, "
            f"{r['fast_steps_per_s']:6.0f} steps/s"
        )
    print(
        "\nms per step of the fast engine at paper size by what is measured every step "
        "(1000 steps of the run below, best of 3):"
    )
    for label, ms in costs.items():
        print(f"  {label:38s} {ms:6.3f}")
    print(
        f"\n1000-step paper-size run (torch init, alpha=1, eta=10), set-up included: "
        f"{run['wall_s']:.2f} s; max eta*Lambda {run['max_eta_lambda']:.3f}; "
        f"crossings of 2/eta at steps {run['crossings']}; final loss {run['loss_final']:.3g}"
        + (f"; STOPPED {run['stopped']}" if run["stopped"] else "")
    )
    if compile_s is not None:
        print(
            f"\ncompiled loop (train(jit=True), Numba): first use in a fresh process "
            f"{compile_s['cold_s']:.1f} s with an empty cache (compiling), {compile_s['cached_s']:.2f} s "
            "from the on-disk cache"
        )
    if auto is not None:
        fast = rows[0]["fast_steps_per_s"]
        jit_rate = rows[0].get("jit_steps_per_s")
        print(
            f"\nPyTorch {auto['torch']} autograd loop at paper size ({auto['threads']} threads; "
            f"G products by vjp+jvp, warm-started Lanczos, steps 2-10): {auto['steps_per_s']:.2f} steps/s; "
            f"fast engine {fast / auto['steps_per_s']:.0f}x faster"
            + (f", jit {jit_rate / auto['steps_per_s']:.0f}x" if jit_rate else "")
            + f"; its loss and Lambda agree with linnet's to {auto['loss_dev']:.1e} and "
            f"{auto['lambda_dev']:.1e}"
        )
    print_mlp(mlp_row)
    if args.batch:
        _batch_section(args, json_path=None)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(
                dict(
                    rows=rows,
                    d_sweep=sweep,
                    per_step_ms=costs,
                    torch_eta10=run,
                    autograd=auto,
                    mlp=mlp_row,
                    backend=args.backend,
                    jit_compile=compile_s,
                ),
                fh,
                indent=1,
            )
    return 0


def _batch_section(args, json_path="same"):
    from benchmarks.bench_batch import report

    text, numbers = report(quick=args.quick)
    print(text)
    if args.json and json_path == "same":
        with open(args.json, "w") as fh:
            json.dump(numbers, fh, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
