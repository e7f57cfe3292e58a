"""``python -m validation`` (or ``linnet-validate``): run the paper's experiments and write a report."""

from __future__ import annotations

import argparse
import os
import sys
import time

from . import data as vdata
from .experiments import Context
from .registry import EXPERIMENTS, QUICK_SKIP
from .report import write
from .resume import ResumeState
from .scorecard import facts_of, score

# The full suite judges every claim again on this many seeds in all (the extra ones at the quick
# sizes, to keep the time budget); --quick on its main seed only. --seeds N overrides both.
FULL_SEEDS, QUICK_SEEDS = 3, 1


def run(
    out="report",
    *,
    quick=False,
    only=None,
    seed=0,
    seeds=None,
    backend="numpy",
    data=None,
    progress=True,
    trajectories=True,
    fresh=False,
):
    """Run the suite; returns (results, failures). ``seeds``: judge each claim on seeds ``seed`` …
    ``seed + seeds − 1`` (the extra ones at the quick sizes; default FULL_SEEDS, or QUICK_SEEDS with
    ``quick``). Each finished experiment is kept under ``out/.state`` and a rerun with the same
    settings and code resumes from there (``fresh``: start again)."""
    loader = vdata.parse_data_arg(data)
    if loader is not None:
        # fail here, naming the path and the fix, not inside an experiment: the suite takes the
        # first 100 (quick) or 500 (full, App. A.1) images of each of classes 0 and 1
        loader(per_class=100 if quick else 500)
    names = list(EXPERIMENTS) if not only else only
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown:
        raise ValueError(f"--only {unknown}: unknown; choose from {list(EXPERIMENTS)}")
    if quick and not only:
        names = [n for n in names if n not in QUICK_SKIP]
    seeds = (QUICK_SEEDS if quick else FULL_SEEDS) if seeds is None else seeds
    if seeds < 1:
        raise ValueError(f"--seeds {seeds}: give at least 1")
    os.makedirs(out, exist_ok=True)
    say = (lambda s: print(s, file=sys.stderr, flush=True)) if progress else (lambda s: None)
    t_all = time.perf_counter()
    plan = [(seed, quick, out, trajectories)] + [
        (s, True, os.path.join(out, "seeds", f"seed{s}"), False) for s in range(seed + 1, seed + seeds)
    ]
    cards, results = {}, []
    for k, (s, q, folder, keep) in enumerate(plan):
        os.makedirs(folder, exist_ok=True)
        # the full suite's extra seeds: the deep FC nets at the paper's size (seconds a run), the
        # rest at the quick sizes
        deep_full = k > 0 and not quick
        ctx = Context(
            folder,
            quick=q,
            seed=s,
            backend=backend,
            loader=loader,
            progress=say,
            save_trajectories=keep,
            deep_nets_full=deep_full,
        )
        todo = names if k == 0 else [n for n in names if n not in QUICK_SKIP]
        tag = f"seed {s}" + ("" if k == 0 else ", quick sizes" + (" (deep nets at paper size)" * deep_full))
        settings = dict(
            mode="quick" if q else "full",
            seed=s,
            backend=backend,
            data=data or "",
            trajectories=keep,
            deep_nets_full=deep_full,
        )
        state = ResumeState(out, settings, fresh=fresh)
        res = _run_all(ctx, todo, say, state, tag)
        if k == 0:
            results = res
        else:
            cards[s] = score(facts_of(res))
    header = dict(
        mode="quick" if quick else "full",
        seconds=time.perf_counter() - t_all,
        seed=seed,
        seeds=[s for s, *_ in plan],
        extra_seeds_at=(
            None
            if seeds == 1
            else "quick sizes"
            if quick
            else "quick sizes, the deep FC nets at the paper's size"
        ),
        backend=backend,
        data=data or "built-in photographs (32×32 patches of scikit-image's sample photographs)",
    )
    failures = write(out, results, header=header, extra_cards=cards)
    return results, failures


def _run_all(ctx, names, say, state, tag):
    results = []
    for i, name in enumerate(names, 1):
        res = state.load(name)
        if res is not None:
            say(f"[{tag}] [{i}/{len(names)}] {name}: finished earlier, resumed from {state.folder}")
            results.append(res)
            continue
        say(f"[{tag}] [{i}/{len(names)}] {name} ...")
        t0 = time.perf_counter()
        res = EXPERIMENTS[name](ctx)
        res.seconds = time.perf_counter() - t0
        if ctx.quick and not res.reduced and not res.config.get("paper_size"):
            res.reduced = "quick sizes"
        state.save(name, res)
        results.append(res)
        bad = res.failures()
        say(
            f"[{tag}] [{i}/{len(names)}] {name} done in {res.seconds:.1f}s"
            + (f"  FAILED: {[c.name for _, c in bad]}" if bad else "")
        )
    return results


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m validation", description=__doc__)
    p.add_argument(
        "--quick",
        action="store_true",
        help="small sizes, about 30 s on 2 cores (the SymPy identities are left out)",
    )
    p.add_argument("--only", nargs="+", metavar="NAME", help=f"run only these: {', '.join(EXPERIMENTS)}")
    p.add_argument("--out", default="report", help="output folder (default: report/)")
    p.add_argument("--backend", choices=("numpy", "cupy"), default="numpy")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--seeds",
        type=int,
        metavar="N",
        help=f"judge every claim on N seeds, the extra ones at the quick sizes (default "
        f"{FULL_SEEDS}; {QUICK_SEEDS} with --quick)",
    )
    p.add_argument(
        "--data",
        help="cifar10:PATH or mnist:PATH, with --model also npz:FILE (X samples "
        "first, Y) (default: the built-in photographs, 32×32 patches of scikit-image's "
        "sample photographs)",
    )
    own = p.add_argument_group("check your own model (§3 of the paper on one run; see README)")
    own.add_argument(
        "--model",
        metavar="MODULE:FUNCTION",
        help="FUNCTION() returns an nn.Module with one output and a linear last layer "
        "(MODULE importable from here or PYTHONPATH); or mlp:3072,200,200,1:tanh",
    )
    own.add_argument(
        "--eta-lambda0",
        type=float,
        metavar="C",
        help="η = C/Λ(0) (default: the first of 0.5, 0.25, …, 1/64 giving ≥ 100 steps of PS)",
    )
    own.add_argument("--steps", type=int, help="most GD steps (default 3000)")
    own.add_argument("--n", type=int, help="samples of the built-in data (default 1000, the paper's)")
    own.add_argument("--hessian-every", type=int, help="λ_max(∇²L) every k steps (default 20; 0: never)")
    p.add_argument(
        "--fresh",
        action="store_true",
        help="ignore what a previous run left in --out (finished "
        "experiments, a --model checkpoint) and start again",
    )
    p.add_argument(
        "--no-trajectories",
        action="store_true",
        help="do not save the runs' trajectories (.npz with their data; ~420 MB for the full suite)",
    )
    args = p.parse_args(argv)
    if args.model is not None:
        from .own_model import main_model

        return main_model(args)
    own_only = [
        f"--{k.replace('_', '-')}"
        for k in ("eta_lambda0", "steps", "n", "hessian_every")
        if getattr(args, k) is not None
    ]
    if own_only:
        p.error(f"{', '.join(own_only)} go with --model")
    try:
        results, failures = run(
            args.out,
            quick=args.quick,
            only=args.only,
            seed=args.seed,
            seeds=args.seeds,
            fresh=args.fresh,
            backend=args.backend,
            data=args.data,
            trajectories=not args.no_trajectories,
        )
    except (vdata.DataError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"wrote {os.path.join(args.out, 'index.html')} and index.md "
        f"({len(results)} experiments; {'no' if not failures else len(failures)} "
        "failed identities/inequalities)"
    )
    for exp, table, check in failures:
        print(f"FAILED: {exp} / {table} / {check}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
