"""``python -m benchmarks.bench_precision``: the deep nets in float32 against float64, at paper size.

The suite's fully connected nets (App. A.2: 3072-200-200-200-200-1, PyTorch's init, the built-in
images at pixel scale) from the same start, once per precision, in this process: milliseconds per
step with Λ every step (‖G_A‖ off; the data's one-off decomposition excluded), and how far the
float32 Λ is from the float64 one — at step 0 (the same weights, rounded: the evaluation's own
error) and over the first ``steps`` steps (that plus the two runs drifting apart) — next to the
tracker's float32 stopping rule, relative residual 100ε ≈ 1.2e-5.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

import linnet
from linnet.analysis import first_above
from validation import data as vdata

PIXEL_SCALE = 0.5  # the suite's: samples of norm 0.5·√d (CIFAR's [0, 1] pixels: RMS ≈ 0.5)
C = dict(tanh=0.125, relu=0.015625, elu=0.125)  # the suite's choice of c at seed 0 (fc_nets.FULL)


def compare(activation: str, steps: int, *, n=1000, d=3072, width=200, hidden=4) -> dict:
    ds = vdata.synthetic("cifar-like", n=n, d=d, seed=0, column_norm=PIXEL_SCALE * np.sqrt(d))
    X, Y = ds.X, ds.Y
    sp = linnet.spectrum(X, Y)
    model = linnet.MLP((d,) + (width,) * hidden + (1,), activation=activation, init="torch", seed=0)
    lam0 = float(linnet.train(X, Y, eta=1.0, steps=0, model=model, spectrum=sp, progress=False).sharpness[0])
    eta = C[activation] / lam0
    out: dict = dict(activation=activation, steps=steps, eta_lambda0=C[activation])
    runs = {}
    for dtype in ("float64", "float32"):
        kw = dict(eta=eta, model=model, spectrum=sp, dtype=dtype, ga_every=0, progress=False)
        t0 = time.perf_counter()
        linnet.train(X, Y, steps=0, **kw)
        fixed = time.perf_counter() - t0
        t0 = time.perf_counter()
        runs[dtype] = linnet.train(X, Y, steps=steps, **kw)
        out[f"ms_per_step_{dtype}"] = 1e3 * (time.perf_counter() - t0 - fixed) / steps
    a, b = runs["float64"].sharpness, runs["float32"].sharpness
    rel = np.abs(b - a) / a
    first = first_above(a, eta)
    ps = slice(0, max(1, min(first, len(a))))
    out.update(
        rel_error_step0=float(rel[0]),
        rel_error_max_ps=float(rel[ps].max()),
        ps_steps=int(ps.stop),
        rel_error_max=float(rel.max()),
        max_eta_lambda_float64=float(eta * a.max()),
        max_eta_lambda_float32=float(eta * b.max()),
        loss_rel_diff_end=float(
            abs(runs["float32"].loss[-1] - runs["float64"].loss[-1]) / runs["float64"].loss[-1]
        ),
    )
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_precision", description=__doc__)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--activations", default="tanh,relu,elu")
    args = p.parse_args(argv)
    load0 = os.getloadavg()[0]
    rows = [compare(a, args.steps) for a in args.activations.split(",")]
    print(
        f"deep nets, float32 against float64 — {platform.machine()}, {os.cpu_count()} CPUs, NumPy "
        f"{np.__version__}; 1-min load {load0:.2f} at the start, {os.getloadavg()[0]:.2f} at the end"
    )
    print(
        f"  {'act':5} {'steps':>5} {'f64 ms':>7} {'f32 ms':>7} {'ratio':>5} | {'ΔΛ/Λ step 0':>11} "
        f"{'max over PS':>11} {'PS':>4} {'max all':>8} | {'max ηΛ f64':>10} {'f32':>6} {'Δloss end':>9}"
    )
    for r in rows:
        f64, f32 = r["ms_per_step_float64"], r["ms_per_step_float32"]
        print(
            f"  {r['activation']:5} {r['steps']:5d} {f64:7.1f} {f32:7.1f} {f64 / f32:5.2f} | "
            f"{r['rel_error_step0']:11.1e} {r['rel_error_max_ps']:11.1e} {r['ps_steps']:4d} "
            f"{r['rel_error_max']:8.1e} | {r['max_eta_lambda_float64']:10.3f} "
            f"{r['max_eta_lambda_float32']:6.3f} {r['loss_rel_diff_end']:9.1e}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
