"""PyTorch models in linnet's GD loop: :class:`TorchModel` wraps an ``nn.Module`` with one output.

``train(X, Y, model=TorchModel(net), eta=..., steps=...)`` runs full-batch GD on the MSE loss
L(θ) = ‖F(θ) − Y‖²/(2n) over every parameter of ``net`` (flattened into one vector θ and applied
with ``torch.func.functional_call``) and records the same trajectory as :class:`linnet.MLP`:
Λ = λ_max(G), G = JJᵀ/n (J = ∂F/∂θ, n×P); ‖A‖² (the output layer's weight); ‖G_A‖ exactly from
the penultimate features; the Hessian's top eigenvalue. X is samples first (n×…, a tensor or an
array, as the module takes it); linnet itself sees X flattened to d×n only for its data spectrum
(K = XᵀX/n's eigenvectors, for ``d_top``/``f_top``).

Gram products (``gram=``):

* ``"jacobian"``: J formed once per state and G v = J(Jᵀv)/n as two products on it (2nP flops
  each; G is never formed). Without batch coupling J's rows are per-sample gradients ∇_θF_i,
  ``torch.func.vmap(grad(F_i))`` over chunks of samples ("per-sample rows"); for a batch-coupled
  module (BatchNorm in train mode) row i is the vjp of the full-batch F with the unit vector e_i,
  ``vmap`` of one ``torch.func.vjp`` over chunks of unit vectors ("vjp rows").
* ``"dense"``: J as above and G = JJᵀ/n formed once per state (n²P flops: cheaper than products
  on J only where a state takes more than n/2 of them).
* ``"matrix-free"``: G v = J(Jᵀv)/n by ``torch.func.vjp`` then ``torch.func.jvp``, J never formed;
  without batch coupling over chunks of samples, Jᵀv = Σ_c J_cᵀv_c and J u stacked from the J_c u.
* ``"auto"`` (default): the first of these that fits ``memory_budget`` by the estimate below:
  "jacobian", then "matrix-free"; for a batch-coupled module "jacobian" only up to
  n = ``COUPLED_JACOBIAN_MAX_N`` (its J takes n full-batch vjps, as long as n/2 matrix-free
  products, and the tracker takes about 3–10 a state). ``TorchModel.plan`` says what it picks and
  why; a forced mode whose estimate exceeds the budget, or data no mode fits, raises ``ValueError``
  before anything large is allocated.

The other products: ∇²L v by forward-over-reverse (``jvp`` of ``grad`` of L), summed over the
sample chunks (L is a sum over samples when they are not coupled); ‖G_A‖ = λ_max((HᵀH + b·11ᵀ)/n),
H the n×h input of the output ``nn.Linear`` (captured by a forward hook), b = 1 when that layer has
a bias (its Jacobian column is 1) and 0 otherwise, solved as the (h+b)×(h+b) problem. The loss's
gradient at each state is the chunks' autograd gradients summed, never taken from J, and the chunk
size does not depend on what is measured (unless a tight budget shrinks it): the trajectory is
bitwise the same whatever ``sharpness_every``/``hessian_every`` are, and across Gram modes the same
up to the chunking's summation order (a single chunk is the plain full-batch autograd step).

Memory (:class:`MemoryPlan`, bytes; w the dtype's item size, P parameters, n samples, h the
output layer's fan-in). Trial forwards of 2 and 4 samples measure per sample s, the bytes autograd
saves for the backward (``saved_tensors_hooks``, each storage once), and a, the bytes of every leaf
module's output. With c samples per chunk (all n for a batch-coupled module) and c_J rows per
``vmap`` call, the peak is estimated as
MEMORY_SLACK·(base + max(observe, kept + max(form, products, Hessian))), the factor covering what
the allocator keeps beyond the live tensors (calibrated on measured runs, see the constant), with

* base = 3·X (X, its d×n copy, K's eigenvectors) + 4n²w (K = XᵀX/n and its eigensolver) + H
  (n(h+1)w) + 8Pw (θ, its gradient, the step's and the transforms' copies) + the trackers' n-vectors;
* observe = c(s + a) + 2Pw, the loss's forward and backward, chunk by chunk;
* kept = nPw for J ("jacobian", "dense"), + n²w for G ("dense"); the linearisations ns when
  "matrix-free" keeps them through the state (else they are rebuilt for every product);
* form = c_J(3(s + a) + 2Pw) (per-sample rows) or Ns + c_J(N(s + 2a) + Pw) + 2Pw (vjp rows of
  N samples: a vmapped backward holds its own copy of the batch's intermediates per row);
* products: 3ca + 3Pw (matrix-free, kept), c(s + 3a) + 3Pw (not kept), nothing on J;
* Hessian (``hessian_every`` > 0): products on a block of b = ``hessian.BLOCK`` rows,
  (1 + 2b)c(s + a) + 4bPw, + the warm solver's vectors, ``HESSIAN_BASIS``·Pw (:mod:`.hessian`);
* where it fits the budget beside the rest, the Hessian's graphs of ∇L_S kept through an
  evaluation, n(2s + a) (``keep_hessian_graphs``; reverse-over-reverse products then cost one
  backward each);
* base gains ``TRANSFORM_CODE_BYTES`` where ``jvp`` (matrix-free, Hessian) or vjp rows run: torch
  loads the transforms' decompositions on the first call.

Chunks hold at most ``CHUNK_BYTES`` of per-sample work (about 35 of the paper's 32×32 images:
larger chunks are no faster on the CPU) and shrink when the budget needs it. The budget is
``TorchModel(..., memory_budget=)``: bytes or a string such as "4GiB"; default half of the
device's memory (the GPU's, or the machine's RAM). Python's and torch's own ~0.3–0.5 GB are not
counted. J's rows, the tracker's basis and the Lanczos vectors are torch tensors on the module's
device (:class:`TorchArrays` is the array namespace linnet's eigensolvers run on), so a GPU run
copies only scalars and k×k projected matrices to the host, never a product.

BatchNorm: full-batch GD trains the train-mode function (batch statistics). Modules with
``track_running_stats=True`` would update their running statistics in place inside the function
transforms; here the transforms run with tracking switched off (the train-mode output is the same:
it uses batch statistics either way) and the running statistics are updated once per GD step by a
plain forward at the state the step starts from, as a PyTorch training loop would. Random layers
(``nn.Dropout`` and relatives) are refused: the loss would not be a function of θ.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import re
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, jvp, vjp, vmap

from ...tolerances import tol
from ..base import Built
from .hessian import BLOCK, HVP_MODES, SOLVER_VECTORS, WarmHessianTop

RANDOM_LAYERS = (
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.FeatureAlphaDropout,
)
GRAM_MODES = ("auto", "jacobian", "dense", "matrix-free")
CHUNK_BYTES = 128 * 2**20  # per-sample working memory of one chunk (forward/backward, per-sample rows)
COUPLED_JACOBIAN_MAX_N = 64  # "auto" forms a batch-coupled module's J (n full-batch vjps) up to this n
HESSIAN_BASIS = SOLVER_VECTORS  # P-vectors the warm Hessian solver holds (hessian.WarmHessianTop)
# the estimate's factor for what the process holds beyond the live tensors (freed memory the allocator
# keeps, fragmentation). Measured over the unscaled estimate, float64, CPU peak RSS less the RSS before
# the run: 0.79–1.14 on the 22 measured cells of ``python -m linnet.bench_torch --memory`` (the paper's
# CNN and the BatchNorm CNN, n = 250…2000, every mode), 0.73 for ResNet18 (n = 32); CUDA
# max_memory_allocated 0.46 (ResNet18, n = 1000, matrix-free, H200)
MEMORY_SLACK = 1.4
# the first jvp (matrix-free, Hessian) or vmap of a BatchNorm-style vjp (vjp rows) makes torch load
# decompositions for the transform: ~0.1 GB of RSS once per process
TRANSFORM_CODE_BYTES = 128 * 2**20
PER_SAMPLE, VJP_ROWS = "per-sample rows (vmap of grad)", "vjp rows (vmap of vjp)"
_UNITS = {
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}

_TORCH_DTYPES = {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32}


def _torch_dtype(dtype: Any) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        if dtype not in _TORCH_DTYPES.values():
            raise TypeError(f"dtype={dtype} is not supported: use 'float32' or 'float64'")
        return dtype
    dt = np.dtype(dtype)
    if dt not in _TORCH_DTYPES:
        raise TypeError(f"dtype={dt} is not supported: use 'float32' or 'float64'")
    return _TORCH_DTYPES[dt]


def module_dtype(module: nn.Module) -> np.dtype:
    """The floating dtype of ``module``'s parameters and floating buffers (float32 for a module as
    PyTorch creates it): the precision a :class:`TorchModel` runs in unless ``train(dtype=)`` says
    otherwise. ``TypeError`` naming the fix where they are mixed or neither float32 nor float64."""
    names = _dtype_names(module)
    if not names:
        raise TypeError("the module has no floating-point parameters: nothing to train")
    if len(names) > 1 or names[0] not in ("float32", "float64"):
        raise TypeError(
            f"the module's parameters and buffers are {', '.join(names)}: linnet runs float32 or "
            "float64 throughout; pass train(..., dtype='float32') or dtype='float64' (a converted copy "
            "runs; your module is left as it is)"
        )
    return np.dtype(names[0])


def _dtype_names(module: nn.Module) -> list[str]:
    """The distinct floating dtypes of ``module``'s parameters and buffers, by name, sorted."""
    found = {t.dtype for t in [*module.parameters(), *module.buffers()] if t.is_floating_point()}
    return sorted(str(d).replace("torch.", "") for d in found)


def _named(module: nn.Module, target: nn.Module) -> str:
    for name, m in module.named_modules():
        if m is target:
            return name or "<root>"
    return type(target).__name__


def _tracking_bn(module: nn.Module) -> list[nn.Module]:
    return [
        m
        for m in module.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
    ]


def _gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:.2f} GiB"


def _slices(n: int, c: int) -> list[slice]:
    c = max(1, min(int(c), n))
    return [slice(i, min(i + c, n)) for i in range(0, n, c)]


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


def parse_memory_budget(value: Any) -> int | None:
    """``memory_budget`` in bytes: a number of bytes (≥ 1 MiB) or a string with a unit ("4GiB",
    "512 MiB", "8GB"); None (the default: half the device's memory) stays None."""
    if value is None:
        return None
    hint = "give bytes (e.g. 4 * 2**30) or a string such as '4GiB' or '512MiB'"
    if isinstance(value, str):
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][0-9]+)?)\s*([kKmMgGtT]i?[bB]|[bB])?\s*", value)
        if not m:
            raise ValueError(f"memory_budget={value!r} is not a size: {hint}")
        nbytes = float(m.group(1)) * _UNITS[(m.group(2) or "b").lower()]
    elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        nbytes = float(value)
    else:
        raise ValueError(f"memory_budget={value!r} is not a size: {hint}")
    if not math.isfinite(nbytes) or nbytes < 2**20:
        raise ValueError(f"memory_budget={value!r} is under 1 MiB (numbers are bytes): {hint}")
    return int(nbytes)


def device_memory(device: torch.device) -> int:
    """Total memory of ``device``: the GPU's for CUDA, else the machine's physical memory."""
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 16 * 2**30


class TorchArrays:
    """The part of NumPy's namespace that linnet's eigensolvers use (:class:`linnet.tracking.EigTracker`,
    :func:`linnet.lanczos.lanczos`, :class:`linnet.observers.WarmLanczos`), over torch tensors on
    one device. Passed as their ``xp``, it keeps their vectors — bases, images, Ritz vectors — on
    the module's device; only scalars and the k×k projected matrices go to the host. NumPy dtypes
    are mapped to torch's (float64, float32)."""

    def __init__(self, device: Any):
        self.device = torch.device(device)
        self.linalg = SimpleNamespace(qr=torch.linalg.qr, norm=torch.linalg.norm)

    def __repr__(self) -> str:
        return f"TorchArrays({str(self.device)!r})"

    def _dt(self, dtype: Any) -> torch.dtype | None:
        return None if dtype is None else _torch_dtype(dtype)

    def asarray(self, x: Any, dtype: Any = None) -> torch.Tensor:
        if isinstance(x, np.ndarray) and any(s < 0 for s in x.strides):
            x = np.ascontiguousarray(x)
        return torch.as_tensor(x, dtype=self._dt(dtype), device=self.device)

    def zeros(self, shape: Any, dtype: Any = None) -> torch.Tensor:
        return torch.zeros(shape, dtype=self._dt(dtype), device=self.device)

    def empty(self, shape: Any, dtype: Any = None) -> torch.Tensor:
        return torch.empty(shape, dtype=self._dt(dtype), device=self.device)

    def zeros_like(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)

    def abs(self, x: torch.Tensor) -> torch.Tensor:
        return torch.abs(x)

    def argmax(self, x: torch.Tensor) -> torch.Tensor:
        return torch.argmax(x)


class _Flat:
    """F(θ; X): the run's module's train-mode output on X with its parameters given as one flat
    vector θ (running statistics untouched); ``theta0`` and ``buffers`` are copies of the module's
    own; ``output`` is the run's module's output layer (the paper's A)."""

    def __init__(self, module: nn.Module, output: nn.Module):
        params = dict(module.named_parameters())
        self.module, self.output = module, output
        self.names = list(params)
        self.shapes = [p.shape for p in params.values()]
        self.sizes = [p.numel() for p in params.values()]
        self.theta0 = torch.cat([p.detach().reshape(-1) for p in params.values()]).clone()
        self.buffers = {k: b.detach().clone() for k, b in module.named_buffers()}
        self.bns = _tracking_bn(module)
        self.P = int(self.theta0.numel())

    def unflatten(self, theta: torch.Tensor) -> dict:
        return {
            name: t.view(shape)
            for name, t, shape in zip(self.names, torch.split(theta, self.sizes), self.shapes, strict=True)
        }

    def __call__(self, theta: torch.Tensor, X: torch.Tensor) -> Any:
        with _no_running_stats(self.bns):
            return functional_call(self.module, {**self.unflatten(theta), **self.buffers}, (X,))


def _vjp_rows(f: Any, theta: torch.Tensor, m: int, chunk: int, out: torch.Tensor) -> None:
    """Write the m×P Jacobian of ``f`` (θ ↦ R^m) into ``out``: rows eᵢᵀJ = vjp(eᵢ), ``vmap`` over
    ``chunk`` unit vectors at a time, one linearisation."""
    pull = vjp(f, theta)[1]
    for C in _slices(m, chunk):
        E = torch.zeros(C.stop - C.start, m, dtype=theta.dtype, device=theta.device)
        rows = torch.arange(C.stop - C.start, device=E.device)
        E[rows, rows + C.start] = 1
        out[C] = vmap(pull)(E)[0]


@dataclass(frozen=True)
class Probe:
    """What trial forwards of the first 2 and 4 samples measured: bytes per sample saved for the
    backward (``saved``, s) and of all leaf modules' outputs (``activations``, a); whether the
    module couples samples (``coupled``) and why (``coupling``); whether per-sample gradients by
    ``vmap`` work and agree with vjp rows (``per_sample``, ``per_sample_note``)."""

    saved: float
    activations: float
    coupled: bool
    coupling: str
    per_sample: bool
    per_sample_note: str


@dataclass(frozen=True)
class MemoryPlan:
    """How a :class:`TorchModel` runs on its data: the Gram mode ``gram``, how J's rows are formed
    (``jacobian``: ``PER_SAMPLE``, ``VJP_ROWS`` or None), samples per forward/backward ``chunk``,
    rows per ``vmap`` call ``jacobian_chunk``, whether matrix-free keeps its linearisation through
    a state, the estimated peak bytes of this mode (``estimate_bytes``) and of each mode that
    applies (``estimates``, by the module doc's formula), the budget, the coupling and ``why``."""

    gram: str
    jacobian: str | None
    chunk: int
    jacobian_chunk: int
    keep_linearisation: bool
    estimate_bytes: int
    estimates: dict
    budget_bytes: int
    coupled: bool
    coupling: str
    why: str
    keep_hessian_graphs: bool = False

    def config(self) -> dict:
        return dict(
            gram=self.gram,
            jacobian=self.jacobian,
            chunk=self.chunk,
            jacobian_chunk=self.jacobian_chunk,
            keep_linearisation=self.keep_linearisation,
            memory_estimate_bytes=self.estimate_bytes,
            memory_estimates=dict(self.estimates),
            memory_budget_bytes=self.budget_bytes,
            batch_coupled=self.coupled,
            batch_coupling=self.coupling,
            gram_choice=self.why,
            keep_hessian_graphs=self.keep_hessian_graphs,
        )


@dataclass(frozen=True)
class _Sizes:
    n: int
    P: int
    w: int
    s: float
    a: float
    x_bytes: int
    buffer_bytes: int
    h: int
    coupled: bool
    per_sample: bool
    hessian: bool


def _estimate(mode: str, z: _Sizes, budget: int) -> tuple[int, int, int, bool]:
    """(peak bytes, chunk, jacobian chunk, keep linearisation) of ``mode`` by the module doc's
    formula, the chunks as large as ``CHUNK_BYTES`` allows and shrunk (halved) to fit ``budget``."""
    n, P, w, s, a = z.n, z.P, z.w, z.s, z.a
    unit = s + a
    base = z.x_bytes * 3 + 4 * n * n * w + z.buffer_bytes + n * (z.h + 1) * w + 8 * P * w + 40 * n * w
    basis = HESSIAN_BASIS * P * w if z.hessian else 0
    formed = mode in ("jacobian", "dense")
    rows_n = n if z.coupled else 0  # vjp rows of all n samples (coupled), else of one chunk

    def peak(c: int, cj: int, keep: bool) -> float:
        observe = c * unit + 2 * P * w
        hvp = (1 + 2 * BLOCK) * c * unit + 4 * BLOCK * P * w + basis if z.hessian else 0.0
        kept: float
        if formed:
            kept = n * P * w + (n * n * w if mode == "dense" else 0)
            if z.per_sample and not z.coupled:
                form = cj * (3 * unit + 2 * P * w)
            else:
                N = rows_n or c
                form = N * s + cj * (N * (s + 2 * a) + P * w) + 2 * P * w
            prod = 0.0
        else:
            kept = n * s if keep else 0.0
            form = 0.0
            prod = (3 * c * a if keep else c * (s + 3 * a)) + 3 * P * w
        rows_by_vjp = formed and (z.coupled or not z.per_sample)
        code = TRANSFORM_CODE_BYTES if z.hessian or not formed or rows_by_vjp else 0
        return MEMORY_SLACK * (base + code + max(observe, kept + max(form, prod, hvp)))

    # per sample of a chunk: the Hessian's products' need, whatever is measured (the same chunks, so the
    # same gradient sums, for every mode and every hessian_every)
    per_c = max(3 * unit, s + 2 * a, 1.0)
    c = n if z.coupled else max(1, min(n, int(CHUNK_BYTES // per_c)))
    if formed:
        N = n if z.coupled else c
        per_j = 3 * unit + 2 * P * w if (z.per_sample and not z.coupled) else N * (s + 2 * a) + P * w
        cj = max(1, min(n if z.per_sample and not z.coupled else N, int(CHUNK_BYTES // max(per_j, 1.0))))
    else:
        cj = 0  # no J formed
    keep = True
    if not formed and not z.coupled and peak(c, cj, True) > budget:
        keep = False
    while peak(c, cj, keep) > budget and (cj > 1 or (c > 1 and not z.coupled)):
        if cj > 1:
            cj = max(1, cj // 2)
        else:
            c = max(1, c // 2)
    return int(peak(c, cj, keep)), c, cj, keep


@dataclass(frozen=True)
class Prepared:
    """What :meth:`TorchModel.prepare` made of a run's data, handed on explicitly: ``X`` the samples
    (n×…, as the module takes them) as a tensor on the module's device in the run's dtype, ``flat``
    the module's parameters as one vector θ, ``probe`` what the trial forwards measured on X, and
    ``hessian`` whether the Hessian's products go into the memory plan, ``copied`` whether the run
    evaluates a converted copy of the module (its dtype differs from the run's) rather than the
    module itself. :meth:`TorchModel.plan` reads it and :meth:`TorchModel.build` passes ``X`` and
    ``flat`` to the engine."""

    X: torch.Tensor
    flat: _Flat
    probe: Probe
    hessian: bool
    copied: bool = False


def _one_sample(flat: _Flat):
    """F_i(θ) for one sample x (no batch axis), the function whose gradient is a row of J."""

    def one(theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return flat(theta, x[None]).reshape(())

    return one


class TorchModel:
    """A PyTorch ``nn.Module`` with one output, trained by linnet's GD loop.

    ``output``: the output layer (the paper's A), an ``nn.Linear`` with ``out_features == 1`` that
    produces the module's output (the module itself or its name in ``module.named_modules()``);
    default the last ``nn.Linear`` in module order. Its input H is the penultimate feature matrix
    used for ‖G_A‖. The run's precision is the module's own dtype (:func:`module_dtype`: float32
    for a module as PyTorch creates it) unless ``train(..., dtype=)`` names one; the module is never
    converted in place: where the dtypes differ a deep copy converted to the run's dtype is
    evaluated (``config["module_copied"]``; once per run, ``copy.deepcopy`` then ``.to``: 0.5 ms for
    the paper's CNN, 18–43 ms for ResNet18 on the 2-core CPU, against a step's 0.1–10 s). The
    module evaluated is set to train mode; its parameters and buffers are *copied* into the engine,
    so the module keeps its initial values (:func:`load_final` loads the trained ones).
    ``gram``: "auto", "jacobian", "dense" or "matrix-free" (module doc); ``memory_budget``: the
    bytes the adapter may use at its peak (a number, or a string such as "4GiB"; default half of
    the device's memory), against which "auto" chooses and a forced mode is checked.
    ``hvp``: how λ_max(∇²L)'s Hessian-vector products are taken, "forward-over-reverse",
    "reverse-over-reverse" or "auto" (the faster, timed on the run's first evaluation:
    :mod:`.hessian`).
    """

    family = "torch"

    def __init__(
        self,
        module: nn.Module,
        *,
        output: nn.Module | str | None = None,
        gram: str = "auto",
        memory_budget: int | float | str | None = None,
        hvp: str = "auto",
    ):
        if not isinstance(module, nn.Module):
            raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
        for name, m in module.named_modules():
            if isinstance(m, RANDOM_LAYERS):
                raise ValueError(
                    f"module {name or '<root>'!r} is {type(m).__name__}: a random layer "
                    "makes the loss not a function of the parameters, so full-batch GD "
                    "and its sharpness are undefined; remove it (or use nn.Identity)"
                )
        if gram not in GRAM_MODES:
            raise ValueError(f"gram={gram!r} is unknown: use one of {GRAM_MODES}")
        if hvp not in HVP_MODES:
            raise ValueError(f"hvp={hvp!r} is unknown: use one of {HVP_MODES}")
        self.hvp = hvp
        self.memory_budget = parse_memory_budget(memory_budget)
        self.output_given = output is not None
        if output is None:
            linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
            if not linears:
                raise ValueError(
                    "module has no nn.Linear: linnet needs a final linear layer with one "
                    "output (the paper's A); end the module with nn.Linear(…, 1) or pass "
                    "output=<the output layer>"
                )
            output = linears[-1]
        elif isinstance(output, str):
            mods = dict(module.named_modules())
            if output not in mods:
                raise ValueError(
                    f"output={output!r} is not a submodule name of the module: use one of "
                    f"its named_modules() names"
                )
            output = mods[output]
        if not isinstance(output, nn.Linear):
            raise ValueError(f"output: the output layer must be an nn.Linear, got {type(output).__name__}")
        if output.out_features != 1:
            raise ValueError(
                f"output: the output layer {_named(module, output)!r} has out_features="
                f"{output.out_features}: linnet needs one output (out_features=1)"
            )
        if not any(output is m for m in module.modules()):
            raise ValueError("output= is not a submodule of the module: pass one of its layers")
        self.module, self.output, self.gram = module, output, gram
        self.output_name = _named(module, output)
        # the data of the run being set up (prepare), None before: plan and build read it here
        self.prepared: Prepared | None = None

    @property
    def default_dtype(self) -> np.dtype:
        """The run's precision when ``train(dtype=)`` is not given: the module's own
        (:func:`module_dtype`)."""
        return module_dtype(self.module)

    def _run_module(self, tdt: torch.dtype) -> tuple[nn.Module, nn.Module, bool]:
        """(module, output layer, copied): the module itself where its floating tensors are all
        ``tdt`` (its values are copied into θ and never written), else a deep copy converted to
        ``tdt`` and the copy's output layer; the user's module keeps its dtype either way."""
        names = _dtype_names(self.module)
        if names == [str(tdt).replace("torch.", "")]:
            return self.module, self.output, False
        try:
            twin = copy.deepcopy(self.module)
        except Exception as exc:
            raise TypeError(
                f"dtype={str(tdt).replace('torch.', '')}: the module is {', '.join(names)} and could "
                f"not be copied to convert it ({type(exc).__name__}: {exc}); convert it yourself "
                "(module.to(torch.float64)) or run in its own dtype (leave dtype= out)"
            ) from exc
        twin.to(tdt)
        key = "" if self.output is self.module else self.output_name
        return twin, dict(twin.named_modules())[key], True

    def initial_sharpness(self, X: Any, Y: Any) -> float:
        """Λ(0): the eigen-tracker's at step 0 of a run (:func:`linnet.train.tracked_initial_sharpness`)."""
        from ...train import tracked_initial_sharpness

        return tracked_initial_sharpness(self, X, Y)

    def description(self) -> str:
        src = getattr(self.module, "architecture_source", None)
        name = getattr(self.module, "architecture", type(self.module).__name__)
        return f"torch {name}" + (f" ({src})" if src else "")

    # -- called by linnet.train --------------------------------------------------------------
    def prepare(self, X: Any, Y: Any, *, dtype: Any, hessian_every: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Check X (samples first) and Y against the module and each other, keep X as a tensor on the
        module's device in ``dtype``, and probe the module (:class:`Probe`); return X flattened to
        d×n and Y as NumPy arrays (for linnet's data spectrum). ``hessian_every`` > 0 puts the
        Hessian's products into the memory estimate. The module is evaluated as it is where it is in
        ``dtype``, else as a converted copy (:meth:`_run_module`); it is never converted in place."""
        tdt = _torch_dtype(dtype)
        module, output, copied = self._run_module(tdt)
        device = next(iter(module.parameters())).device
        try:
            Xt = torch.as_tensor(X)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise ValueError(
                f"X must be an array or tensor of samples (n×…), got {type(X).__name__}: {exc}"
            ) from exc
        Xt = Xt.to(device=device, dtype=tdt)
        Yt = torch.as_tensor(np.asarray(Y) if not isinstance(Y, torch.Tensor) else Y).detach().to(dtype=tdt)
        if Yt.ndim > 2 or (Yt.ndim == 2 and Yt.shape[1] != 1):
            raise ValueError(
                f"Y has shape {tuple(Yt.shape)}: linnet needs one label per sample, shape (n,) or (n, 1)"
            )
        Yt = Yt.reshape(-1)
        if Xt.ndim < 2:
            raise ValueError(f"X must be samples first (n×…, at least 2 axes), got shape {tuple(Xt.shape)}")
        n = Xt.shape[0]
        if Yt.shape[0] != n:
            if Xt.shape[-1] == Yt.shape[0]:
                raise ValueError(
                    f"X has shape {tuple(Xt.shape)}, its last axis as long as Y "
                    f"({Yt.shape[0]}): it looks features-first (d×n), but TorchModel takes "
                    "X samples first (n×…, as the module takes it): pass X.T"
                )
            raise ValueError(
                f"Y has {Yt.shape[0]} labels but X has {n} samples (its first axis): give "
                "one label per sample"
            )
        flat = _Flat(module, output)
        self._check_output(flat, Xt, Yt.shape[0])
        self.prepared = Prepared(Xt, flat, self._probe_module(flat, Xt, tdt), bool(hessian_every), copied)
        X_dn = Xt.detach().reshape(n, -1).T.cpu().numpy().astype(np.dtype(dtype))
        return np.ascontiguousarray(X_dn), Yt.cpu().numpy().astype(np.dtype(dtype))

    def _check_output(self, flat: _Flat, X: torch.Tensor, n_labels: int) -> None:
        """A forward of the first two samples: it runs, gives one number per sample, and that number
        is what the output layer computes (a forward hook compares them)."""
        b = min(2, X.shape[0])
        seen: list = []
        hook = flat.output.register_forward_hook(lambda _m, _inp, out: seen.append(out))
        try:
            with torch.no_grad():
                out = flat(flat.theta0, X[:b])
        except Exception as exc:
            hint = (
                f"; X's last axis is as long as Y ({n_labels}): if X is features-first (d×n), pass X.T"
                if X.shape[-1] == n_labels
                else ""
            )
            raise ValueError(
                f"X: the module failed on X[:{b}], of shape {tuple(X[:b].shape)} (X is "
                f"{tuple(X.shape)}, samples first: n×… as the module takes it): "
                f"{type(exc).__name__}: {exc}{hint}"
            ) from exc
        finally:
            hook.remove()
        if not isinstance(out, torch.Tensor):
            raise ValueError(
                f"module returns a {type(out).__name__}, not one tensor: linnet needs a "
                "module with one output, one number per sample; wrap it so that forward "
                "returns that tensor"
            )
        if out.numel() != b or out.ndim == 0 or out.shape[0] != b:
            raise ValueError(
                f"module output has shape {tuple(out.shape)} for {b} samples: linnet needs "
                "one number per sample (shape (n,) or (n, 1)); end the module with "
                "nn.Linear(…, 1)"
            )
        which = (
            f"output={self.output_name!r}"
            if self.output_given
            else f"module: its last nn.Linear {self.output_name!r}"
        )
        fix = (
            "the paper's A, a final nn.Linear with one output, must be the module's last "
            "operation: end the module with it, or pass output=<the layer whose output the module "
            "returns>"
        )
        if len(seen) != 1:
            raise ValueError(f"{which} ran {len(seen)} times in one forward pass, not once: {fix}")
        if not isinstance(seen[0], torch.Tensor) or not torch.equal(seen[0].reshape(-1), out.reshape(-1)):
            raise ValueError(
                f"{which} does not produce the module's output (something is applied after it): {fix}"
            )

    def _probe_module(self, flat: _Flat, X: torch.Tensor, tdt: torch.dtype) -> Probe:
        """Measure s and a per sample from forwards of 2 and 4 samples, detect batch coupling
        (BatchNorm in train mode, or F of the first samples changing with the batch), and try
        per-sample gradients by ``vmap`` against vjp rows on the first samples."""
        n = X.shape[0]
        b1, b2 = min(2, n), min(4, n)
        leaves = [m for m in flat.module.modules() if not any(True for _ in m.children())]

        def run(b: int) -> tuple[int, int, torch.Tensor]:
            storages: dict[int, int] = {}
            acts: list[int] = []

            def pack(t: torch.Tensor) -> torch.Tensor:
                st = t.untyped_storage()
                storages[st.data_ptr()] = st.nbytes()
                return t

            hooks = [
                m.register_forward_hook(
                    lambda _m, _i, o: acts.append(
                        o.numel() * o.element_size() if isinstance(o, torch.Tensor) else 0
                    )
                )
                for m in leaves
            ]
            theta = flat.theta0.detach().requires_grad_(True)
            try:
                with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                    out = flat(theta, X[:b])
            finally:
                for hk in hooks:
                    hk.remove()
            return sum(storages.values()), sum(acts), out.detach().reshape(-1)

        S1, A1, F1 = run(b1)
        if b2 > b1:
            S2, A2, F2 = run(b2)
            s, a = max(0.0, (S2 - S1) / (b2 - b1)), max(0.0, (A2 - A1) / (b2 - b1))
        else:
            F2 = F1
            s, a = S1 / b1, A1 / b1
        bn = [
            _named(flat.module, m)
            for m in flat.module.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm)
        ]
        limit = tol("batch-independence", np.dtype(str(tdt).replace("torch.", "")))
        if bn:
            coupled, why = True, f"BatchNorm in train mode ({', '.join(bn)}): batch statistics couple samples"
        elif b2 > b1:
            dev = float((F1 - F2[:b1]).abs().max() / max(float(F2[:b1].abs().max()), 1e-300))
            coupled = dev > limit
            why = (
                f"F of the first {b1} samples alone differs from their rows of F on {b2} samples by "
                f"{dev:.1e} (relative): the module couples samples"
                if coupled
                else f"no BatchNorm; F of the first {b1} samples alone equals their rows on {b2} samples "
                f"to {dev:.0e}"
            )
        else:
            coupled, why = False, f"no BatchNorm (n = {n}: too few samples to test numerically)"
        per_sample, note = False, "batch-coupled: J's rows by vjp"
        if not coupled:
            try:
                rows = vmap(grad(_one_sample(flat)), in_dims=(None, 0))(flat.theta0, X[:b1])
                ref = torch.empty_like(rows)
                _vjp_rows(lambda th: flat(th, X[:b1]).reshape(-1), flat.theta0, b1, b1, ref)
                dev = float((rows - ref).abs().max() / max(float(ref.abs().max()), 1e-300))
                per_sample = dev <= limit
                note = (
                    f"per-sample gradients agree with vjp rows to {dev:.0e}"
                    if per_sample
                    else f"per-sample gradients differ from vjp rows by {dev:.1e}: J's rows by vjp"
                )
            except Exception as exc:  # an op without a vmap rule: fall back to vjp rows
                note = f"vmap of grad failed ({type(exc).__name__}: {str(exc)[:120]}): J's rows by vjp"
        return Probe(float(s), float(a), coupled, why, per_sample, note)

    def plan(self, X: Any = None, Y: Any = None, *, dtype: Any = None, hessian_every: int = 0) -> MemoryPlan:
        """The :class:`MemoryPlan` a run on (X, Y) in ``dtype`` (default the module's,
        :attr:`default_dtype`) would use (``prepare`` first when X is given):
        the Gram mode "auto" picks, or the forced one, with the estimates; raises ``ValueError``
        naming ``gram=``/``memory_budget=`` where the mode does not fit."""
        if X is not None:
            dt = self.default_dtype if dtype is None else dtype
            self.prepare(X, Y, dtype=dt, hessian_every=hessian_every)
        prep = self.prepared
        if prep is None:
            raise ValueError("TorchModel.plan needs the data: plan(X, Y) (or prepare(X, Y) first)")
        pr, X_, flat, hessian = prep.probe, prep.X, prep.flat, prep.hessian
        n, P, w = int(X_.shape[0]), flat.P, X_.element_size()
        budget = self.memory_budget if self.memory_budget is not None else device_memory(X_.device) // 2
        z = _Sizes(
            n=n,
            P=P,
            w=w,
            s=pr.saved,
            a=pr.activations,
            x_bytes=X_.numel() * w,
            buffer_bytes=sum(b.numel() * b.element_size() for b in flat.buffers.values()),
            h=int(self.output.in_features),
            coupled=pr.coupled,
            per_sample=pr.per_sample,
            hessian=hessian,
        )
        modes = ("jacobian", "dense", "matrix-free")
        est = {m: _estimate(m, z, budget) for m in modes}
        estimates = {m: e[0] for m, e in est.items()}
        where = f"n = {n}, P = {P}, {X_.dtype}, J alone {_gib(n * P * w)}" + (
            ", with the Hessian's products (hessian_every > 0)" if hessian else ""
        )
        if self.gram == "auto":
            order = (["jacobian"] if not pr.coupled or n <= COUPLED_JACOBIAN_MAX_N else []) + ["matrix-free"]
            fits = [m for m in order if estimates[m] <= budget]
            if not fits:
                m = min(order, key=lambda k: estimates[k])
                raise ValueError(
                    f"no Gram mode fits memory_budget={_gib(budget)} ({where}): the smallest estimate "
                    f"is {_gib(estimates[m])} (gram={m!r}); raise memory_budget=, use fewer samples"
                    + (", or set hessian_every=0" if hessian else "")
                )
            gram = fits[0]
            skipped = [f"{m} ({_gib(estimates[m])})" for m in order[: order.index(gram)]]
            why = (
                f"auto: {gram}, estimated {_gib(estimates[gram])} of {_gib(budget)}"
                + (f" (over budget: {', '.join(skipped)})" if skipped else "")
                + (
                    ""
                    if not pr.coupled or gram != "matrix-free" or n <= COUPLED_JACOBIAN_MAX_N
                    else f"; batch-coupled with n > {COUPLED_JACOBIAN_MAX_N}: J would take n vjps"
                )
            )
        else:
            gram = self.gram
            if estimates[gram] > budget:
                alt = [m for m in ("jacobian", "matrix-free") if estimates[m] <= budget]
                raise ValueError(
                    f"gram={gram!r} needs an estimated {_gib(estimates[gram])} ({where}), over "
                    f"memory_budget={_gib(budget)}: "
                    + (f"use gram='auto' (gram={alt[0]!r}: {_gib(estimates[alt[0]])}) or " if alt else "")
                    + "raise memory_budget="
                    + (", or set hessian_every=0" if hessian else "")
                )
            why = f"forced: gram={gram!r}, estimated {_gib(estimates[gram])} of {_gib(budget)}"
        peak, c, cj, keep = est[gram]
        # the Hessian's graphs of ∇L_S for every chunk kept through an evaluation (hessian.py):
        # about the saved tensors twice (the backward's own) and the outputs once, per sample
        graphs = MEMORY_SLACK * n * (2 * pr.saved + pr.activations)
        keep_graphs = hessian and peak + graphs <= budget
        if keep_graphs:
            peak = int(peak + graphs)
        jac = None if gram == "matrix-free" else PER_SAMPLE if pr.per_sample and not pr.coupled else VJP_ROWS
        return MemoryPlan(
            gram=gram,
            jacobian=jac,
            chunk=c,
            jacobian_chunk=cj,
            keep_linearisation=keep and gram == "matrix-free",
            estimate_bytes=peak,
            estimates=estimates,
            budget_bytes=int(budget),
            coupled=pr.coupled,
            coupling=pr.coupling + ("" if pr.coupled else f"; {pr.per_sample_note}"),
            why=why,
            keep_hessian_graphs=bool(keep_graphs),
        )

    def build(self, X: Any, Y: Any, *, spectrum: Any, dtype: Any, xp: Any, top_k: int) -> Built:
        if xp is not np:
            raise ValueError("TorchModel runs on its module's device; drop backend='cupy'")
        prep = self.prepared
        if prep is None or prep.X.shape[0] != X.shape[1]:
            raise ValueError("TorchModel.build needs prepare(X, Y) first (linnet.train calls it)")
        plan = self.plan()
        eng = TorchEngine(self, spectrum, dtype=dtype, top_k=top_k, plan=plan, X=prep.X, flat=prep.flat)
        config = dict(
            model="torch",
            model_description=self.description(),
            architecture=getattr(self.module, "architecture", type(self.module).__name__),
            architecture_source=getattr(self.module, "architecture_source", "user module"),
            n_params=int(eng.P),
            output_layer=self.output_name,
            output_bias=self.output.bias is not None,
            **plan.config(),
            engine="torch",
            device=str(eng.device),
            batchnorm_tracked=[_named(prep.flat.module, m) for m in eng.bns],
            module_dtype=", ".join(_dtype_names(self.module)),
            module_copied=prep.copied,
            m=int(self.output.in_features),
            alpha=1.0,
            array_exchange="torch tensors on the module's device (eigensolvers on TorchArrays)",
        )
        theta0 = eng.theta.detach().cpu().numpy().copy()

        def specific() -> dict:
            out = dict(theta0=theta0, theta_final=eng.theta.detach().cpu().numpy().copy())
            for name, t in eng.unflatten(eng.theta).items():
                out[f"W_final_{name}"] = t.detach().cpu().numpy().copy()
            for name, b in eng.buffers.items():
                out[f"buffer_final_{name}"] = b.detach().cpu().numpy().copy()
            return out

        return Built(eng, config, specific, self.family)


@dataclass
class TorchObservation:
    """The quantities at one state: D, F and the coordinates d_top/f_top as tensors on the module's
    device, the scalars as floats, the state's gradient, features H and θ. ``cache`` holds what
    the state's products share (J, G, linearisations); the GD step clears it."""

    D: Any
    F: Any
    loss: float
    fd: float
    a_norm2: float
    d_top: Any
    f_top: Any
    grad: Any  # ∇L(θ), a tensor
    H: Any  # the output layer's input (n×h tensor)
    theta: Any
    lambda_tilde: None = None
    carried: dict = field(default_factory=dict)
    cache: dict = field(default_factory=dict)


class TorchEngine:
    """GD on the flat parameter vector θ of a :class:`TorchModel`, run as its :class:`MemoryPlan`
    says. ``CARRY = 0``; G changes by no closed form (``gram_update`` None); operators take and
    return tensors on the module's device (NumPy input is accepted) and ``xp`` is
    :class:`TorchArrays`, so linnet's eigensolvers keep their vectors there."""

    name = "torch"
    CARRY = 0
    COMPILABLE = False
    EXACT_GA = True  # ga_norm

    def __init__(
        self,
        model: TorchModel,
        spec: Any,
        *,
        dtype: Any,
        top_k: int,
        plan: MemoryPlan,
        X: torch.Tensor | None = None,
        flat: _Flat | None = None,
    ):
        if X is None or flat is None:  # built by hand after model.prepare(X, Y): its data
            if model.prepared is None:
                raise ValueError(
                    "TorchEngine needs the samples: pass X= and flat=, or model.prepare(X, Y) first"
                )
            X = model.prepared.X if X is None else X
            flat = model.prepared.flat if flat is None else flat
        mod = flat.module
        mod.train()
        self.module, self.out_layer, self.model = mod, flat.output, model
        self.flat = flat
        self.plan = plan
        self.dtype = np.dtype(dtype)
        self.tdtype = _torch_dtype(dtype)
        self.X = X
        self.device = self.X.device
        self.xp = TorchArrays(self.device)
        self.n, self.k = spec.n, min(top_k, spec.r)
        self.Vk = torch.as_tensor(
            np.ascontiguousarray(spec.V().astype(self.dtype)[:, : self.k]), device=self.device
        )
        self.Y = torch.as_tensor(np.asarray(spec.Y, dtype=self.dtype), device=self.device)
        self.P = self.flat.P
        self.theta = self.flat.theta0.clone()
        self.buffers = self.flat.buffers
        self.bns = self.flat.bns
        wname = next(k for k, p in mod.named_parameters() if p is flat.output.weight)
        i = self.flat.names.index(wname)
        off = sum(self.flat.sizes[:i])
        self.A_slice = slice(off, off + self.flat.sizes[i])
        self.has_bias = flat.output.bias is not None
        self.dim = self.n
        self.chunks = _slices(self.n, plan.chunk)
        self.last_update = None
        if plan.jacobian == PER_SAMPLE:
            self._per_sample = vmap(grad(_one_sample(self.flat)), in_dims=(None, 0))

    # -- the function --------------------------------------------------------------------------
    def unflatten(self, theta: torch.Tensor) -> dict:
        return self.flat.unflatten(theta)

    def f(self, theta: torch.Tensor, S: slice = slice(None)) -> torch.Tensor:
        """F(θ) on the samples S (all by default), the train-mode output."""
        return self.flat(theta, self.X[S]).reshape(-1)

    def loss_fn(self, theta: torch.Tensor, S: slice = slice(None)) -> torch.Tensor:
        """The samples S's part of L, ‖F_S(θ) − Y_S‖²/(2n) (all of L by default)."""
        D = self.f(theta, S) - self.Y[S]
        return (D @ D) / (2 * self.n)

    def _t(self, v: Any) -> torch.Tensor:
        if isinstance(v, torch.Tensor):
            return v.to(device=self.device, dtype=self.tdtype)
        return torch.as_tensor(np.asarray(v, dtype=self.dtype), device=self.device)

    # -- loop interface ------------------------------------------------------------------------
    def observe(self) -> TorchObservation:
        """F, L and ∇L = Σ_chunks ∇L_S by autograd, chunk by chunk, with H by a forward hook."""
        n = self.n
        F = torch.empty(n, dtype=self.tdtype, device=self.device)
        g = torch.zeros_like(self.theta)
        Hs: list = []
        hook = self.out_layer.register_forward_hook(lambda _m, inp, _out: Hs.append(inp[0].detach()))
        try:
            for S in self.chunks:
                th = self.theta.detach().requires_grad_(True)
                with torch.enable_grad():
                    FS = self.f(th, S)
                    DS = FS - self.Y[S]
                    (gS,) = torch.autograd.grad((DS @ DS) / (2 * n), th)
                F[S] = FS.detach()
                g += gS
        finally:
            hook.remove()
        H = torch.cat([h.reshape(h.shape[0], -1) for h in Hs]) if len(Hs) > 1 else Hs[0].reshape(n, -1)
        D = F - self.Y
        A = self.theta[self.A_slice]
        return TorchObservation(
            D,
            F,
            float((D @ D) / (2 * n)),
            float(F @ D),
            float(A @ A),
            self.Vk.T @ D,
            self.Vk.T @ F,
            g,
            H,
            self.theta,
        )

    def step(self, eta: float, obs: TorchObservation, carry: Any = ()) -> bool:
        new = self.theta - eta * obs.grad
        if not bool(torch.isfinite(new).all()):
            return False
        if self.bns:  # running statistics: one plain forward at the state the step starts from
            with torch.no_grad():
                functional_call(self.module, {**self.unflatten(self.theta), **self.buffers}, (self.X,))
        self.theta = new.detach()
        obs.cache.clear()  # J, G, linearisations: freed before the next state's forward
        return True

    def jacobian(self, obs: TorchObservation) -> torch.Tensor:
        """J = ∂F/∂θ (n×P) at the observation's state, formed once (per-sample rows or vjp rows)."""
        if "J" not in obs.cache:
            theta, n, cj = obs.theta, self.n, self.plan.jacobian_chunk
            J = torch.empty(n, self.P, dtype=self.tdtype, device=self.device)
            if self.plan.jacobian == PER_SAMPLE:
                for S in _slices(n, cj):
                    J[S] = self._per_sample(theta, self.X[S])
            else:
                for S in [slice(0, n)] if self.plan.coupled else self.chunks:
                    _vjp_rows(lambda th, S=S: self.f(th, S), theta, S.stop - S.start, cj, J[S])
            obs.cache["J"] = J
        return obs.cache["J"]

    def gram_matvec(self, obs: TorchObservation):
        """v ↦ G v (v: (n,) or (n, b)), G = JJᵀ/n: G @ v ("dense"), J(Jᵀv)/n on J ("jacobian"),
        or by vjp then jvp, Jᵀv = Σ_S J_Sᵀ v_S and (J u)_S = J_S u ("matrix-free"). For v the
        state's residual D itself (A3.2's G D) the step's gradient is reused: JᵀD/n = ∇L, so
        G D = J ∇L, one product on J or one jvp (:meth:`gram_residual`)."""
        inner = self._gram_matvec(obs)

        def matvec(v: Any) -> torch.Tensor:
            return self.gram_residual(obs) if v is obs.D else inner(v)

        return matvec

    def gram_residual(self, obs: TorchObservation) -> torch.Tensor:
        """G D = J ∇L (∇L = JᵀD/n, the observation's gradient): J @ ∇L on a formed J, else
        (J ∇L)_S = jvp(F_S, θ, ∇L) chunk by chunk; G @ D where G is formed ("dense")."""
        if self.plan.gram == "dense":
            return self._gram_matvec(obs)(obs.D)
        if self.plan.gram == "jacobian":
            return self.jacobian(obs) @ obs.grad
        out = torch.empty(self.n, dtype=self.tdtype, device=self.device)
        for S in self.chunks:
            out[S] = jvp(lambda th, S=S: self.f(th, S), (obs.theta,), (obs.grad,))[1]
        return out

    def _gram_matvec(self, obs: TorchObservation):
        n, mode = self.n, self.plan.gram
        if mode == "dense":
            if "G" not in obs.cache:
                J = self.jacobian(obs)
                obs.cache["G"] = J @ J.T / n
                del obs.cache["J"]
            G = obs.cache["G"]
            return lambda v: G @ self._t(v)
        if mode == "jacobian":
            J = self.jacobian(obs)
            return lambda v: J @ (J.T @ self._t(v)) / n
        theta = obs.theta
        if self.plan.keep_linearisation and "vjp" not in obs.cache:
            obs.cache["vjp"] = [vjp(lambda th, S=S: self.f(th, S), theta)[1] for S in self.chunks]
        pulls = obs.cache.get("vjp")

        def one(v: torch.Tensor) -> torch.Tensor:
            u = torch.zeros_like(theta)
            for i, S in enumerate(self.chunks):
                pull = pulls[i] if pulls is not None else vjp(lambda th, S=S: self.f(th, S), theta)[1]
                u += pull(v[S])[0]
            out = torch.empty(n, dtype=self.tdtype, device=self.device)
            for S in self.chunks:
                out[S] = jvp(lambda th, S=S: self.f(th, S), (theta,), (u,))[1]
            return out / n

        def matvec(v: Any) -> torch.Tensor:
            vt = self._t(v)
            if vt.ndim == 1:
                return one(vt)
            return torch.stack([one(vt[:, j]) for j in range(vt.shape[1])], dim=1)

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

    def hessian_solver(self, tol: float, maxiter: int) -> WarmHessianTop:
        """λ_max(∇²L)'s warm-started solver for :class:`linnet.run.observers.HessianTop`: LOBPCG on
        block products taken as ``TorchModel(hvp=)`` says (:mod:`.hessian`)."""
        return WarmHessianTop(dim=self.P, dtype=self.dtype, tol=tol, maxiter=maxiter, mode=self.model.hvp)

    def hessian_matvec(self, obs: TorchObservation):
        """(v ↦ ∇²L v, P): forward-over-reverse, Σ_S jvp of grad L_S over the sample chunks (the
        generic operator; runs use :meth:`hessian_solver`)."""
        theta = obs.theta
        grads = [grad(lambda th, S=S: self.loss_fn(th, S)) for S in self.chunks]

        def matvec(v: Any) -> torch.Tensor:
            vt = self._t(v)
            out = jvp(grads[0], (theta,), (vt,))[1]
            for gS in grads[1:]:
                out = out + jvp(gS, (theta,), (vt,))[1]
            return out

        return matvec, int(theta.numel())

    def v1(self) -> Any:
        return self.Vk[:, 0]

    def params(self) -> dict:
        return {k: t.detach().cpu().numpy() for k, t in self.unflatten(self.theta).items()}


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


__all__ = [
    "Prepared",
    "TorchModel",
    "TorchEngine",
    "TorchArrays",
    "MemoryPlan",
    "Probe",
    "load_final",
    "module_dtype",
    "parse_memory_budget",
    "device_memory",
]
