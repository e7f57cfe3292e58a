"""``python -m validation.compare A B``: the scorecard rows whose verdict or kind moved between two
reports (two data sets, two versions of the suite), as a Markdown table — from what to what, with
each run's reason — generated from the reports' summary.json, never typed by hand."""

from __future__ import annotations

import json
import os
import sys


def _rows(report_dir: str) -> tuple[dict, dict]:
    with open(os.path.join(report_dir, "summary.json")) as fh:
        s = json.load(fh)
    rows = {}
    for e in s["scorecard"]:
        key = (e.get("claim_id") or e["claim"], e.get("network") or "", e["anchor"])
        rows.setdefault(key, e)
    return s["header"], rows


def _cell(e: dict | None) -> str:
    if e is None:
        return "—"
    return f"{e['verdict']} ({e['kind']}, {e['seeds']})"


def moved(a_dir: str, b_dir: str) -> list[tuple[dict | None, dict | None]]:
    """The (row in A, row in B) pairs whose verdict or kind differ, in B's order (rows only one
    report has, last)."""
    _, a = _rows(a_dir)
    _, b = _rows(b_dir)
    out = []
    for key in list(b) + [k for k in a if k not in b]:
        ea, eb = a.get(key), b.get(key)
        if ea is None or eb is None or (ea["verdict"], ea["kind"]) != (eb["verdict"], eb["kind"]):
            out.append((ea, eb))
    return out


def table(a_dir: str, b_dir: str) -> str:
    ha, _ = _rows(a_dir)
    hb, _ = _rows(b_dir)
    pairs = moved(a_dir, b_dir)
    out = [
        f"A: {ha['data']} ({ha['mode']}, seeds {ha.get('seeds')}); B: {hb['data']} ({hb['mode']}, seeds "
        f"{hb.get('seeds')}). {len(pairs)} rows moved.",
        "",
        "| claim | network | A | B | why in A | why in B |",
        "|---|---|---|---|---|---|",
    ]
    for ea, eb in pairs:
        e = eb or ea
        assert e is not None
        out.append(
            f"| {e['claim']} | {e.get('network') or '—'} | {_cell(ea)} | {_cell(eb)} | "
            f"{(ea or {}).get('reason') or '—'} | {(eb or {}).get('reason') or '—'} |"
        )
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m validation.compare REPORT_A REPORT_B", file=sys.stderr)
        return 2
    sys.stdout.write(table(*argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
