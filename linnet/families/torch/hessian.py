"""λ_max(∇²L) of a :class:`~.adapter.TorchEngine` run: block Hessian-vector products and a
warm-started LOBPCG (block size one), for ``train(..., hessian_every=k)``.

Products. ∇²L V for a block V (b×P, b ≤ 3) in one pass over the engine's sample chunks
(L = Σ_S L_S), by one of

* ``"forward-over-reverse"``: ``vmap`` over V's rows of ``jvp(grad L_S)`` (the tangent pass per
  row, the primal forward and backward shared);
* ``"reverse-over-reverse"``: ∇L_S with ``create_graph=True``, then one batched backward of
  ⟨∇L_S, v⟩ for every row (``is_grads_batched``).

Where the memory plan allows (``keep_hessian_graphs``), reverse-over-reverse forms each chunk's
graph of ∇L_S once per evaluation and takes every product through the kept graphs
(:func:`hessian_operator`): a product is then one batched backward.
``"auto"`` (default) times each way on the first evaluation's random vector (its setup plus
``TYPICAL_PRODUCTS`` products) and keeps the faster for the run (both images must agree to
``tol("hvp-modes")``: the same derivative by other orders of summation). Which is faster depends
on the ops (convolutions, pooling, BatchNorm) and the machine, hence measured, not assumed.

Solver (:class:`WarmHessianTop`). Rayleigh–Ritz on the span of a start block, then LOBPCG: the
search space is [x, r, p] (the Ritz vector, its residual r = ∇²L x − θx, the previous update
direction), and only r needs a new product each iteration (x's and p's images are the same linear
combinations of images already formed). A warm call starts from the last top vector x alone; the
first from a fixed random vector and the state's loss gradient ∇L (free: the step computed it; at
the edge of stability GD oscillates along the top eigenvector, so ∇L carries it). Measured on the
paper's CNN (float32, n = 1,000, tol 1e-4, the same states): a warm start of x and ∇L (plus 0.1 of
the random vector) took 4 products an evaluation against 3 for x alone, and 10.5–11 s against
8.8–9.5 s, where :class:`linnet.run.observers.WarmLanczos` took 3 products and 10.2–10.5 s. Unlike
WarmLanczos no random vector is mixed into x: an eigenvalue overtaking the tracked one is found
through the residual directions only where x keeps a component along it.
Stop: ρ = ‖∇²L x − θx‖ ≤ tol·|θ| with tol floored at 100ε of the run's dtype (roundoff of the
products), so |θ − λ| ≤ ρ for an eigenvalue λ (Bauer–Fike) and ≤ ρ²/gap for the top one
(Kato–Temple); or ``maxiter`` products. The solver holds 8 P-vectors (x, r, p, their images, the
start and the random vector), against a Lanczos basis of up to ``maxiter``.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch
from torch.func import grad, jvp, vmap

from ...tolerances import tol as tolerance

HVP_MODES = ("auto", "forward-over-reverse", "reverse-over-reverse")
SOLVER_VECTORS = 8  # P-vectors the warm solver holds (x, r, p, their images, start, random)
BLOCK = 1  # rows per product call (the start block's two vectors go one at a time)
TYPICAL_PRODUCTS = 3  # products of a warm evaluation, for "auto"'s estimate of each way's cost


def hvp_block(engine: Any, theta: torch.Tensor, V: torch.Tensor, mode: str) -> torch.Tensor:
    """∇²L V for the rows of V (b×P) at θ: Σ over the engine's chunks S of ∇²L_S V, by ``mode``
    ("forward-over-reverse" or "reverse-over-reverse", module doc). Rows are batched by ``vmap``
    (``is_grads_batched``); on the 2-core CPU that was no faster than b single products (the small
    CNN at n = 1,000: b = 2 took 4.1–4.3 forward+backward passes, one row 1.5–2.3), so the solver
    passes one row at a time."""
    out = torch.zeros_like(V)
    for S in engine.chunks:
        if mode == "forward-over-reverse":
            gS = grad(lambda th, S=S: engine.loss_fn(th, S))
            if V.shape[0] == 1:
                out[0] += jvp(gS, (theta,), (V[0],))[1]
            else:
                out += vmap(lambda v, gS=gS: jvp(gS, (theta,), (v,))[1])(V)
        elif mode == "reverse-over-reverse":
            th = theta.detach().requires_grad_(True)
            with torch.enable_grad():
                (g,) = torch.autograd.grad(engine.loss_fn(th, S), th, create_graph=True)
                if V.shape[0] == 1:
                    out[0] += torch.autograd.grad(g, th, grad_outputs=V[0])[0]
                else:
                    out += torch.autograd.grad(g, th, grad_outputs=V, is_grads_batched=True)[0]
        else:
            raise ValueError(f"hvp={mode!r} is unknown: use one of {HVP_MODES}")
    return out


def hessian_operator(engine: Any, theta: torch.Tensor, mode: str, *, keep: bool):
    """V ↦ ∇²L V (rows) at θ for one evaluation. Reverse-over-reverse with ``keep`` (the memory
    plan's ``keep_hessian_graphs``) forms every chunk's ∇L_S with its graph once and takes each
    product as a batched backward through the kept graphs (``retain_graph``); otherwise each
    product is :func:`hvp_block` from scratch."""
    if mode != "reverse-over-reverse" or not keep:
        return lambda V: hvp_block(engine, theta, V, mode)
    th = theta.detach().requires_grad_(True)
    with torch.enable_grad():
        gs = [torch.autograd.grad(engine.loss_fn(th, S), th, create_graph=True)[0] for S in engine.chunks]

    def op(V: torch.Tensor) -> torch.Tensor:
        out = torch.zeros_like(V)
        for g in gs:
            if V.shape[0] == 1:
                out[0] += torch.autograd.grad(g, th, grad_outputs=V[0], retain_graph=True)[0]
            else:
                out += torch.autograd.grad(g, th, grad_outputs=V, retain_graph=True, is_grads_batched=True)[0]
        return out

    return op


def _unit(v: torch.Tensor, basis: list[torch.Tensor]) -> torch.Tensor | None:
    """v orthogonalised against the orthonormal ``basis`` (twice: classical Gram–Schmidt loses
    orthogonality in one pass when v is nearly in the span) and normalised; None if nothing is
    left (below 1e-3 of v's norm: v lies in the span to float32's working accuracy)."""
    n0 = float(torch.linalg.norm(v))
    if not math.isfinite(n0) or n0 == 0.0:
        return None
    for _ in range(2):
        for b in basis:
            v = v - b * (b @ v)
    n1 = float(torch.linalg.norm(v))
    return v / n1 if n1 > 1e-3 * n0 else None


class WarmHessianTop:
    """λ_max(∇²L) of a TorchEngine's states, warm-started from the last call (module doc).
    ``__call__(engine, obs)`` → (θ, ρ, x): the top Ritz value, its residual norm and unit vector.
    ``products`` counts the Hessian-vector products (block rows), ``mode`` the HVP way in use,
    ``timings`` the seconds per product of each way where ``"auto"`` measured them."""

    def __init__(self, *, dim: int, dtype: Any, tol: float, maxiter: int, mode: str = "auto", seed: int = 3):
        if mode not in HVP_MODES:
            raise ValueError(f"hvp={mode!r} is unknown: use one of {HVP_MODES}")
        self.dim, self.mode, self.maxiter = int(dim), mode, int(maxiter)
        self.tol = max(float(tol), 100 * float(np.finfo(np.dtype(dtype)).eps))
        g = np.random.default_rng(seed).standard_normal(self.dim)
        self._g = g / np.linalg.norm(g)
        self.x: torch.Tensor | None = None
        self.products = 0
        self.calls = 0
        self.timings: dict[str, float] = {}

    def _choose(self, engine: Any, theta: torch.Tensor, g: torch.Tensor, keep: bool):
        """Time each way on g, keep the one whose evaluation of ``TYPICAL_PRODUCTS`` products is
        estimated faster (its setup, the kept graphs, once, plus that many products); return the
        operator and ∇²L g."""
        images, ops = {}, {}
        for m in HVP_MODES[1:]:
            t0 = time.perf_counter()
            ops[m] = hessian_operator(engine, theta, m, keep=keep)
            t1 = time.perf_counter()
            images[m] = ops[m](g[None])[0]
            t2 = time.perf_counter()
            self.timings[m] = (t1 - t0) + TYPICAL_PRODUCTS * (t2 - t1)
        a, b = images.values()
        dev = float(torch.linalg.norm(a - b)) / max(float(torch.linalg.norm(a)), 1e-300)
        if dev > tolerance("hvp-modes", engine.dtype):
            raise RuntimeError(
                f"forward-over-reverse and reverse-over-reverse Hessian products differ by {dev:.1e} "
                "(relative): a module whose second derivatives autograd gets wrong one way; pass "
                "TorchModel(..., hvp='forward-over-reverse') or 'reverse-over-reverse' to pick one"
            )
        self.products += 2
        self.mode = min(self.timings, key=lambda k: self.timings[k])
        return ops[self.mode], images[self.mode]

    def __call__(self, engine: Any, obs: Any) -> tuple[float, float, torch.Tensor]:
        theta = obs.theta
        g = torch.as_tensor(self._g, dtype=theta.dtype, device=theta.device)
        basis: list[torch.Tensor] = []
        images: list[torch.Tensor] = []
        start = [g, obs.grad] if self.x is None else [self.x]
        keep = bool(getattr(engine.plan, "keep_hessian_graphs", False))
        if self.mode == "auto":
            op, Hg = self._choose(engine, theta, g, keep)
            basis.append(g)
            images.append(Hg)
            start = start[1:]
        else:
            op = hessian_operator(engine, theta, self.mode, keep=keep)
        new: list[torch.Tensor] = []
        for v in start:
            u = _unit(v, basis + new)
            if u is not None:
                new.append(u)
        if new:
            # one row at a time: on the CPU a batched (vmap) product of b rows took longer than b
            # single ones (hvp_block's note)
            self.products += len(new)
            basis += new
            images += [op(u[None])[0] for u in new]
        theta_, x, Hx, rest = _ritz(basis, images)
        p = Hp = None
        if rest is not None:
            p, Hp = rest
        while True:
            r = Hx - theta_ * x
            rho = float(torch.linalg.norm(r))
            if rho <= self.tol * abs(theta_) or self.products >= self.maxiter:
                break
            sub = [x] + ([p] if p is not None else [])
            w = _unit(r, sub)
            if w is None:
                break
            Hw = op(w[None])[0]
            self.products += 1
            theta_, x_new, Hx_new, rest = _ritz(sub + [w], [Hx] + ([Hp] if Hp is not None else []) + [Hw])
            x, Hx = x_new, Hx_new
            p = Hp = None
            if rest is not None:
                p, Hp = rest
        if self.x is not None and float(x @ self.x) < 0:
            x, Hx = -x, -Hx  # a consistent sign from call to call
        self.x = x
        self.calls += 1
        return float(theta_), rho, x


def _ritz(
    basis: list[torch.Tensor], images: list[torch.Tensor]
) -> tuple[float, torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None]:
    """Rayleigh–Ritz on an orthonormal ``basis`` with its ``images`` (∇²L b): the top Ritz value θ,
    vector x and image, and the LOBPCG direction p (the span's part of x orthogonal to its first
    vector, the previous x, normalised, with its image), or None where the span is x alone."""
    Q, HQ = torch.stack(basis), torch.stack(images)
    A = (Q @ HQ.T).double().cpu().numpy()
    w, C = np.linalg.eigh((A + A.T) / 2)
    c = torch.as_tensor(C[:, -1], dtype=Q.dtype, device=Q.device)
    x, Hx = c @ Q, c @ HQ
    nx = float(torch.linalg.norm(x))
    x, Hx = x / nx, Hx / nx
    if len(basis) == 1:
        return float(w[-1]), x, Hx, None
    d = c.clone()
    d[0] = 0  # the update direction: x less its component along the previous x
    p, Hp = d @ Q, d @ HQ
    a = float(x @ p)
    p, Hp = p - a * x, Hp - a * Hx
    npn = float(torch.linalg.norm(p))
    if not npn > 1e-6 * nx:
        return float(w[-1]), x, Hx, None
    return float(w[-1]), x, Hx, (p / npn, Hp / npn)


__all__ = ["HVP_MODES", "SOLVER_VECTORS", "WarmHessianTop", "hessian_operator", "hvp_block"]
