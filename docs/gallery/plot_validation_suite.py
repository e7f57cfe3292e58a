"""
The validation suite
====================

``python -m validation`` runs every experiment, judges each of the paper's claims with a rule
stated in advance, and writes a report. Here one experiment — the one-point catapult — at the
quick sizes, through the same entry point (``python -m validation --quick --only catapult``).
"""

import json
import tempfile
from pathlib import Path

import matplotlib.image as mpimg
import matplotlib.pyplot as plt

import validation

out = Path(tempfile.mkdtemp(prefix="report-"))
results, failures = validation.run(
    str(out), quick=True, only=["catapult"], seeds=1, trajectories=False, progress=False
)
print("failed identities or rigorous inequalities:", failures or "none")
for r in results:
    print(r.name, "—", r.title, f"({r.paper}):", r.metrics)

# %%
# ``summary.json`` holds the scorecard: one row per claim, with its verdict, the number the rule
# was applied to and the paper's sentence. Claims whose experiment did not run say "not
# applicable".
summary = json.loads((out / "summary.json").read_text())
for row in summary["scorecard"]:
    if row["verdict"] != "not applicable":
        print(f"{row['claim']}: {row['verdict']} (number {row['number']})")
        print("  rule:", row["threshold"])
        print("  paper:", row["paper_quote"])

# %%
# The report's figure for this experiment (``report/catapult.png``):
fig, ax = plt.subplots(figsize=(7, 4))
ax.imshow(mpimg.imread(out / "catapult.png"))
ax.axis("off")
fig.tight_layout()
print(sorted(p.name for p in out.iterdir() if not p.name.startswith(".")))
