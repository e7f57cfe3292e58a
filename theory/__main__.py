"""``python -m theory identities`` | ``python -m theory check TRAJECTORY.npz`` |
``python -m theory sweep CONFIG.toml [sweep options]`` (a linnet sweep with the theory checks per run)."""
from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "sweep":
        # linnet's sweep CLI, with this package's checks as the per-run hook unless --checker is given
        from linnet.sweeps import main as sweep_main
        return sweep_main(argv[1:], prog="python -m theory sweep",
                          default_checker="theory.checks:sweep_checker")
    p = argparse.ArgumentParser(prog="python -m theory")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("identities", help="verify I1–I12 and the flow equations with SymPy")
    sub.add_parser("sweep", help="python -m linnet sweep with the theory checks on every run "
                                 "(options: python -m theory sweep --help)")
    c = sub.add_parser("check", help="run every check on a saved trajectory")
    c.add_argument("trajectory", help=".npz written by Trajectory.save(path, data=(X, Y))")
    c.add_argument("--no-flow", action="store_true", help="skip the gradient-flow integration (A3.3)")
    c.add_argument("--markdown", action="store_true")
    c.add_argument("--model", metavar="MODULE:FUNCTION",
                   help="a PyTorch trajectory's module (FUNCTION() returns it; its start is read "
                        "from the file)")
    args = p.parse_args(argv)
    if args.cmd == "identities":
        from .identities import verify
        results = verify()
        width = max(len(r.name) for r in results)
        for r in results:
            print(f"{r.name:<{width}}  {'verified' if r.verified else 'FAILED':8}  "
                  f"({r.seconds:5.1f}s, sizes d,n,m = {', '.join(map(str, r.sizes))})  {r.statement}")
        return 0 if all(r.verified for r in results) else 1
    import linnet

    from .checks import check_all
    try:
        traj = linnet.load_trajectory(args.trajectory)
    except (OSError, ValueError) as exc:
        print(f"cannot read {args.trajectory}: {exc}", file=sys.stderr)
        return 2
    try:
        model = None
        if args.model is not None:
            from linnet.torch import TorchModel

            from .models import at_start, module_from
            model = TorchModel(at_start(module_from(args.model), traj))
        table = check_all(traj, flow=not args.no_flow, model=model)
    except ValueError as exc:
        print(f"{args.trajectory}: {exc}", file=sys.stderr)
        return 2
    print(table.markdown() if args.markdown else table.format())
    return 1 if table.failures() else 0


if __name__ == "__main__":
    sys.exit(main())
