"""Package layering (linnet never imports theory or validation), the sweep's checker hook, the
one version, and the TOML reader on every supported Python."""

import csv
import json
import os
import subprocess
import sys

import pytest

import linnet
from linnet import sweeps

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, as the tomli package (a dependency there)
    import tomli as tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYPROJECT = os.path.join(ROOT, "pyproject.toml")
needs_source_tree = pytest.mark.skipif(
    not os.path.exists(PYPROJECT), reason="pyproject.toml is not next to the tests (installed wheel)"
)
TINY = dict(
    fixed=dict(kind="cifar-like", n=8, d=10, m=6, steps=20, init="symmetric"),
    grid=dict(eta_lambda0=[0.5, 1.9]),
)


def test_no_linnet_module_imports_theory_or_validation():
    script = """
import importlib, json, pkgutil, sys
import linnet
names = sorted(m.name for m in pkgutil.walk_packages(linnet.__path__, "linnet."))
for name in names:
    importlib.import_module(name)
print(json.dumps(dict(names=names, leaked=sorted(m for m in sys.modules
      if m.split(".")[0] in ("theory", "validation")))))
"""
    res = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert "linnet.sweeps" in got["names"]
    # the benchmarks are outside the package (benchmarks/, not in the wheel)
    assert not [n for n in got["names"] if n.startswith("linnet.bench")]
    assert "linnet.analysis" in got["names"]
    assert got["leaked"] == [], f"linnet imported {got['leaked']}"


def test_no_linnet_source_names_theory_or_validation_in_an_import():
    """The lazy imports inside functions too, which importing the modules does not run."""
    import ast

    bad = []
    pkg = os.path.dirname(linnet.__file__)  # the installed package, or the source tree's
    for f in _sources(pkg):
        if f.endswith(".py"):
            with open(os.path.join(pkg, f), encoding="utf-8") as fh:
                tree = ast.parse(fh.read(), f)
            for node in ast.walk(tree):
                mods = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                    if isinstance(node, ast.ImportFrom) and not node.level
                    else []
                )
                bad += [f"{f}:{node.lineno} {m}" for m in mods if m.split(".")[0] in ("theory", "validation")]
    assert bad == []


def _sources(pkg):
    """The package's .py files, subpackages included, relative to ``pkg``."""
    return sorted(
        os.path.relpath(os.path.join(root, f), pkg)
        for root, _, files in os.walk(pkg)
        for f in files
        if f.endswith(".py")
    )


# a family's own code may name it: its module in linnet/families/, and the PyTorch adapter
FAMILY_OWN = ("families" + os.sep, "torch.py")


def test_no_code_outside_a_family_branches_on_its_name():
    """Comparisons (==, !=, in) with a family's or a sweep model's name appear only in that
    family's own code; elsewhere code asks linnet.families.capabilities."""
    import ast

    from linnet.families import FAMILIES, SWEEP_MODELS

    names = set(FAMILIES) | set(SWEEP_MODELS)
    pkg = os.path.dirname(linnet.__file__)
    files = [(os.path.join(pkg, f), f) for f in _sources(pkg) if not f.startswith(FAMILY_OWN)]
    theory_dir = os.path.join(os.path.dirname(pkg), "theory")
    files += [
        (os.path.join(theory_dir, f), f"theory/{f}")
        for f in ("record.py", "checks.py")
        if os.path.exists(os.path.join(theory_dir, f))
    ]
    bad = []
    for path, label in files:
        with open(path, encoding="utf-8") as fh:
            tree = ast.parse(fh.read(), label)
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare):
                consts = [
                    c
                    for c in (node.left, *node.comparators)
                    if isinstance(c, ast.Constant) and c.value in names
                ]
                consts += [
                    e
                    for c in node.comparators
                    if isinstance(c, (ast.Tuple, ast.List, ast.Set))
                    for e in c.elts
                    if isinstance(e, ast.Constant) and e.value in names
                ]
                # "torch" also names PyTorch's package and an init scheme: there only comparisons
                # of a family or model count
                about_family = any(w in ast.unparse(node) for w in ("family", "model"))
                consts = [c for c in consts if c.value != "torch" or about_family]
                if consts:
                    bad.append(f"{label}:{node.lineno} {consts[0].value!r}")
    assert bad == []


def test_theory_phases_reexports_linnet_analysis():
    import linnet.analysis as analysis
    import theory
    import theory.phases as phases

    for name in (
        "phase_labels",
        "PhaseInterval",
        "phase_intervals",
        "phase_fractions",
        "first_above",
        "upward_crossings",
        "phase_two_starts",
        "excursions",
        "PHASES",
    ):
        assert getattr(phases, name) is getattr(analysis, name)
    assert theory.phase_labels is analysis.phase_labels


def _checker(traj, X, Y):  # module level: a process pool pickles it by name
    return {"n_seen": X.shape[1], "final": float(traj.loss[-1])}


def test_checker_hook_as_callable_and_as_name(tmp_path):
    rows = sweeps.run_sweep(TINY, str(tmp_path / "a"), workers=1, checker=_checker, progress=False)
    assert all(r["n_seen"] == 8 and r["final"] == r["final_loss"] for r in rows)
    # a name is imported where the run executes (here: in the worker processes)
    rows = sweeps.run_sweep(
        TINY, str(tmp_path / "b"), workers=1, checker="theory.checks:sweep_checker", progress=False
    )
    assert all(r["rigorous_failures"] == 0 and "eps" in r for r in rows)
    with pytest.raises(ValueError, match="cannot load the checker"):
        sweeps.run_sweep(TINY, str(tmp_path / "c"), workers=1, checker="theory.checks:nothing_here")
    with pytest.raises(ValueError, match="module:function"):
        sweeps.run_sweep(TINY, str(tmp_path / "c"), workers=1, checker="theory.checks")
    with pytest.raises(ValueError, match="sweep.checker"):
        sweeps.run_sweep(dict(TINY, sweep=dict(check=True)), str(tmp_path / "c"), workers=1)
    bad = sweeps.run_one(sweeps.expand_grid(TINY)[0], checker=lambda t, X, Y: 3)
    assert bad["status"] == "error" and "not a dict" in bad["error"]


def test_theory_sweep_cli_runs_the_checks(tmp_path, capsys):
    import theory.__main__ as tmain

    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[fixed]\nkind = "cifar-like"\nn = 8\nd = 10\nm = 6\nsteps = 20\n[grid]\neta_lambda0 = [0.5, 1.9]\n'
    )
    assert tmain.main(["sweep", str(cfg), "--out", str(tmp_path / "o"), "--workers", "1"]) == 0
    assert "2 runs" in capsys.readouterr().out
    with open(tmp_path / "o" / "summary.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["rigorous_failures"] for r in rows] == ["0", "0"]
    with pytest.raises(SystemExit):  # the old flag says where it went
        sweeps.main([str(cfg), "--check"])
    assert "--checker theory.checks:sweep_checker" in capsys.readouterr().err


@needs_source_tree
def test_version_has_one_source():
    with open(PYPROJECT, "rb") as fh:
        project = tomllib.load(fh)
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "linnet.__version__"}
    assert isinstance(linnet.__version__, str) and linnet.__version__.count(".") == 2


@needs_source_tree
def test_toml_reader_on_310_and_311(tmp_path, monkeypatch):
    with open(PYPROJECT, "rb") as fh:
        deps = tomllib.load(fh)["project"]["dependencies"]
    assert "tomli>=2; python_version<'3.11'" in deps
    cfg = tmp_path / "c.toml"
    cfg.write_text("[grid]\nm = [4]\n")
    assert sweeps.load_config(cfg) == {"grid": {"m": [4]}}
    # on 3.10 the same code takes tomli (stood in for by tomllib here)
    monkeypatch.setattr(sys, "version_info", (3, 10, 0))
    monkeypatch.setitem(sys.modules, "tomli", tomllib)
    assert sweeps.load_config(cfg) == {"grid": {"m": [4]}}
    (tmp_path / "bad.toml").write_text("[grid\n")
    with pytest.raises(ValueError, match="not valid TOML"):
        sweeps.load_config(tmp_path / "bad.toml")


def test_this_file_reads_toml_on_310(monkeypatch):
    """Python 3.10 has no tomllib: this file reads pyproject.toml with tomli there (run here as
    3.10 with tomllib hidden and standing in for tomli)."""
    import importlib.util

    monkeypatch.setattr(sys, "version_info", (3, 10, 0))
    monkeypatch.setitem(sys.modules, "tomllib", None)  # `import tomllib` fails, as on 3.10
    monkeypatch.setitem(sys.modules, "tomli", tomllib)
    spec = importlib.util.spec_from_file_location("test_layers_on_310", __file__)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.tomllib is tomllib


@pytest.mark.parametrize(
    "public", ["linnet", "linnet.jit", "linnet.torch", "linnet.linear2", "linnet.linalg"]
)
def test_the_public_modules_import_without_a_deprecation_warning(public):
    if public == "linnet.torch":
        pytest.importorskip("torch")
    res = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", f"import {public}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr


def test_the_public_modules_reexport_the_family_objects():
    import linnet.jit
    from linnet.families.linear2 import jit as family_jit

    assert linnet.jit.warm_up is family_jit.warm_up and linnet.jit.limit_threads is family_jit.limit_threads


def test_no_module_of_linnet_is_named_after_a_public_function():
    """Importing such a module by its name (`import linnet.gram as g`) would bind the function, or
    replace it by the module on first import. The deprecated alias modules (linnet.gram, .lanczos,
    …) are gone; linnet.train, module and function, is the one left (issue 33: train's rework)."""
    import pkgutil
    import types

    modules = {m.name for m in pkgutil.iter_modules(linnet.__path__)}
    clash = sorted(
        n for n in modules if not isinstance(getattr(linnet, n, None), (types.ModuleType, type(None)))
    )
    assert clash == ["train"]
    assert not any(m in modules for m in ("gram", "lanczos", "observers", "trajectory", "_moved"))


def test_the_lower_layers_import_nothing_above_them():
    """linnet.linalg (eigensolvers) needs only the array helpers; the stop protocol and the
    families' base nothing of linnet at all: the layers run/ and families/ are built on them."""
    import ast

    pkg = os.path.dirname(linnet.__file__)
    allowed = {
        os.path.join("linalg", "lanczos.py"): {"_types"},
        os.path.join("linalg", "tracking.py"): {"_backend", "_types"},
        os.path.join("run", "stop.py"): set(),
        os.path.join("families", "base.py"): set(),
    }
    bad = []
    for rel, ok in allowed.items():
        with open(os.path.join(pkg, rel), encoding="utf-8") as fh:
            tree = ast.parse(fh.read(), rel)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                # relative: resolve to a top-level linnet module name
                parts = rel.split(os.sep)[:-1]
                base = parts[: len(parts) - (node.level - 1)]
                target = [*base, *((node.module or "").split(".") if node.module else [])]
                top = target[0] if target else ""
                if top and top != parts[0] and top not in ok:
                    bad.append(f"{rel}:{node.lineno} {'.' * node.level}{node.module or ''}")
                if not target and node.module is None:  # "from .. import x"
                    bad += [f"{rel}:{node.lineno} {a.name}" for a in node.names if a.name not in ok]
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                bad += [f"{rel}:{node.lineno} {m}" for m in mods if m.split(".")[0] == "linnet"]
    assert bad == []
