"""``python -m linnet``: a demo run that prints a trajectory's summary (``--help`` for options);
``python -m linnet sweep CONFIG.toml`` a sweep. (The benchmarks are not part of the package: a
source checkout runs them with ``python -m benchmarks``.)"""

from __future__ import annotations

import argparse
import sys
import time

from .data import KINDS, make_data
from .families import LinearNet
from .families.linear2.init import SCHEMES
from .train import eta_from_lambda0, initial_sharpness, train


def demo(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m linnet",
        description="Run GD on the linear net from an init with ηΛ(0) set, "
        "and print how sharpness and loss evolved.",
    )
    p.add_argument("--data", choices=KINDS, default="cifar-like")
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--d", type=int, default=3072)
    p.add_argument("--m", type=int, default=100)
    p.add_argument("--init", choices=SCHEMES, default="symmetric")
    p.add_argument("--scale", type=float, default=0.5)
    p.add_argument("--alpha", type=float, default=None, help="default 1/sqrt(m)")
    p.add_argument("--eta-lambda0", type=float, default=1.8, help="step size as η·Λ(0)")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backend", choices=("numpy", "cupy"), default="numpy")
    p.add_argument("--save", help="write the trajectory to this .npz")
    p.add_argument("--jit", action="store_true", help="the compiled loop (train(jit=True), needs Numba)")
    args = p.parse_args(argv)
    X, Y = make_data(args.data, n=args.n, d=args.d, seed=args.seed)
    if args.backend == "cupy":
        import cupy

        X, Y = cupy.asarray(X), cupy.asarray(Y)
    start = LinearNet(m=args.m, init=args.init, scale=args.scale, seed=args.seed, alpha=args.alpha)
    eta = eta_from_lambda0(args.eta_lambda0, initial_sharpness(start, X, Y))  # Λ(0) outside the timing
    t0 = time.perf_counter()
    traj = train(
        X,
        Y,
        eta=eta,
        steps=args.steps,
        m=args.m,
        init=args.init,
        scale=args.scale,
        seed=args.seed,
        alpha=args.alpha,
        jit=args.jit,
    )
    wall = time.perf_counter() - t0
    print(traj.summary())
    print(f"wall time {wall:.2f}s ({traj.steps / wall:.0f} steps/s, Λ and ‖Ê‖ every step)")
    every = max(1, traj.steps // 20)
    print(f"\n{'step':>6} {'loss':>11} {'eta*Lambda':>10} {'eta*Lt':>8} {'|a|^2':>9} {'<F,D>':>11}")
    for t in range(0, traj.steps + 1, every):
        print(
            f"{t:6d} {traj.loss[t]:11.4e} {eta * traj.sharpness[t]:10.4f} "
            f"{eta * traj.lambda_tilde[t]:8.4f} {traj.a_norm2[t]:9.4f} {traj.fd[t]:11.3e}"
        )
    if args.save:
        traj.save(args.save)
        print(f"saved {args.save}")
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "sweep":
        from .sweeps import main as sweep_main

        return sweep_main(argv[1:])
    if argv and argv[0] == "demo":
        argv = argv[1:]
    return demo(argv)


if __name__ == "__main__":
    sys.exit(main())
