"""
Deep fully connected nets
=========================

:class:`linnet.MLP` is a bias-free fully connected net of any depth (the paper's §3 and App. A.2),
computed exactly and trained by the same :func:`linnet.train` loop: the sharpness Λ = λ_max(G)
every step, ‖A‖² (the output layer), ‖G_A‖ and the Hessian's top eigenvalue on request.
"""

import matplotlib.pyplot as plt
import numpy as np

import linnet
import theory

X, Y = linnet.make_data("cifar-like", n=64, d=32, seed=0)
model = linnet.MLP((32, 32, 32, 1), activation="tanh", init="torch", seed=0)
traj = linnet.train(X, Y, model=model, eta_lambda0=0.2, steps=600, hessian_every=100, progress=False)
print(traj.summary())

# %%
# Λ against 2/η, and ‖A‖² beside it (A3.1: they move together during PS and the first
# oscillations); ‖G_A‖, the output layer's part of G, stays far below ‖G‖.
eta = traj.config["eta"]
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2))
ax1.plot(eta * np.asarray(traj.sharpness), lw=1, label="ηΛ")
ax1.plot(eta * np.asarray(traj.ga_norm), lw=1, label="η‖G_A‖")
ax1.axhline(2, color="k", ls="--", lw=0.8)
ax1.set(xlabel="step", title="sharpness")
ax1.legend()
ax2.plot(traj.a_norm2, lw=1)
ax2.set(xlabel="step", ylabel="‖A‖²", title="output layer norm")
fig.tight_layout()

# %%
# The Hessian's top eigenvalue, every 100 steps, beside Λ (the Gauss–Newton part of the Hessian):
for step, h in zip(traj.hessian_step, traj.hessian_sharpness, strict=True):
    print(f"step {int(step):4d}: λ_max(∇²L) = {h:.4f}, Λ = {traj.sharpness[int(step)]:.4f}")

# %%
# The §3 checks apply to any network with a linear last layer; the linear net's §4 ones say
# "not applicable".
table = theory.check_all(traj, X, Y)
for name in ("A3.1", "A3.5"):
    print(name, table[name].status, table[name].fitted)
