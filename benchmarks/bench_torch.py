"""Benchmarks of :mod:`linnet.torch` (the PyTorch adapter): ``python -m benchmarks.bench_torch``.

Three figures:

* **overhead**: linnet's loop on ``TorchModel(paper_cnn("tanh"))`` against a bare ``torch.func``
  loop on the same module and data doing the same work per state: the GD step by autograd (one
  forward, one backward, with a forward hook capturing the output layer's input for ‖G_A‖ =
  λ_max([H,1]ᵀ[H,1]/n)), one ``vjp`` linearisation, and exactly as many Gram products
  G v = J(Jᵀv)/n (``vjp`` then ``jvp``) as linnet's eigen-tracker used (``config
  ["sharpness_products"]``, spread evenly over the states), the products feeding a fixed-length
  Lanczos. Both run matrix-free (``gram="matrix-free"``), float64, Λ every step. The ratio
  linnet / bare isolates the adapter's and the loop's own cost (flattening θ, the tracker's
  Rayleigh–Ritz on tensors, the recorder); target ≤ 1.2×.
* **throughput**: the paper's CNN (App. A.2, tanh) at n = 200 CIFAR-like 32×32×3 images on this
  machine: steps/s with Λ every step and with Λ every 10 steps.
* ``--gpu``: ResNet18 (one output) at n = 1,000 32×32 images on CUDA, Λ every 10 steps (prepared
  for a GPU; ``--gpu --tiny`` runs the same code path on the CPU at a tiny size).
* ``--memory``: peak memory and time per step against n (250, 500, 1,000, 2,000) for the paper's
  CNN, a small BatchNorm CNN (:func:`bn_cnn`, 1×8×8 images) and ResNet18 (3×32×32), per Gram mode
  ("jacobian", "dense", "matrix-free"; and what "auto" picks), float64, Λ every step, under
  ``memory_budget`` 4 GiB. Each cell runs in a fresh child process (``--cell``): its peak RSS
  (VmHWM, Python and torch included) beside the adapter's own estimate
  (``config["memory_estimate_bytes"]``, without them), and the time per step from the clock of an
  observer between consecutive states (a GD step, the next state's forward and backward, its J or
  linearisation, Λ warm-started, ‖G_A‖), averaged over 1–2 steps. A cell whose estimate exceeds
  the budget is reported "over budget" with the estimate and not run; one whose time per step,
  extrapolated from the same mode's previous n (∝ n; ∝ n² for J by vjp rows), exceeds
  ``max_step_s`` is reported "skipped" with that extrapolation and not run.

* ``--table`` (issue 32): per model — ``cnn2`` (2 conv layers of 16 channels, ELU, max-pool 2,
  Linear(1024, 1)), the paper's CNN (tanh) and ResNet18 — on n = 1,000 CIFAR-like 3×32×32 images,
  in float32 and float64: seconds per step of GD alone, GD + Λ and ‖G_A‖ every step, and + λ_max(∇²L)
  every k steps (``hessian_tol`` 1e-4, as ``python -m validation --model``), beside the plain
  PyTorch full-batch step (forward, MSE, backward, in-place update) of the same module and data;
  "before" rows run an older linnet (``--before FOLDER``, e.g. ``git archive <commit> linnet``
  unpacked there) in the same session. Each row is a child process with the same torch threads
  (``--threads``, default 1); the mean over the timed steps excludes the first state's cold solves;
  the load average is recorded before and after (``--json benchmarks/results/torch.json``); η is
  fixed per model (``STEP_ETA``).

Outside ``--table``, every run's η is 0.8/Λ(0) (Λ = λ_max(G) at the start), so runs move into
progressive sharpening like the validation suite's; the first step's cold eigen-solve is included
(a 2-step warm-up run comes first, not timed). Times are wall-clock, best of ``reps``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from typing import Any

import numpy as np

from linnet.data import make_data
from linnet.train import train

PIXEL_RMS = 0.5  # CIFAR-like images scaled to pixel RMS 0.5 (CIFAR's [0, 1] pixels have RMS ≈ 0.5)


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - the extra is installed where this runs
        raise SystemExit("benchmarks.bench_torch needs PyTorch: pip install 'linnet[torch]'") from exc
    return torch


def images(n: int, s: int, *, seed: int = 0, channels: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-like data (:func:`linnet.make_data`) as n images channels×s×s, pixel RMS 0.5, Y = ±1."""
    d = channels * s * s
    X, Y = make_data("cifar-like", n=n, d=d, seed=seed, column_norm=PIXEL_RMS * math.sqrt(d))
    return np.ascontiguousarray(X.T.reshape(n, channels, s, s)), Y


def _sync(device: Any) -> None:
    torch = _torch()
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _eta(module_fn, X, Y, *, dtype, c=0.8, device="cpu"):
    from linnet.torch import TorchModel

    tr0 = train(
        X,
        Y,
        eta=1.0,
        steps=0,
        model=TorchModel(module_fn().to(device), gram="matrix-free"),
        dtype=dtype,
        progress=False,
    )
    return c / float(tr0.sharpness[0]), float(tr0.sharpness[0])


def linnet_run(module, X, Y, *, eta, steps, sharpness_every=1, dtype="float64", device="cpu"):
    """linnet's loop on ``TorchModel(module, gram="matrix-free")``: (seconds, trajectory)."""
    from linnet.torch import TorchModel

    Xt = _torch().as_tensor(X).to(device)

    def go():
        tr = train(
            Xt,
            Y,
            eta=eta,
            steps=steps,
            model=TorchModel(module.to(device), gram="matrix-free"),
            sharpness_every=sharpness_every,
            dtype=dtype,
            progress=False,
        )
        _sync(device)
        return tr

    return _timed(go)


def bare_loop(module, X, Y, *, eta, steps, products, dtype="float64", device="cpu"):
    """A hand-written torch.func GD loop doing per state what linnet's does (see the module doc):
    autograd step with the ‖G_A‖ hook, one vjp, ``products`` Gram products (a sequence of per-state
    counts) in a Lanczos run warm-started from the last Ritz vector. Returns (seconds, dict of
    the last loss, Λ estimates and ‖G_A‖ values)."""
    torch = _torch()
    from torch.func import functional_call, jvp, vjp

    tdt = getattr(torch, dtype)
    module = module.to(device=device, dtype=tdt).train()
    Xt = torch.as_tensor(X).to(device=device, dtype=tdt)
    Yt = torch.as_tensor(Y).to(device=device, dtype=tdt)
    n = Xt.shape[0]
    out_layer = [m for m in module.modules() if isinstance(m, torch.nn.Linear)][-1]
    has_bias = out_layer.bias is not None
    params = {k: p.detach().clone() for k, p in module.named_parameters()}
    buffers = {k: b for k, b in module.named_buffers()}

    def f(p):
        return functional_call(module, {**p, **buffers}, (Xt,)).reshape(-1)

    def run():
        nonlocal params
        captured: dict = {}
        hook = out_layer.register_forward_hook(lambda _m, inp, _o: captured.__setitem__("H", inp[0].detach()))
        g0 = torch.Generator(device="cpu").manual_seed(1)
        u = torch.randn(n, generator=g0, dtype=tdt).to(device)
        losses, lams, gas = [], [], []
        try:
            for t in range(steps + 1):
                p = {k: v.requires_grad_(True) for k, v in params.items()}
                D = f(p) - Yt
                loss = D @ D / (2 * n)
                grads = torch.autograd.grad(loss, list(p.values()))
                H = captured["H"].reshape(n, -1)
                if has_bias:
                    H = torch.cat([H, torch.ones(n, 1, dtype=tdt, device=device)], 1)
                C = H.T @ H / n if H.shape[1] <= n else H @ H.T / n
                gas.append(float(torch.linalg.eigvalsh(C)[-1]))
                losses.append(float(loss.detach()))
                pd = {k: v.detach() for k, v in params.items()}
                k_t = int(products[t]) if t < len(products) else 0
                if k_t:
                    _, pull = vjp(f, pd)

                    def gv(v, pd=pd, pull=pull):
                        return jvp(f, (pd,), pull(v))[1] / n

                    lam, u = _lanczos(gv, u, k_t, torch)
                    lams.append(lam)
                if t < steps:
                    params = {
                        k: (v.detach() - eta * gk).detach()
                        for (k, v), gk in zip(p.items(), grads, strict=True)
                    }
        finally:
            hook.remove()
        _sync(device)
        return dict(loss=np.array(losses), lam=np.array(lams), ga=np.array(gas))

    return _timed(run)


def _lanczos(matvec, v0, k, torch):
    """k steps of Lanczos (full reorthogonalisation) from v0: (top Ritz value, its vector)."""
    n = v0.shape[0]
    k = min(k, n)
    Q = torch.zeros(k, n, dtype=v0.dtype, device=v0.device)
    alpha, beta = [], []
    q = v0 / torch.linalg.norm(v0)
    for j in range(k):
        Q[j] = q
        w = matvec(q)
        a = torch.dot(w, q)
        w = w - Q[: j + 1].T @ (Q[: j + 1] @ w)
        alpha.append(a)
        b = torch.linalg.norm(w)
        beta.append(b)
        if j + 1 < k:
            q = w / b
    T = torch.diag(torch.stack(alpha))
    if k > 1:
        off = torch.stack(beta[: k - 1])
        T = T + torch.diag(off, 1) + torch.diag(off, -1)
    ev, C = torch.linalg.eigh(T)
    return float(ev[-1]), C[:, -1] @ Q


def _spread(total: int, rows: int) -> list[int]:
    base, extra = divmod(int(total), rows)
    return [base + (1 if t < extra else 0) for t in range(rows)]


def overhead(*, n=64, s=16, steps=30, reps=3, activation="tanh", seed=0):
    """linnet's loop against the bare torch.func loop (module doc): seconds of each (best of
    ``reps``, alternated), their ratio, the products per state, and the runs' agreement (loss)."""
    torch = _torch()
    from linnet.torch import paper_cnn

    X, Y = images(n, s, seed=seed)

    def net():
        torch.manual_seed(seed)
        return paper_cnn(activation, (3, s, s))

    eta, lam0 = _eta(net, X, Y, dtype="float64")
    linnet_run(net(), X, Y, eta=eta, steps=2)  # warm-up (threads, allocator)
    best_l, best_b, tr = math.inf, math.inf, None
    bare_out: dict = {}
    for _ in range(reps):
        wl, tr = linnet_run(net(), X, Y, eta=eta, steps=steps)
        products = _spread(tr.config["sharpness_products"], steps + 1)
        wb, bare_out = bare_loop(net(), X, Y, eta=eta, steps=steps, products=products)
        best_l, best_b = min(best_l, wl), min(best_b, wb)
    assert tr is not None
    loss_dev = float(np.max(np.abs(bare_out["loss"] - tr.loss) / tr.loss))
    ga_dev = float(np.max(np.abs(bare_out["ga"] - tr.ga_norm) / tr.ga_norm))
    return dict(
        n=n,
        image=s,
        steps=steps,
        activation=activation,
        eta=eta,
        lambda0=lam0,
        n_params=int(tr.config["n_params"]),
        products=int(tr.config["sharpness_products"]),
        products_per_state=tr.config["sharpness_products"] / (steps + 1),
        linnet_s=best_l,
        bare_s=best_b,
        ratio=best_l / best_b,
        linnet_steps_per_s=steps / best_l,
        bare_steps_per_s=steps / best_b,
        loss_dev=loss_dev,
        ga_dev=ga_dev,
        max_eta_lambda=float(eta * tr.sharpness.max()),
    )


def throughput(
    *,
    n=200,
    s=32,
    steps=20,
    everies=(1, 10),
    reps=1,
    activation="tanh",
    seed=0,
    dtype="float64",
    arch="cnn",
    device="cpu",
):
    """Steps/s of linnet's loop on the paper's CNN (or ``arch="resnet18"``) with Λ every k steps,
    for each k in ``everies``; the first cold solve included, best of ``reps``."""
    torch = _torch()
    from linnet.torch import paper_cnn, resnet18

    X, Y = images(n, s, seed=seed)

    def net():
        torch.manual_seed(seed)
        return paper_cnn(activation, (3, s, s)) if arch == "cnn" else resnet18(1)

    eta, lam0 = _eta(net, X, Y, dtype=dtype, device=device)
    linnet_run(net(), X, Y, eta=eta, steps=1, sharpness_every=1, dtype=dtype, device=device)  # warm-up
    out: dict = dict(
        arch=arch,
        n=n,
        image=s,
        steps=steps,
        dtype=dtype,
        device=str(device),
        eta=eta,
        lambda0=lam0,
        activation=activation if arch == "cnn" else None,
    )
    for k in everies:
        best, tr = math.inf, None
        for _ in range(reps):
            w, tr = linnet_run(
                net(), X, Y, eta=eta, steps=steps, sharpness_every=k, dtype=dtype, device=device
            )
            best = min(best, w)
        assert tr is not None
        out[f"every{k}_steps_per_s"] = steps / best
        out[f"every{k}_s"] = best
        out[f"every{k}_products"] = int(tr.config["sharpness_products"])
        out["n_params"] = int(tr.config["n_params"])
    return out


def bench(*, quick=False, tiny=False, gpu=False, threads=None):
    """The benchmark's numbers as a dict (``overhead``, ``cnn``, and with ``gpu`` ``resnet18``).
    ``quick``: fewer steps; ``tiny``: toy sizes (for the tests, seconds); ``threads``: torch's
    intra-op threads (default: torch's own, i.e. the cores)."""
    torch = _torch()
    if threads:
        torch.set_num_threads(int(threads))
    res: dict = dict(
        torch=torch.__version__,
        threads=torch.get_num_threads(),
        python=platform.python_version(),
        machine=platform.processor() or platform.machine(),
        quick=quick,
        tiny=tiny,
    )
    if tiny:
        res["overhead"] = overhead(n=8, s=8, steps=3, reps=1)
        res["cnn"] = throughput(n=8, s=8, steps=4, everies=(1, 2))
    else:
        res["overhead"] = overhead(n=64, s=16, steps=10 if quick else 30, reps=2 if quick else 3)
        res["cnn"] = throughput(n=200, s=32, steps=5 if quick else 20)
    if gpu:
        res["resnet18"] = gpu_resnet(tiny=tiny)
    return res


def gpu_resnet(*, tiny=False, n=1000, s=32, steps=50, dtype="float32"):
    """ResNet18 (one output) at n = 1,000 CIFAR-like 32×32 images on CUDA, Λ every 10 steps
    (float32: the throughput a GPU user gets; float64 halves it at best). ``tiny``: 8 images of
    8×8 on the CPU if no GPU, same code path."""
    torch = _torch()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if tiny:
        n, s, steps = 8, 8, 3
    elif device == "cpu":
        raise SystemExit(
            "--gpu needs a CUDA device (torch.cuda.is_available() is False); "
            "use --gpu --tiny to run the code path on the CPU"
        )
    out = throughput(n=n, s=s, steps=steps, everies=(10,), arch="resnet18", dtype=dtype, device=device)
    if device == "cuda":
        out["gpu"] = torch.cuda.get_device_name()
        out["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
    return out


def print_report(res: dict, file=None) -> None:
    def p(*a):
        print(*a, file=file)

    p(
        f"linnet bench --torch — PyTorch {res['torch']}, {res['threads']} threads, {res['machine']}, "
        f"Python {res['python']}" + (" (tiny sizes)" if res.get("tiny") else "")
    )
    o = res["overhead"]
    p(
        f"\nadapter overhead: paper CNN ({o['activation']}) n={o['n']} {o['image']}×{o['image']}×3, "
        f"P={o['n_params']}, {o['steps']} steps, Λ every step, float64, matrix-free G products"
    )
    p(f"  linnet loop      {o['linnet_s']:8.3f} s  ({o['linnet_steps_per_s']:.2f} steps/s)")
    p(
        f"  bare torch.func  {o['bare_s']:8.3f} s  ({o['bare_steps_per_s']:.2f} steps/s), the same "
        f"{o['products']} G products ({o['products_per_state']:.2f} a state)"
    )
    p(
        f"  ratio {o['ratio']:.3f} (target ≤ 1.2: {'met' if o['ratio'] <= 1.2 else 'NOT met'}); "
        f"losses agree to {o['loss_dev']:.1e}, ‖G_A‖ to {o['ga_dev']:.1e}; max ηΛ {o['max_eta_lambda']:.2f}"
    )
    c = res["cnn"]
    p(
        f"\npaper CNN ({c['activation']}) n={c['n']} {c['image']}×{c['image']}×3, P={c['n_params']}, "
        f"{c['steps']} steps, {c['dtype']}, η = 0.8/Λ(0) = {c['eta']:.4g}:"
    )
    for k in (1, 10, 2):
        if f"every{k}_steps_per_s" in c:
            p(
                f"  Λ every {k:2d} step(s): {c[f'every{k}_steps_per_s']:7.3f} steps/s "
                f"({c[f'every{k}_products']} G products)"
            )
    if "resnet18" in res:
        r = res["resnet18"]
        p(
            f"\nResNet18 (1 output) n={r['n']} {r['image']}×{r['image']}×3 on {r.get('gpu', r['device'])}, "
            f"P={r['n_params']}, {r['steps']} steps, {r['dtype']}, Λ every 10 steps: "
            f"{r['every10_steps_per_s']:.3f} steps/s"
            + (f", peak {r['peak_gib']:.1f} GiB" if "peak_gib" in r else "")
        )


# -- memory and time per step against n, per Gram mode ------------------------------------------
ARCHS = ("paper_cnn", "bn_cnn", "resnet18")
TABLE_GRAMS = ("jacobian", "dense", "matrix-free")
TABLE_NS = (250, 500, 1000, 2000)
# η per architecture: ηΛ(0) well below 2 on the table's data (Λ(0) ≈ 3,400 for ResNet18), so that no
# cell's 1–2 steps diverge; each cell records its ηΛ(0)
TABLE_ETA = {"paper_cnn": 1e-3, "bn_cnn": 1e-3, "resnet18": 1e-4}
CALIBRATE = {"resnet18": 32}


def bn_cnn():
    """A small BatchNorm CNN for 1×8×8 images (the size of scikit-learn's 1,797 digits):
    conv(1→16, 3×3, pad 1), BatchNorm, ReLU, max-pool 2, conv(16→32, 3×3, pad 1), BatchNorm, ReLU,
    max-pool 2, flatten, Linear(128, 1); P = 5,025. Train-mode BatchNorm couples the samples."""
    nn = _torch().nn
    net = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(128, 1),
    )
    net.architecture = "bn_cnn"
    net.architecture_source = "benchmarks.bench_torch"
    return net


def _arch(name: str, tiny: bool = False):
    """(module builder, image shape) of a table architecture."""
    from linnet.torch import paper_cnn, resnet18

    rgb = (3, 8, 8) if tiny else (3, 32, 32)
    if name == "paper_cnn":
        return (lambda: paper_cnn("tanh", rgb)), rgb
    if name == "bn_cnn":
        return bn_cnn, (1, 8, 8)
    if name == "resnet18":
        return (lambda: resnet18(1)), rgb
    raise SystemExit(f"unknown architecture {name!r}: use one of {ARCHS}")


def _rss_now() -> int:
    """This process's resident memory now, bytes (Linux; else its peak so far)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):  # pragma: no cover - not Linux
        return _peak_rss()


def _peak_rss() -> int:
    """This process's peak resident memory, bytes: Linux's VmHWM (its own address space's high-water
    mark; ``ru_maxrss`` would carry over the RSS of the parent that spawned it, across exec), else
    ``ru_maxrss``."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(r if sys.platform == "darwin" else r * 1024)


def cell(
    arch: str,
    n: int,
    gram: str,
    *,
    steps: int = 2,
    budget: str = "4GiB",
    dtype: str = "float64",
    threads: int | None = None,
    seed: int = 0,
    tiny: bool = False,
) -> dict:
    """One table cell in this process (run it in a fresh one: the peak RSS is the process's):
    ``steps`` GD steps of ``arch`` on n CIFAR-like images with ``TorchModel(gram=gram,
    memory_budget=budget)``, Λ every step, η = ``TABLE_ETA``. Returns the status ("ok" or "over
    budget"), the seconds between consecutive states, the first state's (set-up, probe, cold Λ),
    the peak and pre-run RSS, the plan's estimate and fields; ``steps`` < 0: the plan only."""
    torch = _torch()
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        return _cell(arch, n, gram, steps=steps, budget=budget, dtype=dtype, seed=seed, tiny=tiny)
    finally:
        torch.set_num_threads(before)


def _cell(arch, n, gram, *, steps, budget, dtype, seed, tiny) -> dict:
    torch = _torch()
    from linnet.run.observers import BaseObserver
    from linnet.torch import TorchModel

    net_fn, (c, s, _) = _arch(arch, tiny)
    X, Y = images(n, s, seed=seed, channels=c)

    def net():
        torch.manual_seed(seed)
        return net_fn()

    out: dict = dict(arch=arch, n=n, gram=gram, budget=budget, dtype=dtype, threads=torch.get_num_threads())
    model = TorchModel(net(), gram=gram, memory_budget=budget)
    try:
        plan = model.plan(X, Y, dtype=dtype)
    except ValueError as exc:
        over = TorchModel(net(), gram=gram, memory_budget=2**60).plan(X, Y, dtype=dtype)
        out.update(status="over budget", estimate=over.estimate_bytes, message=str(exc))
        return out
    out.update(estimate=plan.estimate_bytes, budget_bytes=plan.budget_bytes)
    if steps < 0:  # the plan only
        out["status"] = "planned"
        return out

    class Clock(BaseObserver):
        def __init__(self):
            self.t: list[float] = []

        def observe(self, t, obs, engine):
            self.t.append(time.perf_counter())

    clock = Clock()
    baseline = _rss_now()
    t0 = time.perf_counter()
    eta = TABLE_ETA[arch]
    tr = train(X, Y, eta=eta, steps=steps, model=model, dtype=dtype, progress=False, observers=[clock])
    gaps = np.diff(clock.t).tolist()
    cf = tr.config
    out.update(
        status="ok",
        step_s=gaps,
        mean_step_s=float(np.mean(gaps)) if gaps else math.nan,
        first_s=clock.t[0] - t0,
        peak_rss=_peak_rss(),
        baseline_rss=baseline,
        jacobian=cf["jacobian"],
        chunk=cf["chunk"],
        jacobian_chunk=cf["jacobian_chunk"],
        products=cf["sharpness_products"],
        n_params=cf["n_params"],
        eta=eta,
        eta_lambda0=eta * float(tr.sharpness[0]),
        rows=int(tr.step.shape[0]),
    )
    return out


def cell_in_child(arch: str, n: int, gram: str, *, timeout: float, **kw) -> dict:
    """:func:`cell` in a fresh Python process (its peak RSS is the cell's alone)."""
    spec = json.dumps(dict(arch=arch, n=n, gram=gram, **kw))
    cmd = [sys.executable, "-m", "benchmarks.bench_torch", "--cell", spec]
    # benchmarks/ is not installed: the child finds it where this process did
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH")))))
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return dict(arch=arch, n=n, gram=gram, status=f"timed out ({timeout:.0f} s)")
    if out.returncode != 0:
        return dict(
            arch=arch,
            n=n,
            gram=gram,
            status=f"failed (exit {out.returncode})",
            message=out.stderr.strip().splitlines()[-1:] and out.stderr.strip().splitlines()[-1],
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def plan_cell(
    arch: str,
    n: int,
    gram: str,
    *,
    budget: str = "4GiB",
    dtype: str = "float64",
    seed: int = 0,
    tiny: bool = False,
) -> dict:
    """A cell's plan without running it (cheap: two small trial forwards): whether ``gram`` fits
    ``budget`` ("planned") or not ("over budget"), its estimate, and the mode "auto" picks."""
    torch = _torch()
    from linnet.torch import TorchModel

    net_fn, (c, s, _) = _arch(arch, tiny)
    X, Y = images(n, s, seed=seed, channels=c)

    def model(g, b):
        torch.manual_seed(seed)
        return TorchModel(net_fn(), gram=g, memory_budget=b)

    out: dict = dict(arch=arch, n=n, gram=gram, budget=budget)
    try:
        out["auto"] = model("auto", budget).plan(X, Y, dtype=dtype).gram
    except ValueError:
        out["auto"] = "none fits"
    try:
        out.update(status="planned", estimate=model(gram, budget).plan(X, Y, dtype=dtype).estimate_bytes)
    except ValueError as exc:
        out.update(
            status="over budget",
            message=str(exc),
            estimate=model(gram, 2**60).plan(X, Y, dtype=dtype).estimate_bytes,
        )
    return out


def memory_table(
    *,
    ns=TABLE_NS,
    archs=ARCHS,
    grams=TABLE_GRAMS,
    budget="4GiB",
    max_step_s=120.0,
    threads=None,
    tiny=False,
    calibrate=None,
    log=None,
) -> dict:
    """The ``--memory`` table (module doc): each (architecture, mode, n) planned here
    (:func:`plan_cell`) and, where it fits and is not extrapolated past ``max_step_s``, run by
    :func:`cell` in a fresh process, in increasing n so that the previous run's time extrapolates
    to the next. ``calibrate`` {arch: n}: where a mode has no run yet, a run at that smaller n first
    (ResNet18: one float64 CPU step at n = 250 is far beyond the limit), reported as a row of its own."""
    from linnet.torch import VJP_ROWS

    torch = _torch()
    calibrate = dict(CALIBRATE if calibrate is None else calibrate)
    rows = []

    def run(arch, n, gram, steps):
        r = cell_in_child(
            arch,
            n,
            gram,
            steps=steps,
            budget=budget,
            threads=threads,
            tiny=tiny,
            timeout=600 + 4 * max_step_s * (steps + 2),
        )
        if log is not None:
            log(f"{arch} n={n} {gram}: {_cell_text(r)}")
        return r

    for arch in archs:
        for gram in grams:
            prev = None
            for n in ns:
                r = plan_cell(arch, n, gram, budget=budget, tiny=tiny)
                if r["status"] == "planned" and prev is None and calibrate.get(arch, n) < n:
                    cal = run(arch, calibrate[arch], gram, 1)
                    cal["calibration"] = True
                    rows.append(cal)
                    if cal["status"] == "ok":
                        prev = cal
                if r["status"] == "planned":
                    est_s = None
                    if prev is not None:
                        power = 2 if prev["jacobian"] == VJP_ROWS else 1
                        est_s = prev["mean_step_s"] * (n / prev["n"]) ** power
                    if est_s is not None and est_s > max_step_s:
                        r.update(status="skipped", estimated_step_s=est_s)
                        if log is not None:
                            log(f"{arch} n={n} {gram}: {_cell_text(r)}")
                    else:
                        auto = r["auto"]
                        r = run(arch, n, gram, 2 if est_s is not None and est_s < 30 else 1)
                        r.setdefault("auto", auto)
                elif log is not None:
                    log(f"{arch} n={n} {gram}: {_cell_text(r)}")
                rows.append(r)
                if r["status"] == "ok":
                    prev = r
    return dict(
        rows=rows,
        budget=budget,
        max_step_s=max_step_s,
        ns=list(ns),
        archs=list(archs),
        grams=list(grams),
        torch=torch.__version__,
        python=platform.python_version(),
        machine=platform.processor() or platform.machine(),
        cpus=os.cpu_count(),
        threads=threads or torch.get_num_threads(),
        tiny=tiny,
        eta=dict(TABLE_ETA),
        calibrate=calibrate,
    )


def _cell_text(r: dict) -> str:
    gib = 2**30
    if r["status"] == "ok":
        return f"{r['mean_step_s']:.2f} s, {r['peak_rss'] / gib:.2f} GiB (est {r['estimate'] / gib:.2f})"
    if r["status"] == "over budget":
        return f"over budget (est {r['estimate'] / gib:.1f} GiB)"
    if r["status"] == "skipped":
        return f"skipped (est {r['estimated_step_s']:.0f} s/step; {r['estimate'] / gib:.2f} GiB)"
    return r["status"]


def print_memory_table(res: dict, file=None) -> None:
    """The table as Markdown: per architecture and n, each mode's time per step, peak RSS and
    estimate (GiB), and the mode "auto" picks."""

    def p(*a):
        print(*a, file=file)

    p(
        f"benchmarks.bench_torch --memory — PyTorch {res['torch']}, {res['threads']} threads, "
        f"{res['cpus']} CPUs, {res['machine']}, Python {res['python']}; float64, Λ every step, "
        f"memory_budget {res['budget']}" + (" (tiny sizes)" if res.get("tiny") else "")
    )
    p("")
    ok = [r for r in res["rows"] if r["status"] == "ok"]
    p(
        "Cells: time per step (s), peak RSS of the process (GiB, Python and torch included) and, in "
        'brackets, the adapter\'s own estimate (GiB, without them); "over budget": not run, its '
        f'estimate over the budget; "skipped": not run, its time extrapolated past {res["max_step_s"]:g} s '
        "from the mode's previous row; a row marked * is a calibration run at a smaller n. "
        f"η per model {res['eta']}"
        + (f", max ηΛ(0) {max(r['eta_lambda0'] for r in ok):.2f}" if ok else "")
        + "."
    )
    p("")
    p("| model | n | " + " | ".join(res["grams"]) + " | auto picks |")
    p("|---|---:|" + "---|" * len(res["grams"]) + "---|")
    by = {(r["arch"], r["n"], r["gram"]): r for r in res["rows"]}
    for arch in res["archs"]:
        cal = sorted({r["n"] for r in res["rows"] if r["arch"] == arch and r.get("calibration")})
        for n in [*cal, *res["ns"]]:
            cells = [by.get((arch, n, g)) for g in res["grams"]]
            auto = next((c.get("auto") for c in cells if c and c.get("auto")), "–")
            mark = "*" if n in cal else ""
            texts = [_cell_text(c) if c else "–" for c in cells]
            p(f"| {arch} | {n}{mark} | " + " | ".join(texts) + f" | {auto} |")


# -- issue 32's table: per model, GD alone / + Λ / + λ_max(∇²L) every k, against a plain step ----------
STEP_MODELS = ("cnn2", "paper_cnn", "resnet18")
STEP_ETA = {"cnn2": 1e-3, "paper_cnn": 1e-3, "resnet18": 1e-4}
STEP_ROWS = ("plain", "gd", "lambda", "hessian")  # the floor, GD alone, GD + Λ (and ‖G_A‖), + λ_max
# one measurement in a child process, on the linnet found at ``root`` (this tree, or an old commit's
# worktree for "before"); only APIs both versions have: the module is built in the run's dtype, so
# neither version converts or copies it, and the step clock is an observer run after the others
STEP_CHILD = """
import json, math, sys, time
root, arch, dtype, row, steps, k, threads, htol, n, STEP_ETA = json.loads(sys.argv[1])
sys.path.insert(0, root)
import numpy as np, torch
from torch import nn
import linnet
from linnet.run.observers import BaseObserver
from linnet.torch import TorchModel, paper_cnn, resnet18
torch.set_num_threads(threads)
tdt = getattr(torch, dtype)
d = 3 * 32 * 32
X, Y = linnet.make_data("cifar-like", n=n, d=d, seed=0, column_norm=0.5 * math.sqrt(d))
X = np.ascontiguousarray(X.T.reshape(n, 3, 32, 32))
torch.manual_seed(0)
if arch == "cnn2":
    net = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ELU(), nn.MaxPool2d(2),
                        nn.Conv2d(16, 16, 3, padding=1), nn.ELU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(16 * 8 * 8, 1, bias=False))
else:
    net = paper_cnn("tanh") if arch == "paper_cnn" else resnet18(1)
net = net.to(tdt).train()
eta = STEP_ETA[arch]
if row == "plain":
    Xt, Yt = torch.as_tensor(X, dtype=tdt), torch.as_tensor(Y, dtype=tdt)
    ts = []
    for t in range(steps + 1):
        t0 = time.perf_counter()
        net.zero_grad(set_to_none=True)
        D = net(Xt).reshape(-1) - Yt
        ((D @ D) / (2 * n)).backward()
        with torch.no_grad():
            for p in net.parameters():
                p -= eta * p.grad
        ts.append(time.perf_counter() - t0)
    out = dict(step_s=ts[1:])
else:
    class Clock(BaseObserver):
        def __init__(self):
            self.t = []
        def observe(self, t, obs, engine):
            self.t.append(time.perf_counter())
    clock = Clock()
    kw = dict(sharpness_every=0 if row == "gd" else 1, ga_every=0 if row == "gd" else 1,
              hessian_every=k if row == "hessian" else 0, hessian_tol=htol)
    tr = linnet.train(X, Y, eta=eta, steps=steps, model=TorchModel(net), dtype=dtype, observers=[clock],
                      progress=False, **kw)
    out = dict(step_s=np.diff(clock.t).tolist(), gram=tr.config["gram"], dtype_run=tr.config["dtype"],
               hessian=tr.hessian_sharpness.tolist(), sharpness=tr.sharpness[:2].tolist())
print(json.dumps(out))
"""


def step_cell(root, arch, dtype, row, *, steps, k, threads, htol, n=1000, timeout=600.0) -> dict:
    """One row of :func:`step_table` on the linnet at ``root``, in a child process: the per-step
    seconds (the state after the first: the first state's cold solves are not in them)."""
    arg = json.dumps([root, arch, dtype, row, steps, k, threads, htol, n, STEP_ETA])
    t0 = time.perf_counter()
    try:
        out = subprocess.run(
            [sys.executable, "-c", STEP_CHILD, arg], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return dict(error=f"over {timeout:.0f} s")
    if out.returncode:
        return dict(error=out.stderr.strip().splitlines()[-1][:300])
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["mean_s"] = float(np.mean(res["step_s"]))
    res["wall_s"] = time.perf_counter() - t0
    return res


def step_table(*, models, dtypes, roots, steps, k=5, threads=1, htol=1e-4, n=1000, log=print) -> dict:
    """Issue 32's benchmark: per model, dtype and code version (``roots``: name → the folder whose
    ``linnet`` runs), the mean seconds per step of GD alone, GD + Λ (and ‖G_A‖) every step, and
    + λ_max(∇²L) every ``k`` steps at ``hessian_tol=htol``, each beside the plain PyTorch
    full-batch step (forward, MSE, backward, in-place update) of the same module and data, with
    the load average before and after."""
    res: dict = dict(
        n=n,
        image="3x32x32",
        k=k,
        threads=threads,
        hessian_tol=htol,
        loadavg_before=list(os.getloadavg()),
        machine=platform.platform(),
        cores=len(os.sched_getaffinity(0)),
        rows=[],
    )
    for arch in models:
        for dtype in dtypes:
            st = steps[arch] if isinstance(steps, dict) else steps
            plain = step_cell(
                roots["after"], arch, dtype, "plain", steps=st, k=k, threads=threads, htol=htol, n=n
            )
            log(f"{arch} {dtype} plain: {plain.get('mean_s', plain.get('error'))}")
            for version, root in roots.items():
                for row in STEP_ROWS[1:]:
                    if (version, row) == ("before", "gd"):
                        continue  # GD alone is the same code before and after
                    r = step_cell(root, arch, dtype, row, steps=st, k=k, threads=threads, htol=htol, n=n)
                    r.update(model=arch, dtype=dtype, version=version, row=row, steps=st)
                    if "mean_s" in r and "mean_s" in plain:
                        r["plain_s"] = plain["mean_s"]
                        r["x_plain"] = r["mean_s"] / plain["mean_s"]
                    res["rows"].append(r)
                    log(f"  {version} {row}: {r.get('mean_s', r.get('error'))}")
            res["rows"].append(dict(model=arch, dtype=dtype, version="floor", row="plain", steps=st, **plain))
    res["loadavg_after"] = list(os.getloadavg())
    return res


def step_table_markdown(res: dict) -> str:
    """The table as Markdown: seconds per step and × the plain float32 step of the same model."""
    head = (
        f"n = {res['n']}, {res['image']}, {res['threads']} torch thread(s), λ_max(∇²L) every {res['k']} "
        f"steps at hessian_tol {res['hessian_tol']:g}; load average before {res['loadavg_before'][0]:.2f}, "
        f"after {res['loadavg_after'][0]:.2f} ({res['cores']} cores)\n\n"
        "| model | dtype | version | row | s/step | plain (s) | × plain (its dtype) | × plain float32 |\n"
        "|---|---|---|---|---|---|---|---|\n"
    )
    f32 = {
        r["model"]: r["mean_s"]
        for r in res["rows"]
        if r["row"] == "plain" and r["dtype"] == "float32" and "mean_s" in r
    }
    lines = []
    for r in res["rows"]:
        if "mean_s" not in r:
            lines.append(
                f"| {r['model']} | {r['dtype']} | {r['version']} | {r['row']} | {r.get('error')} | | | |"
            )
            continue
        base = f32.get(r["model"])
        lines.append(
            f"| {r['model']} | {r['dtype']} | {r['version']} | {r['row']} | {r['mean_s']:.3f} | "
            f"{r.get('plain_s', r['mean_s']):.3f} | {r.get('x_plain', 1.0):.2f} | "
            + (f"{r['mean_s'] / base:.2f} |" if base else " |")
        )
    return head + "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_torch",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--quick", action="store_true", help="fewer steps")
    ap.add_argument("--tiny", action="store_true", help="toy sizes (seconds; checks the code paths)")
    ap.add_argument(
        "--gpu", action="store_true", help="also ResNet18 at n=1000 on CUDA (with --tiny: on the CPU)"
    )
    ap.add_argument(
        "--memory",
        action="store_true",
        help="only the memory/time table against n, per architecture and Gram mode",
    )
    ap.add_argument("--ns", default=",".join(map(str, TABLE_NS)), help="--memory: sample counts")
    ap.add_argument("--archs", default=",".join(ARCHS), help=f"--memory: of {ARCHS}")
    ap.add_argument("--grams", default=",".join(TABLE_GRAMS), help="--memory: Gram modes")
    ap.add_argument("--budget", default="4GiB", help="--memory: memory_budget of every cell")
    ap.add_argument(
        "--max-step-s",
        type=float,
        default=120.0,
        help="--memory: skip cells extrapolated to take longer a step",
    )
    ap.add_argument("--cell", help=argparse.SUPPRESS)  # one cell as JSON, run by --memory's children
    ap.add_argument(
        "--table",
        action="store_true",
        help="issue 32's table: GD, + Λ, + λ_max(∇²L) every k against a plain step, before and after",
    )
    ap.add_argument("--models", default=",".join(STEP_MODELS), help=f"--table: of {STEP_MODELS}")
    ap.add_argument("--dtypes", default="float32,float64", help="--table: run dtypes")
    ap.add_argument("--before", help="--table: a folder holding the old linnet (e.g. a git worktree)")
    ap.add_argument(
        "--steps", default="cnn2:10,paper_cnn:5,resnet18:1", help="--table: steps timed per model"
    )
    ap.add_argument("--k", type=int, default=5, help="--table: λ_max(∇²L) every k steps")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    ap.add_argument("--json", help="also write the numbers to this file")
    args = ap.parse_args(argv)
    if args.cell:
        print(json.dumps(cell(**json.loads(args.cell))))
        return 0
    if args.table:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        roots = {"after": root, **({"before": os.path.abspath(args.before)} if args.before else {})}
        res = step_table(
            models=tuple(args.models.split(",")),
            dtypes=tuple(args.dtypes.split(",")),
            roots=roots,
            steps={m: int(v) for m, v in (kv.split(":") for kv in args.steps.split(","))},
            k=args.k,
            threads=args.threads or 1,
            log=lambda m: print(m, file=sys.stderr, flush=True),
        )
        print(step_table_markdown(res))
        if args.json:
            os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
            with open(args.json, "w") as fh:
                json.dump(res, fh, indent=1)
        return 0
    if args.memory:
        res = memory_table(
            ns=tuple(int(v) for v in args.ns.split(",")),
            archs=tuple(args.archs.split(",")),
            grams=tuple(args.grams.split(",")),
            budget=args.budget,
            max_step_s=args.max_step_s,
            threads=args.threads,
            tiny=args.tiny,
            log=lambda m: print(m, file=sys.stderr, flush=True),
        )
        print_memory_table(res)
    else:
        res = bench(quick=args.quick, tiny=args.tiny, gpu=args.gpu, threads=args.threads)
        print_report(res)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
