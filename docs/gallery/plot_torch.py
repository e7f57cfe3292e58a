"""
PyTorch models
==============

Any ``nn.Module`` with one output and a linear last layer runs through :func:`linnet.train` as a
:class:`linnet.torch.TorchModel`: Λ = λ_max(G) every step by the eigen-tracker on Jacobian
products, ‖A‖² and ‖G_A‖ from the output layer, the Hessian's top eigenvalue on request. Here the
paper's CNN (App. A.2, Table 3) on a few small images, in float64.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch

import linnet
from linnet.torch import TorchModel, load_final, paper_cnn

torch.set_num_threads(1)  # at these sizes one thread is fastest (and shares the machine best)
torch.manual_seed(0)
X, Y = linnet.make_data("cifar-like", n=32, d=3 * 8 * 8, seed=0)
images = X.T.reshape(32, 3, 8, 8)  # samples first, as the module takes them

net = paper_cnn("tanh", in_shape=(3, 8, 8))
model = TorchModel(net)
print(model.plan(images, Y))  # which Gram mode "auto" picks, and why

traj = linnet.train(images, Y, model=model, eta_lambda0=0.5, steps=60, dtype="float64", progress=False)
print(traj.summary())

# %%
eta = traj.config["eta"]
fig, ax = plt.subplots(figsize=(5, 3.2))
ax.plot(eta * np.asarray(traj.sharpness), lw=1, label="ηΛ")
ax.plot(eta * np.asarray(traj.ga_norm), lw=1, label="η‖G_A‖")
ax.axhline(2, color="k", ls="--", lw=0.8)
ax.set(xlabel="step", title="the paper's CNN: sharpness")
ax.legend()
fig.tight_layout()

# %%
# ``train`` leaves the module at its start; :func:`~linnet.torch.load_final` puts the trained
# parameters (and any BatchNorm buffers) into it.
load_final(net, traj)
with torch.no_grad():
    out = net(torch.as_tensor(images, dtype=next(net.parameters()).dtype)).squeeze(-1)
print("loss of the trained module:", float(((out.double() - torch.as_tensor(Y)) ** 2).mean() / 2))
print("the trajectory's last loss:", traj.loss[-1])
