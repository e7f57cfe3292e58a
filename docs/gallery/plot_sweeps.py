"""
Sweeps
======

A sweep runs one trajectory per point of a grid and writes one row of summary numbers per run.
Here the catapult example (``examples/catapult.toml``: one data point, wide nets) on a coarse
grid: GD converges monotonically below ηλ₀ = 2, catapults between 2 and 4, and diverges above 4
(Lewkowycz et al.).
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

import linnet
from linnet.sweeps import load_config

# %%
# The configuration file's grid, made coarser and shorter so that it runs in seconds.
root = Path(linnet.__file__).resolve().parent.parent
cfg = load_config(root / "examples" / "catapult.toml")
print(cfg["grid"])
grid = {"eta_lambda0": [1.5, 1.95, 2.2, 3.0, 3.8, 4.2], "m": [256]}
fixed = {**cfg["fixed"], "steps": 300}

out = tempfile.mkdtemp(prefix="sweep-catapult-")
rows = linnet.sweep(grid, fixed=fixed, out=out, workers=1, progress=False)
for r in sorted(rows, key=lambda r: r["eta_lambda0"]):
    print(f"ηλ₀ = {r['eta_lambda0']:<5} m = {r['m']}: {r['outcome']:10s} max ηΛ = {r['max_eta_lambda']:.3g}")

# %%
# ``OUT/summary.csv`` has the same rows; ``OUT/done/`` one JSON record per finished run, so an
# interrupted sweep resumes where it stopped. The outcome against ηλ₀:
colors = {"monotone": "tab:blue", "catapult": "tab:orange", "diverged": "tab:red", "eos": "tab:green"}
fig, ax = plt.subplots(figsize=(6, 1.8))
for r in rows:
    ax.scatter(r["eta_lambda0"], 0, color=colors.get(r["outcome"], "k"), s=60, label=r["outcome"])
by_label = dict(zip(*ax.get_legend_handles_labels()[::-1], strict=True))  # one entry per outcome
ax.legend(by_label.values(), by_label.keys(), ncol=3, loc="upper left")
ax.set(xlabel="ηλ₀", yticks=[], ylim=(-1, 1.5))
for x in (2, 4):
    ax.axvline(x, color="k", ls="--", lw=0.8)
fig.tight_layout()
print(sorted(p.name for p in Path(out).iterdir()))
