"""``python -m validation.readme REPORT_DIR > docs/findings.md``: the documentation's findings page
("What the suite found"), from a report's summary.json, so that its tables are those of a real run,
never typed by hand."""

from __future__ import annotations

import json
import os
import sys

from .report import DATA_NOTE, fmt, scorecard_md


def robust_differs(card) -> list[str]:
    """The findings paragraph: the reproduction rows that say "differs" on every seed judged (at
    least two), each with its number, its rule and its reason — disagreements with the paper that
    do not hang on the seed."""
    rows = []
    for e in card:
        k, _, n = str(e["seeds"]).partition("/")
        if e["kind"] == "reproduction" and e["verdict"] == "differs" and n and k == n and int(n) >= 2:
            rows.append(e)
    if not rows:
        return ['**Robust disagreements with the paper** ("differs" on every seed): none.', ""]
    out = [f'**Robust disagreements with the paper** ("differs" on every seed judged): {len(rows)}.', ""]
    for e in rows:
        out.append(
            f"- {e['claim']} ({e.get('network') or '—'}; {e['seeds']} seeds): {fmt(e['number'])} against "
            f'"{e["threshold"]}" — {e["reason"]}'
        )
    return out + [""]


def section(report_dir, *, machine="this 2-core machine") -> str:
    with open(os.path.join(report_dir, "summary.json")) as fh:
        s = json.load(fh)
    h, exps, card = s["header"], s["experiments"], s["scorecard"]
    out = [
        f"## What the suite found ({h['mode']} run, seed {h['seed']}, {h['seconds']:.0f} s on {machine})",
        "",
        "The scorecard, as the report prints it first. Each verdict comes from a rule in "
        "`validation/experiments/` (the §3 claims from `validation/section3.py`) applied to the number "
        f"shown. Data: {h['data']}. {DATA_NOTE}",
        "",
        *robust_differs(card),
        *scorecard_md(card, anchors=False),
    ]
    seeds = h.get("seeds") or [h["seed"]]
    if len(seeds) > 1:
        flips = [e for e in card if "FLIPS across seeds" in e["reason"]]
        partial = [e for e in card if "other seeds: " in e["reason"]]
        out += [
            f"**Across seeds.** Every claim was judged on seeds {', '.join(map(str, seeds))} (seed "
            f"{seeds[0]} at the full size, the others at the {h.get('extra_seeds_at') or 'same sizes'}); "
            "the *seeds* column counts the seeds that gave the verdict shown. "
            + (
                "Rows whose verdict flips with the seed: "
                + "; ".join(
                    f"{e['claim']} ({e['seeds']}: {e['reason'].split('FLIPS across seeds: ')[-1]})"
                    for e in flips
                )
                + "."
                if flips
                else "No verdict flips (no two seeds in a claim's regime disagree)."
            )
            + (
                " Rows where another seed's run was outside the claim's regime (not comparable), which "
                "says nothing either way: "
                + "; ".join(f"{e['claim']} ({e['reason'].split('other seeds: ')[-1]})" for e in partial)
                + "."
                if partial
                else ""
            ),
            "",
        ]
    out += ["| experiment | key numbers | time |", "|---|---|---|"]
    for name, e in exps.items():
        met = e["metrics"].get("headline") or e["metrics"]  # the network experiments' own summary
        flat = [(k, v) for k, v in met.items() if not isinstance(v, (dict, list))]
        key = ", ".join(f"{k}={fmt(v)}" for k, v in flat[:5])
        out.append(f"| {name} | {key} | {e['seconds']:.1f} s |")
    ps = exps.get("ps_eos")
    if ps:
        m, c = ps["metrics"], ps["config"]
        title, rows = next(iter(ps["checks"].items()))
        out += [
            "",
            f"The Fig. 1 run: {m['steps']:,} steps ({m['train_seconds']:g} s of training), median ηΛ "
            f"over the last half {m['median_eta_lambda_last_half']:.4f}, {m['upward_crossings']} upward "
            f"crossings of 2/η, {m['loss_spikes']} loss spikes (catapults), every 200-step median "
            f"within 2 ± 0.05 from step {m['hover_from_step']}. Its check table ({title}; n = {c['n']}, "
            f"d = {c['d']}, m = {c['m']}), as the report prints it. *kind*: identity (exact algebra), "
            "rigorous (proved from the identities), "
            "assumption (held or not for the default constants; the fitted constant is the smallest "
            "that makes it "
            "hold), theorem (the paper's claim under premises no trajectory can fully certify), empirical (a "
            'heuristic, reported as a rate). Steps where a statement\'s premises fail are "not applicable", '
            'never "held".',
            "",
            "| check | kind | status | applicable | held rate | worst margin @ step | fitted constants |",
            "|---|---|---|---|---|---|---|",
        ]
        out += [
            f"| {r['name']} | {r['kind']} | {r['status']} | {r['applicable']} | {r['rate']} | {r['worst']} | "
            f"{r['fitted']} |"
            for r in rows
        ]
    e7 = exps.get("lemma_e7")
    if e7:
        m = e7["metrics"]
        out += [
            "",
            f"Lemma E.7 (App. E.2) over {e7['config']['window']}, the theory-scaling run, with G's full "
            f"eigenbasis ({m['directions']} directions) at each step: cond (20) held for "
            f"{m['cond20_pairs_held']:.0%} of the (step, i) pairs, at every step for "
            f"{m['cond20_directions_held_every_step']} directions (the top "
            f"{m['cond20_top_directions_held_every_step']} among them), and for every i at "
            f"{m['cond20_steps_all_i']} steps; the lemma is {m['e7_status']}.",
        ]
    return "\n".join(out) + "\n"


def against(report_dir, other_dir) -> str:
    """The findings' check on other real images: the rows that moved between the report and one on
    other data (:func:`validation.compare.table`)."""
    from .compare import table

    return (
        "\n## The same suite on other photographs\n\n"
        "Every row whose verdict or kind moves between the run above (A) and the same suite on "
        "photographs the built-in data share none with (B: `python -m benchmarks.natural32 FOLDER`, then "
        "`python -m validation --data cifar10:FOLDER`); a verdict that moves with the data rests on "
        "those data, not on the paper's claim alone.\n\n" + table(report_dir, other_dir)
    )


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m validation.readme", description=__doc__)
    p.add_argument("report", nargs="?", default="report", help="the report folder (its summary.json)")
    p.add_argument(
        "--against",
        metavar="OTHER",
        help="a report of the same suite on other data: add the rows that moved between the two",
    )
    p.add_argument("--machine", default="this 2-core machine", help="where the run's seconds were measured")
    args = p.parse_args(argv)
    sys.stdout.write(section(args.report, machine=args.machine))
    if args.against:
        sys.stdout.write(against(args.report, args.against))
    return 0


if __name__ == "__main__":
    sys.exit(main())
