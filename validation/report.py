"""Write the suite's report: ``index.html`` and its Markdown twin ``index.md`` beside the PNGs and
the trajectories (.npz), and ``summary.json``. The scorecard comes first, then a table of
contents, then one section per experiment, each naming the paper figure it reproduces."""

from __future__ import annotations

import html
import json
import os

from .scorecard import facts_of, score
from .seeds import combine

VERDICT_STYLE = {
    "reproduced": "#d8f3dc",
    "differs": "#ffd6a5",
    "not comparable": "#fff3bf",
    "not applicable": "#e9ecef",
}
DATA_NOTE = (
    "Verdicts on the built-in photographs (32×32 patches of six real photographs) are verdicts on "
    "those images, not on CIFAR-10: run `--data cifar10:PATH` for the paper's data."
)


# the networks' order in the claims × networks matrix
NETWORKS = (
    "linear",
    "linear-theory",
    "fc-tanh",
    "fc-relu",
    "fc-elu",
    "cnn-tanh",
    "cnn-relu",
    "cnn-elu",
    "resnet18",
)


def matrix_md(card) -> list[str]:
    """The §3 claims × networks: each cell the verdict on that network (its seeds; "consistency"
    where the rule also holds on its control, or the claim is structural to the network), the
    number it rests on and the control's; "—" where the claim is not judged on that network."""
    s3 = [e for e in card if (_get(e, "claim_id") or "").startswith("s3.")]
    nets = [n for n in NETWORKS if any(_get(e, "network") == n for e in s3)]
    nets += sorted({_get(e, "network") for e in s3} - set(nets))
    claims = list(dict.fromkeys(_get(e, "claim_id") for e in s3))
    if not s3:
        return []
    out = ["| §3 claim | " + " | ".join(nets) + " |", "|---|" + "---|" * len(nets)]
    for cid in claims:
        rows = {_get(e, "network"): e for e in s3 if _get(e, "claim_id") == cid}
        title = next(iter(rows.values()))
        cells = []
        for n in nets:
            e = rows.get(n)
            if e is None:
                cells.append("—")
                continue
            v = _get(e, "verdict")
            size = _get(e, "sizes")
            tag = []
            if _get(e, "kind") == "consistency" and v in ("reproduced", "differs"):
                tag.append("consistency")
            if size != "paper":
                tag.append("reduced")
            cell = v + (f" ({', '.join(tag)})" if tag else "")
            if v in ("reproduced", "differs"):
                cell += f", {_get(e, 'seeds')}: {fmt(_get(e, 'number'))}"
                ctl = _control(e)
                if ctl:
                    cell += f"; control {fmt(ctl.get('number'))}"
            cells.append(cell)
        out.append(f"| {_get(title, 'claim')} | " + " | ".join(cells) + " |")
    return out + [""]


def _control(e) -> dict | None:
    if isinstance(e, dict):
        if e.get("control_verdict") is None:
            return None
        return dict(number=e.get("control"), verdict=e["control_verdict"], what=e.get("control_what"))
    return e.control


def scorecard_md(card, ran=None, *, anchors=True) -> list[str]:
    """The scorecard as Markdown: the §3 claims × networks matrix, then the reproductions (with
    the paper's sentence and each rule's control), then the implementation-consistency checks,
    each with its counts over the four verdicts."""
    from .verdicts import VERDICTS

    out = [
        "**The §3 claims on every network** (verdict, seeds agreeing: number; control: the rule's "
        "statistic where the phenomenon is absent — a rule that holds there too is consistency):",
        "",
        *matrix_md(card),
    ]
    for kind, title in (
        ("reproduction", "Reproductions of the paper's claims"),
        (
            "consistency",
            "Implementation consistency (identities, rigorous consequences, "
            "facts structural to a model: not counted as reproductions)",
        ),
    ):
        rows = [e for e in card if _get(e, "kind") == kind]
        counts = ", ".join(f"{sum(_get(e, 'verdict') == v for e in rows)} {v}" for v in VERDICTS)
        out += [f"**{title}**: {counts}.", ""]
        head = "| claim | network | paper | verdict | seeds | number | control | why | reproduced when |"
        if kind == "reproduction":
            head += " the paper says |"
        if anchors:
            head += " section |"
        out += [head, "|" + "---|" * (head.count("|") - 1)]
        for e in rows:
            size = e.get("sizes", "paper") if isinstance(e, dict) else e.sizes
            shown = _get(e, "verdict") + ("" if size == "paper" else " (reduced)")
            ctl = _control(e)
            ctl_txt = "—" if not ctl else f"{ctl['verdict']}: {ctl['what']}"
            line = (
                f"| {_get(e, 'claim')} | {_get(e, 'network') or '—'} | {_get(e, 'paper')} | {shown} | "
                f"{_get(e, 'seeds')} | {fmt(_get(e, 'number'))} | {ctl_txt} | "
                f"{_get(e, 'reason') or '—'} | {_get(e, 'threshold')} |"
            )
            if kind == "reproduction":
                line += f" {_get(e, 'paper_quote') or '—'} |"
            if anchors:
                a = _get(e, "anchor")
                line += f" [{a}](#{a}) |" if ran is None or a in ran else f" {a} (not run) |"
            out.append(line)
        out.append("")
    return out


def _get(e, key):
    return e[key] if isinstance(e, dict) else getattr(e, key)


def fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        if len(v) > 12:
            return f"[{', '.join(fmt(x) for x in v[:6])}, … {len(v) - 6} more]"
        return "[" + ", ".join(fmt(x) for x in v) + "]"
    return str(v)


def _kv_md(d):
    return "\n".join(f"| {k} | {fmt(v)} |" for k, v in d.items())


def write(out, results, *, header: dict, extra_cards: dict | None = None):
    """The report of ``results``; ``extra_cards`` (seed → scorecard entries of the same claims on
    another seed) adds each row's agreement across seeds (validation.seeds.combine)."""
    os.makedirs(out, exist_ok=True)
    failures = [(r.name, t, c.name) for r in results for t, c in r.failures()]
    failures += [
        (r.name, "SymPy", k)
        for r in results
        if r.name == "identities"
        for k, v in r.metrics.items()
        if v != "verified"
    ]
    card = score(facts_of(results))
    if extra_cards:
        card = combine(card, extra_cards, main_seed=header["seed"])
    counts = verdict_counts(card)
    reduced = [f"{r.name} ({r.reduced})" for r in results if r.reduced]
    md = [
        "# linnet validation report",
        "",
        *banner_md(counts),
        f"{header['mode']} suite, {len(results)} experiments, {header['seconds']:.0f} s, "
        f"seed {header['seed']}"
        + (
            f" (verdicts across seeds {', '.join(map(str, header['seeds']))})"
            if len(header.get("seeds", [])) > 1
            else ""
        )
        + f", backend {header['backend']}. **Data:** {header['data']}. **Sizes:** the paper's"
        + (f", except {'; '.join(reduced)}" if reduced else "")
        + (f"; the extra seeds at {header['extra_seeds_at']}" if header.get("extra_seeds_at") else "")
        + ".",
        "",
        "**Exact identities and rigorous inequalities: "
        f"{'all held' if not failures else f'{len(failures)} FAILED'}.**",
        "",
    ]
    if failures:
        md += (
            ["| experiment | table | check |", "|---|---|---|"]
            + [f"| {a} | {b} | {c} |" for a, b, c in failures]
            + [""]
        )
    md += ["## Contents", ""]
    md += ["- [Scorecard](#scorecard)"] + [f"- [{r.name}](#{r.name}): {r.title} ({r.paper})" for r in results]
    md += ["- [Summary](#summary)", ""]
    ran = {r.name for r in results}
    md += [
        "## Scorecard",
        "",
        "One entry per claim of the paper. Each verdict is computed by a rule its experiment declares "
        "(validation/experiments/) "
        '(the §3 claims by validation/section3.py) from the measured number shown: "reproduced" and '
        '"differs" only for a run in the regime the claim is about, "not comparable" (with the '
        'reason) for a run outside it, "not applicable" when the experiment did not run or the '
        f"premises never held. Data: {header['data']}. {DATA_NOTE}",
        "",
        *scorecard_md(card, ran),
    ]
    md += ["## Summary", "", "| experiment | paper | key numbers | time |", "|---|---|---|---|"]
    for r in results:
        key = ", ".join(f"{k}={fmt(v)}" for k, v in list(r.metrics.items())[:4])
        md.append(f"| [{r.name}](#{r.name}) | {r.paper} | {key} | {r.seconds:.1f} s |")
    md.append("")
    for r in results:
        md += [f"## {r.name}", "", f"**{r.title}** — reproduces the paper's {r.paper}. {r.notes}", ""]
        md += [f"![{r.name}]({os.path.basename(f)})" for f in r.figures] + [""]
        md += [
            "| configuration | |",
            "|---|---|",
            _kv_md(r.config),
            "",
            "| measured | |",
            "|---|---|",
            _kv_md(r.metrics),
            "",
        ]
        if r.trajectories:
            md += [
                "Trajectories (linnet.load_trajectory; `python -m theory check FILE`): "
                f"{_files(r.trajectories)}",
                "",
            ]
        for title, table in r.tables.items():
            md += [f"### Checks: {title}", "", table.markdown(), ""]
    with open(os.path.join(out, "index.md"), "w") as fh:
        fh.write("\n".join(md))
    with open(os.path.join(out, "index.html"), "w") as fh:
        fh.write(_html(md, counts))
    with open(os.path.join(out, "summary.json"), "w") as fh:
        json.dump(
            dict(
                header=header,
                failures=failures,
                scorecard=[e.as_dict() for e in card],
                experiments={
                    r.name: dict(
                        metrics=r.metrics,
                        config=r.config,
                        seconds=r.seconds,
                        trajectories=list(r.trajectories),
                        first_crossing_step=r.metrics.get("first_crossing_step"),
                        checks={t: tab.rows() for t, tab in r.tables.items()},
                    )
                    for r in results
                },
            ),
            fh,
            indent=1,
            default=str,
        )
    return failures


def verdict_counts(card) -> dict[str, dict[str, int]]:
    """{kind: {verdict: rows}} of the scorecard, for the banner."""
    from .verdicts import VERDICTS

    return {
        kind: {v: sum(_get(e, "kind") == kind and _get(e, "verdict") == v for e in card) for v in VERDICTS}
        for kind in ("reproduction", "consistency")
    }


def banner_md(counts) -> list[str]:
    """The verdicts' counts as the report's first lines (the HTML shows them as coloured badges)."""
    out = []
    for kind, c in counts.items():
        title = "Reproductions" if kind == "reproduction" else "Consistency checks"
        out += [f"**{title}:** " + " · ".join(f"{n} {v}" for v, n in c.items()) + ".", ""]
    return out


def _files(names):
    if len(names) > 8:
        return ", ".join(f"`{n}`" for n in names[:3]) + f", … ({len(names)} files, `{names[-1]}` last)"
    return ", ".join(f"`{n}`" for n in names)


def _anchor(name):
    return name.lower().replace(" ", "-")


def _banner_html(counts) -> str:
    rows = []
    for kind, c in counts.items():
        badges = "".join(
            f"<span class='badge v-{v.replace(' ', '-')}'><b>{n}</b> {html.escape(v)}</span>"
            for v, n in c.items()
        )
        title = "reproductions of the paper's claims" if kind == "reproduction" else "consistency checks"
        rows.append(f"<div class='banner-row'><span class='banner-kind'>{title}</span>{badges}</div>")
    return "<div id='banner'>" + "".join(rows) + "</div>"


def _html(md_lines, counts=None):
    """A small Markdown-to-HTML pass for exactly what :func:`write` emits (headings, lists, tables,
    images), with the verdicts' counts (``counts``, :func:`verdict_counts`) as a banner of coloured
    badges under the title."""
    out = [
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>linnet validation report</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:1500px;margin:auto;padding:1em;"
        "line-height:1.35;font-size:15px}"
        "table{border-collapse:collapse;margin:.5em 0;font-size:85%;display:block;overflow-x:auto}"
        "td,th{border:1px solid #ccc;padding:2px 6px;vertical-align:top}"
        "th{background:#f6f6f6;position:sticky;top:0}"
        "img{width:100%;max-width:1450px;height:auto;display:block;margin:.5em 0}"
        "code{background:#f3f3f3;padding:0 2px}"
        "#banner{margin:.5em 0 1em}.banner-row{margin:.25em 0}"
        ".banner-kind{display:inline-block;min-width:19em;font-weight:600}"
        ".badge{display:inline-block;border-radius:1em;padding:.1em .8em;margin:0 .3em;border:1px solid #bbb}"
        "@media (max-width:1400px){body{font-size:14px}table{font-size:80%}}"
        + "".join(
            f"td.v-{k.replace(' ', '-')},.badge.v-{k.replace(' ', '-')}{{background:{c}}}"
            for k, c in VERDICT_STYLE.items()
        )
        + "</style></head><body>",
    ]
    banner = counts is not None
    rows, items = [], []

    def flush():
        if rows:
            cells = [r.strip("|").split(" | ") for r in rows if not set(r) <= set("|-")]
            body = []
            for i, row in enumerate(cells):
                tag = "th" if i == 0 else "td"
                tds = []
                for c in row:
                    c = c.strip()
                    v = next(
                        (
                            k
                            for k in VERDICT_STYLE
                            if c == k or c.startswith(k + " ") or c.startswith(k + ",")
                        ),
                        None,
                    )
                    cls = f" class='v-{v.replace(' ', '-')}'" if tag == "td" and v else ""
                    tds.append(f"<{tag}{cls}>{_inline(c)}</{tag}>")
                body.append("<tr>" + "".join(tds) + "</tr>")
            first = cells[0][0].strip() if cells else ""
            ident = ""
            if first == "claim" and "scorecard-table" not in "".join(out):
                ident = " id='scorecard-table'"
            elif first == "§3 claim":
                ident = " id='claims-matrix'"
            out.append(f"<table{ident}>" + "".join(body) + "</table>")
            rows.clear()
        if items:
            out.append("<ul class='toc'>" + "".join(f"<li>{_inline(x)}</li>" for x in items) + "</ul>")
            items.clear()

    for line in "\n".join(md_lines).split("\n"):
        if line.startswith("|"):
            rows.append(line)
            continue
        if line.startswith("- "):
            items.append(line[2:])
            continue
        flush()
        if line.startswith("### "):
            out.append(f"<h3>{html.escape(line[4:])}</h3>")
        elif line.startswith("## "):
            name = line[3:]
            out.append(f"<h2 id='{html.escape(_anchor(name))}'>{html.escape(name)}</h2>")
        elif line.startswith("# "):
            out.append(f"<h1>{html.escape(line[2:])}</h1>")
            if banner:
                out.append(_banner_html(counts))
        elif banner and line.startswith(("**Reproductions:**", "**Consistency checks:**")):
            continue  # shown as the banner
        elif line.startswith("!["):
            src = line[line.index("(") + 1 : -1]
            out.append(f"<img src='{html.escape(src)}' alt='{html.escape(src)}'>")
        elif line:
            out.append(f"<p>{_inline(line)}</p>")
    flush()
    out.append("</body></html>")
    return "\n".join(out)


def _inline(s):
    import re

    s = html.escape(s, quote=False)
    while "**" in s:
        s = s.replace("**", "<b>", 1).replace("**", "</b>", 1)
    s = re.sub(r"`([^`]+)`", r"<code>\1</code>", s)
    s = re.sub(r"\[([^\]]+)\]\(#([^)]+)\)", lambda m: f"<a href='#{_anchor(m.group(2))}'>{m.group(1)}</a>", s)
    return s
