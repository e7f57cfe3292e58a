"""The suite's PyTorch experiments (:mod:`linnet.torch`): the paper's CNN with three activations
(Figs. 8–10) and ResNet18 with one output (Fig. 2).

Each is ``fn(ctx) -> ExperimentResult`` like :mod:`validation.experiments`; :data:`EXPERIMENTS`
lists them. ``fn(ctx, paper_size=True)`` runs the paper's size (1,000 CIFAR 32×32 images; meant
for a GPU, not run by the suite). The suite's own sizes are reduced to fit its CPU time budget
(see :data:`SIZES`). Images: real CIFAR-10 (classes 0/1, pixels in [0, 1]) when the context has a
loader, else the built-in photographs (:func:`validation.data.photographs`), block-averaged to
the run's image size. η = 0.8/Λ(0), Λ(0) = λ_max(G) at the start (equal to the Hessian's
top eigenvalue within 1–2% there: measured 9.46 vs 9.59 for the ReLU CNN at the suite's size).
"""

from __future__ import annotations

import contextlib
import time

import numpy as np

import linnet
from linnet.analysis import first_above, phase_fractions, phase_labels, upward_crossings
from theory.claims import claim

from .. import data as vdata
from ..figures import new, save, shade_phases
from ..rules import s3_matrix
from ..section3 import Evidence, FirstOrderObserver, judge_run
from ..verdicts import DEEP_NET_C, MIN_PS_STEPS, choose_eta_lambda0, not_applicable
from .common import checked_lambda0
from .context import ExperimentResult

ETA_FACTOR = 0.8  # ResNet18 (reduced, never judged): η = ETA_FACTOR / Λ(0); the CNN chooses c
TORCH_THREADS = 1  # intra-op threads during these runs (restored after); see _threads
ACTIVATIONS = ("tanh", "relu", "elu")
# Fig. 2 plots ResNet18's sharpness and ‖A‖² through PS and the EoS: the claims it is judged on
RESNET_CLAIMS = ("s3.ps_then_eos", "s3.a31.ps", "s3.a31.oscillations")

# (quick, full) sizes of the suite's runs; ctx.size picks one (tiny: quick shrunk 4×, ≥ 8); float32
# as PyTorch's defaults, which the paper's runs used (App. A; fc_nets.DTYPE)
SIZES = dict(
    cnn=dict(n=(32, 64), image=8, steps=(200, 600), dtype="float32", sharpness_every=1),
    resnet18=dict(n=(8, 16), image=8, steps=(4, 10), dtype="float32", sharpness_every=2),
)
TINY = dict(cnn=dict(n=8, steps=6), resnet18=dict(n=8, steps=2))
PAPER = dict(
    cnn=dict(n=1000, image=32, steps=2000, dtype="float32", sharpness_every=1, hessian_every=100),
    resnet18=dict(n=1000, image=32, steps=1000, dtype="float32", sharpness_every=1, hessian_every=0),
)


@contextlib.contextmanager
def _threads(n):
    """torch's intra-op threads set to ``n`` inside. Measured on the 2-core suite machine while
    other jobs ran: with 2 OpenMP threads a forward and backward of the CNN took 70× longer than
    with 1 (the threads spin against each other); 1 thread is robust."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _images(ctx, n, s):
    """(X n×3×s×s, Y, name): the real images of --data, else the built-in photographs, averaged
    down to s×s."""
    if ctx.loader is not None:
        ds = ctx.loader(per_class=n // 2)
        X = ds.X.T.reshape(-1, 3, 32, 32)
        if s != 32:
            if 32 % s:
                raise ValueError(f"image size {s} must divide 32 to downsample CIFAR")
            f = 32 // s
            X = X.reshape(X.shape[0], 3, s, f, s, f).mean(axis=(3, 5))
        return np.ascontiguousarray(X), ds.Y, f"{ds.name}, {s}×{s}"
    ds = vdata.photographs(per_class=n // 2, side=s)
    return np.ascontiguousarray(ds.X.T.reshape(n, 3, s, s)), ds.Y, ds.name


def _sizes(ctx, kind, paper_size):
    if paper_size:
        return dict(PAPER[kind])
    sz = dict(SIZES[kind])
    sz["n"], sz["steps"] = ctx.size(*sz["n"]), ctx.size(*sz["steps"])
    if ctx.tiny:  # the tests: ctx.size would floor the steps at 8
        sz.update(TINY[kind])
    sz.setdefault("hessian_every", 0)
    return sz


def _run(net_fn, X, Y, sz, device, *, gram="matrix-free", choose=False, evidence=False):
    """η = c/Λ(0) from a 0-step run — with ``choose``, c the first of DEEP_NET_C whose first
    MIN_PS_STEPS steps stay at or below 2/η (the deep nets' regime protocol,
    validation.verdicts.choose_eta_lambda0), else ETA_FACTOR — then the run: (trajectory, η, c,
    Λ(0), seconds, its §3 evidence — with ``evidence``, A3.2's first-order ratios observed along the
    run —)."""
    from linnet.torch import TorchModel

    kw = dict(dtype=sz["dtype"], progress=False)
    t0 = time.perf_counter()

    def model():
        return TorchModel(net_fn().to(device), gram=gram)

    lam0 = checked_lambda0(
        linnet.train(X, Y, eta=1.0, steps=0, model=model(), **kw).sharpness[0], "a PyTorch model"
    )

    def probe(c):
        return linnet.train(X, Y, eta=c / lam0, steps=MIN_PS_STEPS, model=model(), **kw)

    c = choose_eta_lambda0(DEEP_NET_C, probe)[0] if choose else ETA_FACTOR
    eta = c / lam0
    observers = [FirstOrderObserver(eta)] if evidence else []
    tr = linnet.train(
        X,
        Y,
        eta=eta,
        steps=sz["steps"],
        model=model(),
        sharpness_every=sz["sharpness_every"],
        hessian_every=sz["hessian_every"],
        observers=observers,
        **kw,
    )
    ev = Evidence.of(tr, observers[0] if observers else None) if sz["sharpness_every"] == 1 else None
    return tr, eta, c, lam0, time.perf_counter() - t0, ev


def _summary(tr, eta, lam0):
    """Headline numbers of one run: PS then EoS, A3.1's agreement rate on the steps with Λ."""
    steps = tr.sharpness_step
    S = tr.sharpness
    a2 = tr.a_norm2[steps]
    L = tr.loss[steps]
    lab = phase_labels(S, L, eta)
    cross = first_above(S, eta)
    crossed = cross < S.size
    agree = np.sign(np.diff(a2)) == np.sign(np.diff(S))
    fr = phase_fractions(lab)
    out = dict(
        eta=eta,
        lambda0=lam0,
        max_eta_lambda=float(eta * S.max()),
        first_crossing_step=int(steps[cross]) if crossed else None,
        ps_ratio_at_crossing=float(S[cross] / S[0]) if crossed else float(S.max() / S[0]),
        crossings=[int(steps[i]) for i in upward_crossings(S, eta)],
        ps_then_eos=bool(crossed and S[cross] > S[0] and np.any(lab == 3)),
        a31_agreement=float(agree.mean()) if agree.size else float("nan"),
        corr_a2_lambda=float(np.corrcoef(a2, S)[0, 1]) if S.size > 2 else float("nan"),
        a2_start=float(tr.a_norm2[0]),
        a2_end=float(tr.a_norm2[-1]),
        loss_start=float(tr.loss[0]),
        loss_end=float(tr.loss[-1]),
        loss_rises=int(np.sum(np.diff(tr.loss) > 0)),
        stopped=tr.stopped,
        **{f"phase_{k}": round(v, 3) for k, v in fr.items()},
    )
    return out, lab


def _plot_row(ax_row, tr, eta, lab, title):
    x = tr.sharpness_step
    a, b, c = ax_row
    shade_phases(a, lab, x)
    a.plot(x, eta * tr.sharpness, color="C3", lw=1, label="η·Λ")
    if tr.hessian_step.size:
        a.plot(tr.hessian_step, eta * tr.hessian_sharpness, "k.", ms=4, label="η·λ_max(Hessian)")
    a.axhline(2, color="k", ls="--", lw=1, label="2")
    a.set_ylabel("η · sharpness")
    a.set_title(title, fontsize=9)
    a.legend(loc="lower right", fontsize=7)
    shade_phases(b, lab, x)
    b.plot(tr.step, tr.a_norm2, color="C2", lw=1)
    b.set_ylabel("‖A‖² (output layer)")
    shade_phases(c, lab, x)
    c.semilogy(tr.step, tr.loss, color="C0", lw=1)
    c.set_ylabel("loss")
    for ax in ax_row:
        ax.set_xlabel("GD step")


def cnn_activations(ctx, paper_size=False, device="cpu"):
    """Figs. 8–10: the paper's CNN (App. A.2) with tanh, ReLU and ELU."""
    import torch

    from linnet.torch import paper_cnn

    sz = _sizes(ctx, "cnn", paper_size)
    n, s = sz["n"], sz["image"]
    X, Y, dname = _images(ctx, n, s)
    metrics, runs = {}, {}
    regimes, verdicts = {}, {}
    fig, ax = new(len(ACTIVATIONS), 3, w=3.6, h=2.6)
    with _threads(TORCH_THREADS):
        for i, act in enumerate(ACTIVATIONS):

            def net(act=act):
                torch.manual_seed(ctx.seed)
                return paper_cnn(act, (3, s, s))

            tr, eta, c, lam0, secs, ev = _run(
                net, X, Y, sz, device, gram="jacobian", choose=True, evidence=True
            )
            summ, lab = _summary(tr, eta, lam0)
            summ.update(seconds=secs, eta_lambda0=c)
            runs[act] = summ
            regimes[act], verdicts[act] = (
                ev.regime.as_dict(),
                [v.as_dict() for v in judge_run(ev, f"cnn-{act}")],
            )
            _plot_row(ax[i], tr, eta, lab, f"{act}: η = {eta:.3g} = {c:g}/Λ(0)")
            for k in (
                "eta",
                "max_eta_lambda",
                "first_crossing_step",
                "ps_ratio_at_crossing",
                "ps_then_eos",
                "a31_agreement",
                "corr_a2_lambda",
                "loss_end",
                "seconds",
            ):
                metrics[f"{act}_{k}"] = summ[k]
            n_params = tr.config["n_params"]
    metrics["all_ps_then_eos"] = all(r["ps_then_eos"] for r in runs.values())
    metrics.update(
        regimes=regimes,
        section3=verdicts,
        first_crossing_step={k: r["first_crossing_step"] for k, r in regimes.items()},
    )
    cfg = dict(
        data=dname,
        n=n,
        image=f"3×{s}×{s}",
        steps=sz["steps"],
        dtype=sz["dtype"],
        architecture=f"paper_cnn (App. A.2), P = {n_params}",
        init=f"PyTorch default, seed {ctx.seed}",
        eta=f"c/Λ(0), c the first of {list(DEEP_NET_C)} with a PS of ≥ {MIN_PS_STEPS} steps",
        sharpness_every=sz["sharpness_every"],
        gram="jacobian",
        torch_threads=TORCH_THREADS,
        paper_size=paper_size,
        runs=runs,
    )
    notes = (
        "Sharpness Λ = λ_max(G), G = JJᵀ/n over all parameters, tracked every step; ‖A‖² is the "
        "output layer's squared norm. A3.1's agreement rate is the fraction of steps where Λ and ‖A‖² "
        "change in the same direction. Phases: §3.1's sign rule (white = I, progressive sharpening). "
        + ("" if paper_size else f"Reduced CPU size (paper: 1,000 images 32×32): n = {n}, {s}×{s} images.")
    )
    return ExperimentResult(
        "cnn_activations",
        "The paper's CNN with tanh, ReLU, ELU: PS then EoS",
        "Fig. 8, 9, 10",
        cfg,
        [save(fig, ctx.fig("cnn_activations"))],
        metrics,
        notes=notes,
        reduced="" if paper_size else f"{n} images of {s}×{s} (Table 3: 1,000 of 32×32)",
    )


def resnet18(ctx, paper_size=False, device="cpu"):
    """Fig. 2: ResNet18 with one output, sharpness against ‖A‖² along GD."""
    import torch

    from linnet.torch import resnet18 as make_resnet

    sz = _sizes(ctx, "resnet18", paper_size)
    n, s = sz["n"], sz["image"]
    X, Y, dname = _images(ctx, n, s)

    def net():
        torch.manual_seed(ctx.seed)
        return make_resnet(1)

    with _threads(TORCH_THREADS):
        tr, eta, _, lam0, secs, ev = _run(net, X, Y, sz, device)
    summ, lab = _summary(tr, eta, lam0)
    summ["seconds"] = secs
    fig, ax = new(1, 3, w=3.6, h=2.8)
    _plot_row(ax[0], tr, eta, lab, f"ResNet18: η = {eta:.3g} = {ETA_FACTOR}/Λ(0)")
    src = tr.config["architecture_source"]
    cfg = dict(
        data=dname,
        n=n,
        image=f"3×{s}×{s}",
        steps=sz["steps"],
        dtype=sz["dtype"],
        architecture=f"resnet18(num_outputs=1), P = {tr.config['n_params']}",
        architecture_source=src,
        init=f"PyTorch default (kaiming conv, BN 1/0), seed {ctx.seed}",
        eta=eta,
        eta_rule=f"{ETA_FACTOR}/Λ(0)",
        sharpness_every=sz["sharpness_every"],
        gram="matrix-free",
        batchnorm="train mode (batch statistics); running statistics updated once per step",
        torch_threads=TORCH_THREADS,
        paper_size=paper_size,
    )
    metrics = {
        k: summ[k]
        for k in (
            "eta",
            "lambda0",
            "max_eta_lambda",
            "first_crossing_step",
            "ps_then_eos",
            "ps_ratio_at_crossing",
            "a31_agreement",
            "corr_a2_lambda",
            "a2_start",
            "a2_end",
            "loss_start",
            "loss_end",
            "seconds",
        )
    }
    metrics["architecture_source"] = src
    metrics["first_crossing_step"] = {"resnet18": summ["first_crossing_step"]}
    if paper_size and ev is not None:
        verdicts = [v.as_dict() for v in judge_run(ev, "resnet18")]
    else:  # Fig. 2 is about 1,000 CIFAR images of 32×32 through a long PS: a smaller run says nothing
        why = (
            f"not run at the paper's size: the suite's ResNet18 is a smoke run of {n} images of {s}×{s} "
            f"for {sz['steps']} steps (Fig. 2: 1,000 images of 32×32 through PS and the EoS)"
        )
        verdicts = [not_applicable(claim(c), why).as_dict() for c in RESNET_CLAIMS]
    metrics["section3"] = {"resnet18": verdicts}
    notes = f"ResNet18 from {src}. " + (
        ""
        if paper_size
        else f"Reduced CPU size (paper: 1,000 images 32×32): n = {n} images {s}×{s}, {sz['steps']} steps, "
        f"float32, Λ every {sz['sharpness_every']} steps — one step costs seconds on the CPU, so "
        "this run is far too short and too small for Fig. 2's progressive sharpening: at this n the "
        "network interpolates within a few steps and ‖A‖² hardly moves. The paper's size needs a GPU "
        "(resnet18(ctx, paper_size=True, device='cuda'))."
    )
    return ExperimentResult(
        "resnet18",
        "ResNet18 (one output): sharpness against ‖A‖²",
        "Fig. 2",
        cfg,
        [save(fig, ctx.fig("resnet18"))],
        metrics,
        notes=notes,
        reduced="" if paper_size else f"{n} images of {s}×{s} (Fig. 2: 1,000 of 32×32)",
    )


EXPERIMENTS = {f.__name__: f for f in (cnn_activations, resnet18)}


RULES = s3_matrix(
    "cnn_activations", {a: f"cnn-{a}" for a in ACTIVATIONS}, paper="App. B.2, Figs. 8–10"
) + s3_matrix("resnet18", {"resnet18": "resnet18"}, paper="Fig. 2", claims=RESNET_CLAIMS)
