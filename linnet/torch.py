"""PyTorch models in linnet's GD loop: :class:`TorchModel` wraps an ``nn.Module`` with one output.

``train(X, Y, model=TorchModel(net), eta=..., steps=...)`` runs full-batch GD on the MSE loss
L(θ) = ‖F(θ) − Y‖²/(2n) over every parameter of ``net`` (flattened into one vector θ and applied
with ``torch.func.functional_call``) and records the same trajectory as :class:`linnet.MLP`:
Λ = λ_max(G), G = JJᵀ/n (J = ∂F/∂θ, n×P); ‖A‖² (the output layer's weight); ‖G_A‖ exactly from
the penultimate features; the Hessian's top eigenvalue. X is samples first (n×…, a tensor or an
array, as the module takes it); linnet itself sees X flattened to d×n only for its data spectrum
(K = XᵀX/n's eigenvectors, for ``d_top``/``f_top``).

Products (all matrix-free unless the dense Gram is cheap):

* G v = J(Jᵀv)/n: ``torch.func.vjp`` then ``torch.func.jvp`` (dense path: J by
  ``torch.func.jacrev``, G = JJᵀ/n formed once per state, for n·P ≤ ``DENSE_MAX_JAC``);
* ∇²L v: forward-over-reverse, ``torch.func.jvp`` of ``torch.func.grad`` of L;
* ‖G_A‖ = λ_max((HᵀH + b·11ᵀ)/n), H the n×h input of the output ``nn.Linear`` (captured by a
  forward hook), b = 1 when that layer has a bias (the bias is part of the output layer: its
  Jacobian column is 1) and 0 otherwise; solved as the (h+b)×(h+b) problem.

Array exchange (design choice): linnet's eigensolvers (:class:`linnet.tracking.EigTracker`,
:func:`linnet.lanczos.lanczos`) run on NumPy vectors; this engine exposes ``xp = numpy`` and
converts at its boundary with ``torch.from_numpy`` / ``Tensor.numpy()``. On the CPU these share
memory (no copy); on a GPU every product copies one n-vector (or P-vector for the Hessian) each way
between host and device — the heavy work (forward, vjp/jvp) stays on the module's device, but the
"no host copy per iteration" goal is *not* met on GPU.

BatchNorm: full-batch GD trains the train-mode function (batch statistics). Modules with
``track_running_stats=True`` would update their running statistics in place inside the function
transforms; here the transforms run with tracking switched off (the train-mode output is the same:
it uses batch statistics either way) and the running statistics are updated once per GD step by a
plain forward at the state the step starts from, as a PyTorch training loop would. Random layers
(``nn.Dropout`` and relatives) are refused: the loss would not be a function of θ.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, jacrev, jvp, vjp

from .families import Built

RANDOM_LAYERS = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
                 nn.FeatureAlphaDropout)
GRAM_MODES = ("auto", "dense", "matrix-free")
DENSE_MAX_JAC = 20_000_000  # entries of J (n×P) up to which "auto" forms G densely (160 MB in float64)

_TORCH_DTYPES = {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32}


def _torch_dtype(dtype: Any) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    dt = np.dtype(dtype)
    if dt not in _TORCH_DTYPES:
        raise TypeError(f"dtype={dt} is not supported: use 'float64' (default) or 'float32'")
    return _TORCH_DTYPES[dt]


def _named(module: nn.Module, target: nn.Module) -> str:
    for name, m in module.named_modules():
        if m is target:
            return name or "<root>"
    return type(target).__name__


def _tracking_bn(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]


@contextlib.contextmanager
def _no_running_stats(bns: list[nn.Module]):
    """Switch running-statistic tracking off in ``bns`` (train mode: same output, no mutation)."""
    for m in bns:
        m.track_running_stats = False  # type: ignore[assignment]
    try:
        yield
    finally:
        for m in bns:
            m.track_running_stats = True  # type: ignore[assignment]


class TorchModel:
    """A PyTorch ``nn.Module`` with one output, trained by linnet's GD loop.

    ``output``: the output layer, an ``nn.Linear`` with ``out_features == 1`` (the module itself
    or its name in ``module.named_modules()``); default the last ``nn.Linear`` in module order.
    It must be the layer that produces the output (its input H is the penultimate feature matrix
    used for ‖G_A‖). The module is converted in place to the run's dtype (``float64`` by default,
    ``.double()``) and set to train mode; its parameters and buffers are *copied* into the engine,
    so the module keeps its initial values (:func:`load_final` loads the trained ones).
    ``gram``: "dense", "matrix-free", or "auto" (dense when n·P ≤ ``DENSE_MAX_JAC``).
    """

    family = "torch"

    def __init__(self, module: nn.Module, *, output: nn.Module | str | None = None,
                 gram: str = "auto"):
        if not isinstance(module, nn.Module):
            raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
        for name, m in module.named_modules():
            if isinstance(m, RANDOM_LAYERS):
                raise ValueError(f"module {name or '<root>'!r} is {type(m).__name__}: a random layer "
                                 "makes the loss not a function of the parameters, so full-batch GD "
                                 "and its sharpness are undefined; remove it (or use nn.Identity)")
        if gram not in GRAM_MODES:
            raise ValueError(f"gram={gram!r} is unknown: use one of {GRAM_MODES}")
        if output is None:
            linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
            if not linears:
                raise ValueError("module has no nn.Linear: pass output=<the output layer>")
            output = linears[-1]
        elif isinstance(output, str):
            mods = dict(module.named_modules())
            if output not in mods:
                raise ValueError(f"output={output!r} is not a submodule name of the module")
            output = mods[output]
        if not isinstance(output, nn.Linear):
            raise ValueError(f"the output layer must be an nn.Linear, got {type(output).__name__}")
        if output.out_features != 1:
            raise ValueError(f"the output layer {_named(module, output)!r} has out_features="
                             f"{output.out_features}: linnet needs one output (out_features=1)")
        if not any(output is m for m in module.modules()):
            raise ValueError("output= is not a submodule of the module")
        self.module, self.output, self.gram = module, output, gram
        self.output_name = _named(module, output)
        self._X: torch.Tensor | None = None

    def description(self) -> str:
        src = getattr(self.module, "architecture_source", None)
        name = getattr(self.module, "architecture", type(self.module).__name__)
        return f"torch {name}" + (f" ({src})" if src else "")

    # -- called by linnet.train --------------------------------------------------------------
    def prepare(self, X: Any, Y: Any, *, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
        """Keep X (samples first) as a tensor on the module's device in ``dtype``; return X
        flattened to d×n and Y as NumPy arrays (for linnet's data spectrum)."""
        tdt = _torch_dtype(dtype)
        self.module.to(tdt)
        device = next(iter(self.module.parameters())).device
        Xt = torch.as_tensor(X).to(device=device, dtype=tdt)
        if Xt.ndim < 2:
            raise ValueError(f"X must be samples first (n×…), got shape {tuple(Xt.shape)}")
        Yt = torch.as_tensor(Y).detach().to(dtype=tdt).reshape(-1)
        if Yt.shape[0] != Xt.shape[0]:
            raise ValueError(f"Y has {Yt.shape[0]} labels but X has {Xt.shape[0]} samples (rows)")
        self._X = Xt
        X_dn = Xt.detach().reshape(Xt.shape[0], -1).T.cpu().numpy().astype(np.dtype(dtype))
        return np.ascontiguousarray(X_dn), Yt.cpu().numpy().astype(np.dtype(dtype))

    def build(self, X: Any, Y: Any, *, spectrum: Any, dtype: Any, xp: Any, top_k: int) -> Built:
        if xp is not np:
            raise ValueError("TorchModel runs on its module's device; drop backend='cupy'")
        if self._X is None or self._X.shape[0] != X.shape[1]:
            raise ValueError("TorchModel.build needs prepare(X, Y) first (linnet.train calls it)")
        n = self._X.shape[0]
        P = sum(p.numel() for p in self.module.parameters())
        gram = self.gram if self.gram != "auto" else ("dense" if n * P <= DENSE_MAX_JAC else "matrix-free")
        eng = TorchEngine(self, spectrum, dtype=dtype, top_k=top_k, dense=gram == "dense")
        config = dict(model="torch", model_description=self.description(),
                      architecture=getattr(self.module, "architecture", type(self.module).__name__),
                      architecture_source=getattr(self.module, "architecture_source", "user module"),
                      n_params=int(P), output_layer=self.output_name,
                      output_bias=self.output.bias is not None, gram=gram, engine="torch",
                      device=str(eng.device), batchnorm_tracked=[_named(self.module, m) for m in eng.bns],
                      m=int(self.output.in_features), alpha=1.0,
                      array_exchange="numpy at the engine boundary (zero-copy on CPU)")
        theta0 = eng.theta.detach().cpu().numpy().copy()

        def specific() -> dict:
            out = dict(theta0=theta0, theta_final=eng.theta.detach().cpu().numpy().copy())
            for name, t in eng.unflatten(eng.theta).items():
                out[f"W_final_{name}"] = t.detach().cpu().numpy().copy()
            for name, b in eng.buffers.items():
                out[f"buffer_final_{name}"] = b.detach().cpu().numpy().copy()
            return out
        return Built(eng, config, specific, self.family, measures_e_hat=False, supports_flow=False)


@dataclass
class TorchObservation:
    """The quantities at one state (NumPy vectors over the n samples), with the state's tensors."""
    D: Any
    F: Any
    loss: float
    fd: float
    a_norm2: float
    d_top: Any
    f_top: Any
    grad: Any  # ∇L(θ), a tensor
    H: Any     # the output layer's input (n×h tensor)
    theta: Any
    lambda_tilde: None = None
    carried: dict = field(default_factory=dict)
    cache: dict = field(default_factory=dict)


class TorchEngine:
    """GD on the flat parameter vector θ of a :class:`TorchModel`. ``CARRY = 0``; G changes by no
    closed form (``gram_update`` None); operators take and return NumPy arrays."""
    name = "torch"
    CARRY = 0

    def __init__(self, model: TorchModel, spec: Any, *, dtype: Any, top_k: int, dense: bool):
        mod = model.module
        mod.train()
        self.module, self.out_layer = mod, model.output
        self.xp, self.dtype = np, np.dtype(dtype)
        self.tdtype = _torch_dtype(dtype)
        assert model._X is not None
        self.X = model._X
        self.device = self.X.device
        self.n, self.k = spec.n, min(top_k, spec.r)
        self.dense = dense
        self.Vk = np.ascontiguousarray(spec.V().astype(self.dtype)[:, : self.k])
        self.Y_np = np.asarray(spec.Y, dtype=self.dtype)
        self.Y = torch.as_tensor(self.Y_np, device=self.device)
        params = dict(mod.named_parameters())
        self.names = list(params)
        self.shapes = [p.shape for p in params.values()]
        self.sizes = [p.numel() for p in params.values()]
        self.theta = torch.cat([p.detach().reshape(-1) for p in params.values()]).clone()
        self.buffers = {k: b.detach().clone() for k, b in mod.named_buffers()}
        self.bns = _tracking_bn(mod)
        wname = next(k for k, p in params.items() if p is model.output.weight)
        i = self.names.index(wname)
        off = sum(self.sizes[:i])
        self.A_slice = slice(off, off + self.sizes[i])
        self.has_bias = model.output.bias is not None
        self.dim = self.n
        self.last_update = None

    # -- the function --------------------------------------------------------------------------
    def unflatten(self, theta: torch.Tensor) -> dict:
        return {name: t.view(shape) for name, t, shape in
                zip(self.names, torch.split(theta, self.sizes), self.shapes, strict=True)}

    def f(self, theta: torch.Tensor) -> torch.Tensor:
        """F(θ) ∈ R^n, the train-mode output (running statistics untouched)."""
        with _no_running_stats(self.bns):
            out = functional_call(self.module, {**self.unflatten(theta), **self.buffers}, (self.X,))
        return out.reshape(-1)

    def loss_fn(self, theta: torch.Tensor) -> torch.Tensor:
        D = self.f(theta) - self.Y
        return (D @ D) / (2 * self.n)

    def _np(self, t: torch.Tensor) -> np.ndarray:
        return t.detach().cpu().numpy()

    def _t(self, v: Any) -> torch.Tensor:
        return torch.as_tensor(np.asarray(v, dtype=self.dtype)).to(self.device)

    # -- loop interface ------------------------------------------------------------------------
    def observe(self) -> TorchObservation:
        captured: dict = {}
        hook = self.out_layer.register_forward_hook(
            lambda _m, inp, _out: captured.__setitem__("H", inp[0].detach()))
        try:
            theta = self.theta.detach().requires_grad_(True)
            with torch.enable_grad():
                F = self.f(theta)
                D = F - self.Y
                loss = (D @ D) / (2 * self.n)
                (g,) = torch.autograd.grad(loss, theta)
        finally:
            hook.remove()
        H = captured["H"].reshape(self.n, -1)
        Fn, Dn = self._np(F).copy(), self._np(D).copy()
        A = self.theta[self.A_slice]
        return TorchObservation(Dn, Fn, float(loss.detach()), float(Fn @ Dn), float(A @ A),
                                self.Vk.T @ Dn, self.Vk.T @ Fn, g, H, self.theta)

    def step(self, eta: float, obs: TorchObservation, carry: Any = ()) -> bool:
        new = self.theta - eta * obs.grad
        if not bool(torch.isfinite(new).all()):
            return False
        if self.bns:  # running statistics: one plain forward at the state the step starts from
            with torch.no_grad():
                functional_call(self.module, {**self.unflatten(self.theta), **self.buffers}, (self.X,))
        self.theta = new.detach()
        return True

    def _jacobian(self, obs: TorchObservation) -> torch.Tensor:
        if "J" not in obs.cache:
            obs.cache["J"] = jacrev(self.f)(obs.theta).detach()
        return obs.cache["J"]

    def gram_matvec(self, obs: TorchObservation):
        """v ↦ G v (v: (n,) or (n, b) NumPy), G = JJᵀ/n; dense or J(Jᵀv)/n by vjp then jvp."""
        n = self.n
        if self.dense:
            if "G" not in obs.cache:
                J = self._jacobian(obs)
                obs.cache["G"] = self._np(J @ J.T / n)
            G = obs.cache["G"]
            return lambda v: G @ v
        if "vjp" not in obs.cache:
            obs.cache["vjp"] = vjp(self.f, obs.theta)[1]
        vjp_fn = obs.cache["vjp"]

        def one(v: torch.Tensor) -> torch.Tensor:
            (u,) = vjp_fn(v)
            return jvp(self.f, (obs.theta,), (u,))[1] / n

        def matvec(v: Any) -> np.ndarray:
            vt = self._t(v)
            if vt.ndim == 1:
                return self._np(one(vt))
            return self._np(torch.stack([one(vt[:, j]) for j in range(vt.shape[1])], dim=1))
        return matvec

    def gram_update(self, updates: Any) -> None:
        return None

    def ga_norm(self, obs: TorchObservation) -> float:
        """‖G_A‖ = λ_max((HᵀH + b·11ᵀ)/n) via the (h+b)×(h+b) matrix [H, 1]ᵀ[H, 1]/n."""
        H = obs.H
        if self.has_bias:
            H = torch.cat([H, torch.ones(self.n, 1, dtype=H.dtype, device=H.device)], dim=1)
        C = (H.T @ H / self.n) if H.shape[1] <= self.n else (H @ H.T / self.n)
        return float(torch.linalg.eigvalsh(C)[-1])

    def hessian_matvec(self, obs: TorchObservation):
        """(v ↦ ∇²L v, P): forward-over-reverse, jvp of grad L."""
        gfn = grad(self.loss_fn)
        theta = obs.theta

        def matvec(v: Any) -> np.ndarray:
            return self._np(jvp(gfn, (theta,), (self._t(v),))[1])
        return matvec, int(theta.numel())

    def v1(self) -> Any:
        return self.Vk[:, 0]

    def params(self) -> dict:
        return {k: self._np(t) for k, t in self.unflatten(self.theta).items()}


def load_final(module: nn.Module, traj: Any) -> nn.Module:
    """Load a run's final parameters (``W_final_<name>``) and buffers into ``module``."""
    sp = traj.specific
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(torch.as_tensor(np.asarray(sp[f"W_final_{name}"])))
        for name, b in module.named_buffers():
            key = f"buffer_final_{name}"
            if key in sp:
                b.copy_(torch.as_tensor(np.asarray(sp[key])))
    return module


# -- architectures of the paper (App. A.2) ------------------------------------------------------
_ACTS = {"tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU}


def paper_cnn(activation: str = "tanh", in_shape: tuple[int, int, int] = (3, 32, 32)) -> nn.Module:
    """App. A.2, Table 3: conv(3→32, 3×3, pad 1), σ, maxpool 2, conv(32→32, 3×3, pad 1), σ,
    maxpool 2, flatten, Linear(32·(H/4)·(W/4), 1, bias=False) — 2048 on 32×32 CIFAR images."""
    if activation not in _ACTS:
        raise ValueError(f"activation={activation!r} is unknown: use one of {tuple(_ACTS)}")
    c, h, w = in_shape
    if h % 4 or w % 4:
        raise ValueError(f"in_shape={in_shape}: height and width must be multiples of 4 (two 2× poolings)")
    act = _ACTS[activation]
    net = nn.Sequential(
        nn.Conv2d(c, 32, kernel_size=3, padding=1), act(), nn.MaxPool2d(2),
        nn.Conv2d(32, 32, kernel_size=3, padding=1), act(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * (h // 4) * (w // 4), 1, bias=False))
    net.architecture = f"paper_cnn[{activation}]"  # type: ignore[assignment]
    net.architecture_source = "linnet (App. A.2, Table 3)"  # type: ignore[assignment]
    return net


class _BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inp: int, out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out, out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out)
        self.downsample = None
        if stride != 1 or inp != out:
            self.downsample = nn.Sequential(nn.Conv2d(inp, out, 1, stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + idt)


class _ResNet18(nn.Module):
    """torchvision.models.resnet18's layout (ImageNet variant: 7×7 stride-2 stem and max-pool),
    same parameter names and default initialisation."""

    def __init__(self, num_outputs: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        chans, inp = (64, 128, 256, 512), 64
        for i, c in enumerate(chans):
            stride = 1 if i == 0 else 2
            setattr(self, f"layer{i + 1}", nn.Sequential(_BasicBlock(inp, c, stride), _BasicBlock(c, c)))
            inp = c
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_outputs)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18(num_outputs: int = 1) -> nn.Module:
    """ResNet18 as in the paper (§3.2: "the default architecture implemented in PyTorch"):
    ``torchvision.models.resnet18(num_classes=num_outputs)`` when torchvision imports, else an
    equivalent module defined here (same ImageNet-variant layout, names and init).
    ``net.architecture_source`` says which; it goes to the trajectory's config."""
    try:
        from torchvision.models import resnet18 as tv_resnet18
    except ImportError:
        net: nn.Module = _ResNet18(num_outputs)
        net.architecture_source = "linnet (torchvision-equivalent, ImageNet variant)"  # type: ignore[assignment]
    else:
        net = tv_resnet18(num_classes=num_outputs)
        net.architecture_source = "torchvision"  # type: ignore[assignment]
    net.architecture = "resnet18"  # type: ignore[assignment]
    return net


__all__ = ["TorchModel", "TorchEngine", "paper_cnn", "resnet18", "load_final"]
