"""
Checking your own model
=======================

Does the paper's §3 picture hold for a network you train? :func:`validation.own_model.check_model`
(what ``python -m validation --model MODULE:FUNCTION`` calls) trains it by full-batch GD from
η = c/Λ(0), with c small enough that PS is progressive, until the edge of stability has lasted as
long as PS, and judges each §3 claim behind a gate: a run outside the claim's regime is "not
comparable", never "differs". The model is an ``nn.Module`` with one output and a linear last
layer, or one of linnet's families; here a small tanh net (:class:`linnet.MLP`, the fastest on a
CPU) on 100 built-in images with random labels.
"""

import tempfile
from pathlib import Path

import matplotlib.image as mpimg
import matplotlib.pyplot as plt

import linnet
from validation.own_model import check_model

X, Y = linnet.make_data("cifar-like", n=100, d=64, seed=0, labels="random")
model = linnet.MLP((64, 64, 64, 1), activation="tanh", init="torch", seed=0)
# an nn.Module works the same: check_model(net, X.T, Y, ...), X samples first as the module takes it
out = tempfile.mkdtemp(prefix="report-model-")
card = check_model(model, X.T, Y, eta_lambda0=1 / 32, steps=1500, hessian_every=100, out=out, progress=False)

# %%
# The scorecard: each §3 claim's verdict, with the number its rule was applied to and why.
for v in card.verdicts:
    print(f"{v.claim}: {v.verdict}\n    {v.reason}")

# %%
# ``out/`` holds the report (``index.md``, the figures like the paper's Figs. 1–3, 15 and 17),
# ``summary.json`` and ``trajectory.npz``, which ``python -m theory check out/trajectory.npz``
# replays exactly and checks.
print(sorted(p.name for p in Path(out).iterdir()))

# %%
# The report's first figure, like the paper's Fig. 1: the sharpness against 2/η, and the loss.
fig, ax = plt.subplots(figsize=(8, 4))
ax.imshow(mpimg.imread(Path(out) / "fig1_sharpness.png"))
ax.axis("off")
fig.tight_layout()
