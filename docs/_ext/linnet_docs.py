"""The docs' generated pages, written at the start of every build (so that they cannot drift):

* ``api/*.rst``: the API reference, one page per public module, from its ``__all__`` (autodoc);
  each object is documented once, at the first public module that exports it, and listed with a
  link wherever else it is exported;
* ``claims.md``: every claim of :data:`theory.claims.CLAIMS` (id, kind, paper reference, quote,
  scope);
* ``benchmarks.md``: every JSON file under ``benchmarks/results/``, rendered generically (a table
  per list of flat dicts, a definition list for the scalars).

The same module is what ``tests/test_docs.py`` asks which names are public and how they are
documented (:func:`public_names`, :func:`has_doc`).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import re
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent
ROOT = DOCS.parent

# the public modules, in the order their names are documented: an object exported by several is
# documented at the first and linked from the others
PUBLIC_MODULES = [
    "linnet",
    "linnet.linear2",
    "linnet.linalg",
    "linnet.families",
    "linnet.torch",
    "linnet.jit",
    "linnet.sweeps",
    "theory",
    "theory.strategies",
    "theory.claims",
    "validation",
    "validation.own_model",
]
# the public names of modules without ``__all__`` whose other top-level names are helpers
CHOSEN_NAMES = {"validation.own_model": ["check_model"]}
# what the build writes (ignored by git: docs/.gitignore)
GENERATED = ["api", "claims.md", "benchmarks.md", "auto_gallery"]


def public_names(modname: str) -> list[str]:
    """The names a module exports: its ``__all__``, or :data:`CHOSEN_NAMES`, or every name not
    starting with "_" that the module itself defines (a class, a function, or documented data)."""
    mod = importlib.import_module(modname)
    names = getattr(mod, "__all__", None) or CHOSEN_NAMES.get(modname)
    if names is None:
        names = [
            n
            for n, o in vars(mod).items()
            if not n.startswith("_")
            and not inspect.ismodule(o)
            and getattr(o, "__module__", modname) == modname
            and (inspect.isclass(o) or inspect.isfunction(o) or _attr_doc(modname, n))
        ]
    return list(dict.fromkeys(names))


def _resolve(modname: str, name: str):
    return getattr(importlib.import_module(modname), name)


def _attr_doc(modname: str, name: str) -> str:
    """The ``#:`` comment or string literal after ``name = ...`` in ``modname``'s source."""
    from sphinx.pycode import ModuleAnalyzer

    try:
        docs = ModuleAnalyzer.for_module(modname).find_attr_docs()
    except Exception:
        return ""
    return "\n".join(docs.get(("", name), [])).strip()


def kind_of(obj) -> str:
    if inspect.ismodule(obj):
        return "module"
    if inspect.isclass(obj):
        return "class"
    if callable(obj):
        return "function"
    return "data"


def defining_module(modname: str, name: str) -> str:
    """Where a data name's documentation comment would be: the module that assigns it."""
    mod = importlib.import_module(modname)
    for cand in [modname, *_submodules_of(mod)]:
        if _attr_doc(cand, name):
            return cand
    return modname


def _submodules_of(mod) -> list[str]:
    out = []
    for o in vars(mod).values():
        if inspect.ismodule(o) and o.__name__.startswith(mod.__name__.split(".")[0]):
            out.append(o.__name__)
    # the modules the public functions and classes come from
    for o in vars(mod).values():
        m = getattr(o, "__module__", None)
        if isinstance(m, str) and m.startswith(mod.__name__.split(".")[0]):
            out.append(m)
    return list(dict.fromkeys(out))


def has_doc(modname: str, name: str) -> bool:
    """Whether ``modname.name`` is documented: its own docstring (a module, class or function), or
    a ``#:`` comment / string after its assignment (data)."""
    obj = _resolve(modname, name)
    kind = kind_of(obj)
    if kind == "data":
        return bool(_attr_doc(defining_module(modname, name), name))
    doc = (obj.__doc__ or "").strip()
    if not doc or (kind != "module" and obj.__doc__ is type(obj).__doc__):
        return False
    # a dataclass without a docstring gets its signature as __doc__
    return not (dataclasses.is_dataclass(obj) and doc.startswith(f"{obj.__name__}("))


# ---- the API reference ---------------------------------------------------------------------------


def _first_line(text: str) -> str:
    return (text or "").strip().split("\n\n")[0].replace("\n", " ")


def write_api(out: Path) -> dict[str, dict[str, str]]:
    """One ``.rst`` per public module; returns {module: {name: canonical full name}}."""
    out.mkdir(parents=True, exist_ok=True)
    canonical: dict[int, str] = {}  # id(obj) -> the full name it is documented under
    where: dict[str, dict[str, str]] = {}
    pages = []
    for modname in PUBLIC_MODULES:
        title = f"``{modname}``"
        lines = [title, "=" * len(title), "", f".. automodule:: {modname}", "   :no-members:", ""]
        documented, linked = [], []
        where[modname] = {}
        for name in public_names(modname):
            obj = _resolve(modname, name)
            kind = kind_of(obj)
            key = id(obj) if kind in ("class", "function", "module") else None
            if kind == "module":
                # a public submodule: its own page when listed, else a link
                full = obj.__name__
                linked.append((name, f":mod:`{full}`", "module"))
                where[modname][name] = full
                continue
            if key is not None and key in canonical:
                role = "class" if kind == "class" else "func"
                linked.append((name, f":py:{role}:`{canonical[key]}`", kind))
                where[modname][name] = canonical[key]
                continue
            full = f"{modname}.{name}"
            if key is not None:
                canonical[key] = full
            documented.append((name, kind, obj))
            where[modname][name] = full
        lines += [f".. currentmodule:: {modname}", ""]
        callables = [n for n, kind, _ in documented if kind != "data"]
        if callables:  # (data would be summarised by its type's docstring)
            lines += [".. autosummary::", "", *(f"   {n}" for n in callables), ""]
        for name, kind, obj in documented:
            if kind == "class":
                lines += [f".. autoclass:: {modname}.{name}", "   :members:", "   :no-inherited-members:", ""]
            elif kind == "function":
                lines += [f".. autofunction:: {modname}.{name}", ""]
            else:
                src = defining_module(modname, name)
                lines += [f".. py:data:: {modname}.{name}", f"   :value: {_short_repr(obj)}", ""]
                doc = _attr_doc(src, name)
                if doc:
                    lines += ["   " + ln for ln in doc.splitlines()] + [""]
        if linked:
            lines += [
                "Also exported here",
                "------------------",
                "",
                *(f"* ``{modname}.{n}``: {ref}" for n, ref, _ in linked),
                "",
            ]
        page = modname.replace(".", "_")
        pages.append(page)
        _write_if_changed(out / f"{page}.rst", "\n".join(lines))
    index = [
        "API reference",
        "=============",
        "",
        "Generated from the docstrings of each public module's ``__all__`` (``docs/_ext/linnet_docs.py``);"
        " an object exported by several modules is documented once and linked from the others.",
        "",
        ".. toctree::",
        "   :maxdepth: 1",
        "",
        *(f"   {p}" for p in pages),
        "",
    ]
    _write_if_changed(out / "index.rst", "\n".join(index))
    return where


def _short_repr(obj) -> str:
    r = repr(obj)
    return r if len(r) <= 60 else r[:57] + "..."


# ---- the claims page -----------------------------------------------------------------------------


def _md_cell(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def write_claims(path: Path) -> int:
    from theory.claims import CLAIMS

    by_kind: dict[str, int] = {}
    for c in CLAIMS.values():
        by_kind[c.kind] = by_kind.get(c.kind, 0) + 1
    lines = [
        "# The paper's claims",
        "",
        "Generated at build time from the claims registry, {py:data}`theory.claims.CLAIMS` "
        "(`theory/claims.py`): each claim of the paper declared once, with a stable id that the "
        "scorecard's rows and the rules cite. *reproduction*: an empirical claim a run can support or "
        "contradict; *consistency*: a fact that holds by construction or by proof, checked to catch "
        "implementation errors and never counted as a reproduction. "
        + ", ".join(f"{n} {k}" for k, n in sorted(by_kind.items()))
        + ".",
        "",
        "| id | claim | kind | paper |",
        "|---|---|---|---|",
    ]
    for c in CLAIMS.values():
        ref = f"{{ref}}`{c.id} <{_slug(c.id)}>`"
        lines.append(f"| {ref} | {_md_cell(c.title)} | {c.kind} | {_md_cell(c.paper)} |")
    lines.append("")
    for c in CLAIMS.values():
        lines += [
            f"({_slug(c.id)})=",
            f"## `{c.id}`: {c.title}",
            "",
            f"*{c.kind}*, {c.paper}. Scope: {c.scope}.",
            "",
            *(f"> {ln}" for ln in c.quote.splitlines()),
            "",
        ]
    _write_if_changed(path, "\n".join(lines) + "\n")
    return len(CLAIMS)


def _slug(claim_id: str) -> str:
    """The claim's anchor on the claims page: ``claims.html#claim-s3-ps-then-eos``."""
    return "claim-" + re.sub(r"[^a-z0-9]+", "-", claim_id.lower()).strip("-")


# ---- the benchmark results -----------------------------------------------------------------------


def _cellable(v) -> bool:
    """A scalar, or a list of scalars (shown summarised in one cell)."""
    if isinstance(v, list):
        return all(not isinstance(x, (dict, list)) for x in v)
    return not isinstance(v, dict)


def _fmt(v) -> str:
    if isinstance(v, list):
        nums = [x for x in v if isinstance(x, (int, float)) and not isinstance(x, bool)]
        if len(v) <= 8:
            return ", ".join(_fmt(x) for x in v) or "(empty)"
        if len(nums) == len(v):
            srt = sorted(nums)
            return (
                f"{len(v)} values: min {_fmt(srt[0])}, median {_fmt(srt[len(srt) // 2])}, max {_fmt(srt[-1])}"
            )
        return ", ".join(_fmt(x) for x in v[:8]) + f", … ({len(v)} in all)"
    if isinstance(v, float):
        return f"{v:.4g}"
    return _md_cell("" if v is None else v)


def _render(value, heading: str, level: int, force_heading: bool = False, path: str = "") -> list[str]:
    """A table per list of records (their scalars and lists of scalars as cells), a bulleted list for
    a dict's scalars, a section per nested part. Headings never skip a level."""
    head = [f"{'#' * min(level, 6)} {heading}", ""]
    out: list[str] = []
    if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
        cols: list[str] = []
        for r in value:
            cols += [k for k, v in r.items() if _cellable(v) and k not in cols]
        out += head
        if cols:
            out += ["| " + " | ".join(map(_md_cell, cols)) + " |", "|" + "---|" * len(cols)]
            out += ["| " + " | ".join(_fmt(r.get(k)) for k in cols) + " |" for r in value]
            out.append("")
        for i, r in enumerate(value):
            for k, v in r.items():
                if not _cellable(v):
                    sub = f"{path}[{i}] {k}"
                    out += _render(v, sub, level + 1, path=f"{sub}: ")
        return out
    if isinstance(value, dict):
        cells = {k: v for k, v in value.items() if _cellable(v)}
        shown = bool(cells) or force_heading
        if shown:
            out += head + [f"- **{_md_cell(k)}**: {_fmt(v)}" for k, v in cells.items()] + [""]
        for k, v in value.items():
            if not _cellable(v):
                sub = f"{path}{k}"
                out += _render(v, sub, level + 1 if shown else level, path=f"{sub}: ")
        return out
    return head + [_fmt(value), ""]


def write_benchmarks(path: Path, results: Path) -> list[str]:
    files = sorted(results.glob("**/*.json")) if results.is_dir() else []
    lines = [
        "# Benchmark results",
        "",
        "Generated at build time from every JSON file under `benchmarks/results/` (written by the "
        "benchmark commands' `--json FILE`; `python -m benchmarks --help`): each list of flat records "
        "is a table, each record's scalars a list. The numbers are those of the machine and day that "
        "wrote the file; the files say which where they record it.",
        "",
    ]
    if not files:
        lines += ["No results are stored yet (`benchmarks/results/` has no JSON file).", ""]
    for f in files:
        rel = (f.relative_to(ROOT) if f.is_relative_to(ROOT) else f.relative_to(results.parent)).as_posix()
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            lines += [f"## `{rel}`", "", f"Could not be read: {_md_cell(e)}", ""]
            continue
        lines += _render(data, f"`{rel}`", 2, force_heading=True)
    _write_if_changed(path, "\n".join(lines) + "\n")
    return [f.name for f in files]


def _write_if_changed(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


# ---- the gallery's order: the guides' --------------------------------------------------------

GALLERY_ORDER = [
    "plot_linear_net.py",
    "plot_property_tests.py",
    "plot_mlp.py",
    "plot_torch.py",
    "plot_sweeps.py",
    "plot_validation_suite.py",
    "plot_own_model.py",
]


class GalleryOrder:
    """sphinx-gallery's ``within_subsection_order``: the examples in the guides' order, any other
    after them by name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename) -> tuple[int, str]:
        name = Path(filename).name
        return (GALLERY_ORDER.index(name) if name in GALLERY_ORDER else len(GALLERY_ORDER), name)

    def __repr__(self) -> str:  # sphinx-gallery hashes the configuration by repr
        return "GalleryOrder()"


# ---- the docstrings: plain text with Unicode mathematics, made safe for reStructuredText ----------

_LITERAL = re.compile(r"(``.+?``|`[^`]+`)")


_STAR = re.compile(r"(?<![\\\w*])(\*{1,2})(?=[^\s*])")


def _escape_stars(text: str) -> str:
    """Escape a ``*`` or ``**`` that opens emphasis never closed on the line (``**kwargs``, ``x*``)."""
    out, pos = [], 0
    for m in _STAR.finditer(text):
        if m.start() < pos:
            continue
        stars = m.group(1)
        close = re.compile(rf"(?<=[^\s*]){re.escape(stars)}(?![\w*])").search(text, m.end())
        if close:
            out.append(text[pos : close.end()])
            pos = close.end()
        else:
            out.append(text[pos : m.start()] + "\\*" * len(stars))
            pos = m.end()
    return "".join(out) + text[pos:]


def _escape_outside_literals(line: str) -> str:
    parts = _LITERAL.split(line)
    for i in range(0, len(parts), 2):  # the even parts are outside literals
        parts[i] = _escape_stars(parts[i].replace("|", "\\|"))
    return "".join(parts)


_BULLET = re.compile(r"^(\s*)([*+-]) \S")


def plain_docstring(lines: list[str]) -> list[str]:
    """The project's docstrings are plain text: ``|x|`` is a norm, not a substitution, and a bullet
    list may be followed directly by a paragraph. Escape the bars (outside literals) and end a
    bullet list with a blank line, so that the docstrings render as written."""
    out: list[str] = []
    bullet_indent: int | None = None
    for line in lines:
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        m = _BULLET.match(line)
        if m:
            bullet_indent = len(m.group(1))
        elif bullet_indent is not None:
            if not stripped:
                bullet_indent = None
            elif indent <= bullet_indent:
                out.append("")
                bullet_indent = None
        out.append(_escape_outside_literals(line))
    return out


FINDINGS_TITLE = (
    "# Findings\n\n"
    "The scorecard of a full run of the suite, written by `python -m validation.readme REPORT_DIR > "
    "docs/findings.md` from the run's report, not typed; {doc}`guides/validation` says how to "
    "regenerate it and {doc}`claims` lists the claims its rows cite.\n\n"
)


def _source_read(app, docname, source):
    """``findings.md`` is generated with sections (``##``) only: give it a title."""
    if docname == "findings" and not source[0].lstrip().startswith("# "):
        source[0] = FINDINGS_TITLE + source[0]


def _process_docstring(app, what, name, obj, options, lines):
    lines[:] = plain_docstring(lines)


def generate(app=None) -> None:
    write_api(DOCS / "api")
    write_claims(DOCS / "claims.md")
    write_benchmarks(DOCS / "benchmarks.md", ROOT / "benchmarks" / "results")


def setup(app):
    app.connect("builder-inited", generate)
    app.connect("autodoc-process-docstring", _process_docstring)
    app.connect("source-read", _source_read)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
