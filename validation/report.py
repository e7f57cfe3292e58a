"""Write the suite's report: ``index.html`` and its Markdown twin ``index.md`` beside the PNGs."""
from __future__ import annotations

import html
import json
import os


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


def _kv_md(d):
    return "\n".join(f"| {k} | {_fmt(v)} |" for k, v in d.items())


def write(out, results, *, header: dict):
    os.makedirs(out, exist_ok=True)
    failures = [(r.name, t, c.name) for r in results for t, c in r.failures()]
    failures += [(r.name, "SymPy", k) for r in results if r.name == "identities"
                 for k, v in r.metrics.items() if v != "verified"]
    md = ["# linnet validation report", "",
          f"{header['mode']} suite, {len(results)} experiments, {header['seconds']:.0f} s, seed {header['seed']}, "
          f"backend {header['backend']}, data: {header['data']}.", "",
          f"**Exact identities and rigorous inequalities: {'all held' if not failures else f'{len(failures)} FAILED'}.**",
          ""]
    if failures:
        md += ["| experiment | table | check |", "|---|---|---|"] + [f"| {a} | {b} | {c} |" for a, b, c in failures] + [""]
    md += ["## Summary", "", "| experiment | paper | key numbers | time |", "|---|---|---|---|"]
    for r in results:
        key = ", ".join(f"{k}={_fmt(v)}" for k, v in list(r.metrics.items())[:4])
        md.append(f"| [{r.name}](#{r.name}) | {r.paper} | {key} | {r.seconds:.1f} s |")
    md.append("")
    for r in results:
        md += [f"## {r.name}", "", f"**{r.title}** ({r.paper}). {r.notes}", ""]
        md += [f"![{r.name}]({os.path.basename(f)})" for f in r.figures] + [""]
        md += ["| configuration | |", "|---|---|", _kv_md(r.config), "", "| measured | |", "|---|---|",
               _kv_md(r.metrics), ""]
        for title, table in r.tables.items():
            md += [f"### Checks: {title}", "", table.markdown(), ""]
    with open(os.path.join(out, "index.md"), "w") as fh:
        fh.write("\n".join(md))
    with open(os.path.join(out, "index.html"), "w") as fh:
        fh.write(_html(md))
    with open(os.path.join(out, "summary.json"), "w") as fh:
        json.dump(dict(header=header, failures=failures,
                       experiments={r.name: dict(metrics=r.metrics, config=r.config, seconds=r.seconds,
                                                 checks={t: tab.rows() for t, tab in r.tables.items()})
                                    for r in results}), fh, indent=1, default=str)
    return failures


def _html(md_lines):
    """A small Markdown-to-HTML pass for exactly what :func:`write` emits (headings, tables, images)."""
    out = ["<!doctype html><html><head><meta charset='utf-8'><title>linnet validation report</title>",
           "<style>body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}"
           "table{border-collapse:collapse;margin:.5em 0;font-size:90%}td,th{border:1px solid #ccc;padding:2px 6px}"
           "img{max-width:100%}</style></head><body>"]
    rows = []

    def flush():
        if rows:
            cells = [r.strip("|").split(" | ") for r in rows if not set(r) <= set("|-")]
            out.append("<table>" + "".join(
                "<tr>" + "".join(f"<{'th' if i == 0 else 'td'}>{_inline(c.strip())}</{'th' if i == 0 else 'td'}>"
                                 for c in row) + "</tr>" for i, row in enumerate(cells)) + "</table>")
            rows.clear()
    for line in "\n".join(md_lines).split("\n"):
        if line.startswith("|"):
            rows.append(line)
            continue
        flush()
        if line.startswith("### "):
            out.append(f"<h3>{html.escape(line[4:])}</h3>")
        elif line.startswith("## "):
            name = line[3:]
            out.append(f"<h2 id='{html.escape(name)}'>{html.escape(name)}</h2>")
        elif line.startswith("# "):
            out.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("!["):
            src = line[line.index("(") + 1: -1]
            out.append(f"<img src='{html.escape(src)}' alt='{html.escape(src)}'>")
        elif line:
            out.append(f"<p>{_inline(line)}</p>")
    flush()
    out.append("</body></html>")
    return "\n".join(out)


def _inline(s):
    s = html.escape(s)
    while "**" in s:
        s = s.replace("**", "<b>", 1).replace("**", "</b>", 1)
    if s.startswith("[") and "](#" in s:
        name = s[1:s.index("]")]
        s = f"<a href='#{name}'>{name}</a>" + s[s.index(")") + 1:]
    return s
