"""
The linear net and the theory checks
====================================

Train the paper's two-layer linear network f(x) = α aᵀWx from the symmetric initialisation
(F(0) = 0) at η = 1.8/Λ(0), watch the sharpness Λ rise to 2/η (progressive sharpening) and hover
there (the edge of stability), then check every statement of the paper on the run.
"""

import matplotlib.pyplot as plt
import numpy as np

import linnet
import theory

X, Y = linnet.make_data("cifar-like", n=60, d=96, seed=0)  # X is d×n: samples as columns
model = linnet.LinearNet(m=30, init="symmetric", seed=0)
traj = linnet.train(X, Y, model=model, eta_lambda0=1.8, steps=1500, progress=False)
print(traj.summary())

# %%
# The per-step arrays: Λ (``traj.sharpness``) against 2/η, and the loss.
eta = traj.config["eta"]
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2))
ax1.plot(eta * np.asarray(traj.sharpness), lw=1)
ax1.axhline(2, color="k", ls="--", lw=0.8)
ax1.set(xlabel="step", ylabel="ηΛ", title="sharpness: PS, then the EoS")
ax2.semilogy(traj.loss, lw=1)
ax2.set(xlabel="step", ylabel="loss", title="loss: non-monotone in the EoS")
fig.tight_layout()

# %%
# Every statement of the paper, checked on the run (the run is replayed exactly). Identities and
# rigorous bounds must hold wherever their premises do; assumptions report the constant that
# makes them hold.
table = theory.check_all(traj, X, Y)
for row in table:
    if row.kind in ("identity", "rigorous"):
        print(f"{row.name:32s} {row.kind:10s} {row.status}")
print(len(table.failures()), "identities or rigorous bounds failed")

# %%
# The pure functions work on arrays: one GD step (eq. 6) and the exact update of the residual
# through G̃ (D⁺ = (I − ηG̃) D).
W, a = traj.W0, traj.a0
W1, a1 = linnet.gd_step(W, a, X, Y, eta)
D, D1 = linnet.residual(W, a, X, Y), linnet.residual(W1, a1, X, Y)
Gt = linnet.gram_tilde(W, a, X, Y, eta)
print("max |D⁺ − (I − ηG̃)D| =", np.max(np.abs(D1 - (D - eta * Gt @ D))))
