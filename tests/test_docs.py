"""The documentation: the README's first example prints what the README shows, every gallery script
runs, every public name is documented and in the API reference, and the built site opens in a
browser. Skipped where docs/ is not next to the tests (the installed wheel's run)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from small_problems import headless_chromium

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
GALLERY = sorted((DOCS / "gallery").glob("plot_*.py"))
needs_docs = pytest.mark.skipif(
    not (DOCS / "conf.py").exists(), reason="docs/ is not next to the tests (installed wheel)"
)

# names in a public module's __all__ that have no docstring yet (data without a `#:` comment, or a
# function without a docstring). The list may only shrink: a name documented since fails
# test_known_undocumented_is_current, so that it leaves this list (a name no longer public is ignored).
KNOWN_UNDOCUMENTED = {
    "linnet": {"SCHEMES"},
    "linnet.linear2": {"SCHEMES"},
    "linnet.families": {"ACTIVATION_NAMES", "FAMILIES", "GRAM_MODES", "SWEEP_MODELS"},
    "linnet.torch": {
        "CHUNK_BYTES",
        "COUPLED_JACOBIAN_MAX_N",
        "GRAM_MODES",
        "HESSIAN_BASIS",
        "MEMORY_SLACK",
        "PER_SAMPLE",
        "RANDOM_LAYERS",
        "TRANSFORM_CODE_BYTES",
        "VJP_ROWS",
    },
    "linnet.sweeps": {
        "BATCH_KEYS",
        "BATCH_MIN_STATE",
        "BATCH_SIZE",
        "DEFAULTS",
        "DEFAULT_MODEL",
        "GRID_KEYS",
        "MLP_DEFAULTS",
        "MODELS",
        "MODEL_DEFAULTS",
        "MODEL_KEYS",
        "OUTCOMES",
        "load_config",
        "run_id",
        "write_summary",
    },
    "theory": {"Constants", "phase_fractions"},
    "theory.strategies": {"Problem"},
    "theory.claims": {"Claim"},
    "validation": {"EXPERIMENTS"},
}


def _ext():
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        import linnet_docs
    finally:
        sys.path.pop(0)
    return linnet_docs


# ---- the README's first example ------------------------------------------------------------------


def _blocks_after(text: str, heading: str) -> tuple[str, str]:
    """The ```python block and the ``` block after it, under ``heading``."""
    m = re.search(rf"^{re.escape(heading)}\s*$(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    assert m, f"no section {heading!r}"
    code = re.search(r"^```python\n(.*?)^```", m.group(1), flags=re.M | re.S)
    out = re.search(r"^```python\n.*?^```.*?^```\n(.*?)^```", m.group(1), flags=re.M | re.S)
    assert code and out, f"the section {heading!r} needs a ```python block and its output after it"
    return code.group(1), out.group(1)


@pytest.mark.skipif(not README.exists(), reason="README.md is not next to the tests (installed wheel)")
def test_readme_example_prints_what_the_readme_shows(tmp_path):
    code, shown = _blocks_after(README.read_text(encoding="utf-8"), "## A first run")
    if (DOCS / "quickstart.md").exists():
        quick = _blocks_after((DOCS / "quickstart.md").read_text(encoding="utf-8"), "## A first run")
        assert quick == (code, shown), "docs/quickstart.md's example differs from README.md's"
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.splitlines() == shown.splitlines(), (
        "the README's example (## A first run) prints something else now; paste its output into "
        f"README.md and docs/quickstart.md:\n{run.stdout}"
    )


# ---- the gallery ---------------------------------------------------------------------------------


@needs_docs
def test_every_guide_has_a_gallery_example():
    guides = sorted((DOCS / "guides").glob("*.md"))
    assert len(guides) >= 7 and GALLERY
    names = {p.stem for p in GALLERY}
    for g in guides:
        refs = re.findall(r"auto_gallery/(plot_\w+)", g.read_text(encoding="utf-8"))
        assert refs, f"{g.name} links no gallery example"
        assert set(refs) <= names, (g.name, set(refs) - names)
    assert sorted(_ext().GALLERY_ORDER) == sorted(p.name for p in GALLERY), "update GALLERY_ORDER"


@needs_docs
@pytest.mark.parametrize("script", GALLERY, ids=[p.stem for p in GALLERY])
def test_gallery_script_runs(script, tmp_path):
    """Each example runs as a user would run it, in its own process (some set process-wide state,
    such as torch's thread count), with a non-interactive matplotlib."""
    env = {
        **os.environ,
        "MPLBACKEND": "Agg",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    run = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600
    )
    assert run.returncode == 0, f"{script.name} failed:\n{run.stdout[-2000:]}\n{run.stderr[-4000:]}"


# ---- the API reference ---------------------------------------------------------------------------


@needs_docs
def test_every_public_name_is_documented():
    ext = _ext()
    missing = {}
    for mod in ext.PUBLIC_MODULES:
        undocumented = {n for n in ext.public_names(mod) if not ext.has_doc(mod, n)}
        new = undocumented - KNOWN_UNDOCUMENTED.get(mod, set())
        if new:
            missing[mod] = sorted(new)
    assert not missing, f"public names without a docstring (or a `#:` comment for data): {missing}"


@needs_docs
def test_known_undocumented_is_current():
    ext = _ext()
    stale = {
        mod: sorted(n for n in names if n in ext.public_names(mod) and ext.has_doc(mod, n))
        for mod, names in KNOWN_UNDOCUMENTED.items()
    }
    stale = {k: v for k, v in stale.items() if v}
    assert not stale, f"documented since: remove from tests/test_docs.py's KNOWN_UNDOCUMENTED: {stale}"


@needs_docs
def test_the_public_modules_are_all_listed():
    """Every module of linnet that declares ``__all__`` (linnet.torch, linnet.sweeps, …) is in the
    API reference."""
    import importlib
    import pkgutil

    import linnet

    listed = set(_ext().PUBLIC_MODULES)
    for info in pkgutil.iter_modules(linnet.__path__, prefix="linnet."):
        if info.name.rsplit(".", 1)[-1].startswith("_"):
            continue
        if hasattr(importlib.import_module(info.name), "__all__"):
            assert info.name in listed, f"{info.name} has __all__ but is not in docs' PUBLIC_MODULES"


# ---- the built site ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The built HTML: $LINNET_DOCS_HTML (CI builds it first, with the gallery), else a build here
    without running the gallery (the gallery tests above run its scripts)."""
    given = os.environ.get("LINNET_DOCS_HTML")
    if given:
        path = Path(given)
        assert (path / "index.html").exists(), f"LINNET_DOCS_HTML={given} has no index.html"
        return path
    if not (DOCS / "conf.py").exists():
        pytest.skip("docs/ is not next to the tests (installed wheel)")
    for mod in ("sphinx", "myst_parser", "sphinx_gallery", "furo"):
        pytest.importorskip(mod, reason=f"{mod} is not installed (pip install -e '.[docs]')")
    out = tmp_path_factory.mktemp("html")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            "-D",
            "plot_gallery=0",
            "-d",
            str(out / ".doctrees"),
            str(DOCS),
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-5000:]
    return out


def _inventory(site: Path) -> set[str]:
    from sphinx.util.inventory import InventoryFile

    with open(site / "objects.inv", "rb") as fh:
        inv = InventoryFile.load(fh, "", lambda *a: "")
    try:  # Sphinx ≥ 8.2: an _Inventory object
        data = inv.data
    except AttributeError:
        data = inv
    return {name for kind, entries in data.items() if kind.startswith("py:") for name in entries}


@needs_docs
def test_every_public_name_is_in_the_built_reference(site):
    ext = _ext()
    names = _inventory(site)
    absent = []
    for mod in ext.PUBLIC_MODULES:
        assert mod in names, f"module {mod} is not in the reference"
        page = (site / "api" / f"{mod.replace('.', '_')}.html").read_text(encoding="utf-8")
        for n in ext.public_names(mod):
            full = f"{mod}.{n}"
            if full not in names and f"{mod}.{n}" not in page:
                absent.append(full)
    assert not absent, f"public names missing from the API reference: {absent}"


@needs_docs
def test_generated_pages_are_there(site):
    from theory.claims import CLAIMS

    claims = (site / "claims.html").read_text(encoding="utf-8")
    for cid in CLAIMS:
        assert cid in claims, f"claim {cid} is not on the claims page"
    assert "Benchmark results" in (site / "benchmarks.html").read_text(encoding="utf-8")
    assert (site / "findings.html").exists() and (site / "changelog.html").exists()
    gallery = (site / "auto_gallery" / "index.html").read_text(encoding="utf-8")
    for p in GALLERY:
        assert f"{p.stem}.html" in gallery


@needs_docs
def test_benchmark_results_render_generically(tmp_path):
    """A table per list of records, whatever the file's structure; headings never skip a level."""
    ext = _ext()
    results = tmp_path / "results"
    results.mkdir()
    (results / "a.json").write_text(
        '{"machine": "x", "rows": [{"model": "cnn", "n": 250, "s": 0.8, "step_s": [0.1, 0.2, 0.3, 0.4, 0.5,'
        ' 0.6, 0.7, 0.8, 0.9]}, {"model": "cnn", "n": 500, "t": 1}], "nested": {"more": [{"k": 1}]},'
        ' "numbers": [1, 2]}'
    )
    (results / "b.json").write_text('[{"x": 1, "y": {"deep": {"deeper": {"z": [{"q": 2}]}}}}]')
    (results / "c.json").write_text('{"only": {"nested": {"rows": [{"a": 1}]}}}')
    (results / "broken.json").write_text("{")
    page = tmp_path / "b.md"
    assert ext.write_benchmarks(page, results) == ["a.json", "b.json", "broken.json", "c.json"]
    text = page.read_text()
    assert "| model | n | s | step_s | t |" in text and "| cnn | 500 |  |  | 1 |" in text
    assert "9 values: min 0.1, median 0.5, max 0.9" in text
    assert "| k |" in text and "| x |" in text and "| q |" in text and "| a |" in text
    assert "Could not be read" in text and "**machine**: x" in text and "**numbers**: 1, 2" in text
    levels = [len(m.group(1)) for m in re.finditer(r"^(#+) ", text, flags=re.M)]
    assert levels[0] == 1 and all(b <= a + 1 for a, b in zip(levels, levels[1:], strict=False)), levels


IMG_WIDTHS = "els => els.map(e => e.complete ? e.naturalWidth : 0)"
HREFS = "els => els.map(e => e.getAttribute('href'))"


@needs_docs
def test_pages_open_in_a_browser(site, tmp_path):
    """Every page loads in headless Chromium with its title, no broken internal link target, and every
    image decoded; the start page is screenshot. Skipped only where no browser is installed."""
    sync_playwright, exe = headless_chromium()
    skip = ("_", "genindex", "search", "py-modindex")
    pages = sorted(
        p
        for p in site.rglob("*.html")
        if not p.name.startswith(skip) and not {"_modules", "_sources"} & set(p.parts)
    )
    assert len(pages) >= 20, pages
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            for p in pages:
                page.goto(p.as_uri(), wait_until="load")
                assert "linnet" in page.title(), (p, page.title())
                assert page.query_selector("article h1") is not None, f"{p} has no heading"
                widths = page.eval_on_selector_all("article img", IMG_WIDTHS)
                assert all(w > 0 for w in widths), f"{p}: an image did not decode"
                # in-page anchors resolve
                anchors = page.eval_on_selector_all("article a[href^='#']", HREFS)
                bad = [h for h in anchors if len(h) > 1 and page.query_selector(f"[id='{h[1:]}']") is None]
                assert not bad, (p, bad)
            assert not errors, errors
            page.goto((site / "index.html").as_uri(), wait_until="load")
            shot = tmp_path / "index.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            nav = page.eval_on_selector_all("a.reference.internal", HREFS)
            for target in ("quickstart.html", "claims.html", "findings.html", "api/index.html"):
                assert any(h and h.split("#")[0].endswith(target) for h in nav), target
        finally:
            browser.close()


@needs_docs
def test_plain_text_docstrings_are_made_safe_for_rst():
    """Norms |x| are not substitutions, ``**kwargs`` opens no emphasis, a bullet list may end in a
    paragraph; literals and real emphasis are left alone."""
    ext = _ext()
    lines = ["‖a‖ and |⟨u₁, v₁⟩| but ``|x|``", "f(**kwargs), *copied*", "* one", "  two", "after"]
    assert ext.plain_docstring(lines) == [
        "‖a‖ and \\|⟨u₁, v₁⟩\\| but ``|x|``",
        "f(\\*\\*kwargs), *copied*",
        "* one",
        "  two",
        "",
        "after",
    ]


@needs_docs
def test_the_pages_name_only_what_exists():
    """Every `linnet.…`, `theory.…` or `validation.…` name written in the pages and the README
    imports (a rename must update the docs)."""
    import importlib

    def exists(dotted: str) -> bool:
        parts = dotted.split(".")
        for i in range(len(parts), 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:i]))
            except ImportError:
                continue
            try:
                for p in parts[i:]:
                    obj = getattr(obj, p)
            except AttributeError:
                return False
            return True
        return False

    pages = [README, *DOCS.glob("*.md"), *DOCS.glob("guides/*.md")]
    missing = sorted(
        {
            (m.group(1), p.name)
            for p in pages
            if p.name != "findings.md" and p.exists()
            for m in re.finditer(r"`((?:linnet|theory|validation)(?:\.\w+)+)", p.read_text(encoding="utf-8"))
            if not exists(m.group(1))
        }
    )
    assert not missing, f"names in the docs that do not exist: {missing}"
