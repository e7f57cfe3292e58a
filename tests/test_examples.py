"""The linear-net guide's script (docs/guides/linear-net.md, "Import it in a script") and the example
sweep configs, run at tiny sizes (they cannot drift)."""
from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

import linnet
from linnet.sweeps import load_config

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "guides" / "linear-net.md"
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))

# (text in the guide's snippet, its tiny replacement); each must match exactly once
SNIPPET_SUBSTITUTIONS = [
    ('n=1000, d=3072, seed=0)', 'n=12, d=16, seed=0)'),
    ('linnet.init_params(100, X,', 'linnet.init_params(8, X,'),
    ('steps=2000,', 'steps=20,'),
    ('hessian_every=100)', 'hessian_every=10)'),
]


def guide_snippet() -> str:
    """The ```python block under the heading "## Import it in a script"."""
    text = GUIDE.read_text(encoding="utf-8")
    m = re.search(r"^## Import it in a script\s*$(.*?)^## ", text + "\n## ", flags=re.M | re.S)
    assert m, f"{GUIDE} has no section '## Import it in a script'"
    block = re.search(r"^```python\n(.*?)^```", m.group(1), flags=re.M | re.S)
    assert block, "the section '## Import it in a script' has no ```python block"
    return block.group(1)


@pytest.mark.skipif(not GUIDE.exists(), reason="docs/ is not next to the tests (installed wheel)")
def test_guide_snippet_runs_at_tiny_sizes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # it writes run.npz
    code = guide_snippet()
    for old, new in SNIPPET_SUBSTITUTIONS:
        count = code.count(old)
        assert count == 1, f"the guide's snippet should contain {old!r} once, found {count}: update the table"
        code = code.replace(old, new)
    ns: dict = {}
    exec(compile(code, f"{GUIDE}:'Import it in a script'", "exec"), ns)
    assert ns["traj"].steps >= 1 and math.isfinite(ns["value"])  # tiny runs may stop early (divergence)
    assert (tmp_path / "run.npz").exists()


def shrink(cfg: dict) -> dict:
    """The config with each grid axis cut to its first and last point and tiny sizes/steps."""
    fixed = dict(cfg.get("fixed", {}))
    for key, small in (("n", 8), ("d", 10), ("steps", 15)):
        if key in fixed:
            fixed[key] = min(fixed[key], small)
    grid = {}
    for key, values in cfg["grid"].items():
        pts = [values[0], values[-1]] if len(values) > 1 else list(values)
        if key == "m":
            pts = sorted({min(v, 16) for v in pts})
        grid[key] = pts
    return {**cfg, "fixed": fixed, "grid": grid}


@pytest.mark.skipif(not EXAMPLES, reason="examples/ is not next to the tests (installed wheel)")
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_sweep_runs_at_tiny_sizes(path, tmp_path):
    cfg = shrink(load_config(path))
    assert cfg["grid"], f"{path.name} has an empty [grid]"
    rows = linnet.sweep(cfg["grid"], fixed=cfg["fixed"], out=str(tmp_path), workers=1, progress=False)
    expected = math.prod(len(v) for v in cfg["grid"].values())
    assert len(rows) == expected
    assert all(r.get("outcome") for r in rows), rows
