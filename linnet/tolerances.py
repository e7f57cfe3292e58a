"""The tolerances of the tests and of the exact-identity checks, in one table.

``tol(kind, dtype="float64")`` is a relative bound unless the kind says otherwise. A check that is
tighter than a general kind gets its own, more specific kind here (never a looser literal at the
call site). Float32 rows exist only where a float32 run is compared; asking for a missing one raises.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._types import DTypeLike

# kind -> {dtype name -> (value, why)}
TABLE: dict[str, dict[str, tuple[float, str]]] = {
    # -- exact algebra -------------------------------------------------------------------------
    "symmetry": {
        "float64": (1e-14, "a matrix built symmetric by construction: only the last bits may differ")
    },
    "closed-form-update": {
        "float64": (1e-13, "a rank-few update of a product against recomputing it: O(10) roundings")
    },
    "identity": {
        "float64": (1e-12, "the same algebra two ways on tiny matrices (n, m, d ≤ 100): O(100) ulps"),
        "float32": (1e-5, "the same algebra two ways in float32: O(100) ulps of ε = 1.2e-7"),
    },
    "identity-gpu": {
        "float64": (1e-11, "a rank-two update formed by cuBLAS against NumPy: other summation orders")
    },
    "record-identity": {
        "float64": (
            1e-9,
            "an identity on a recorded run: operands carry the run's accumulated roundoff "
            "(theory.results.IDENTITY_RTOL, the statements' own threshold)",
        )
    },
    "identity-drawn": {
        "float64": (1e-10, "closed forms on Hypothesis-drawn inputs (η, α, sizes spanning decades)")
    },
    "null-eigenvalue": {
        "float64": (1e-12, "below this fraction of λ_max an eigenvalue of K = XᵀX/n counts as zero")
    },
    "null-eigenvalue-hessian": {
        "float64": (1e-10, "below this fraction of |λ|_max an eigenvalue of a formed Hessian is zero")
    },
    "rigorous": {
        "float64": (
            1e-10,
            "roundoff slack of a proved inequality on a run, relative to its scale (theory.results.FP_RTOL)",
        )
    },
    "strategy-slack": {
        "float64": (1e-9, "what a drawn problem promises (ratios, gaps, |Yᵢ|), up to eigh's roundoff")
    },
    # -- eigenvalues ---------------------------------------------------------------------------
    "eigensolver": {
        "float64": (1e-10, "Λ from Lanczos / the tracker against dense eigvalsh: ρ²/gap with ρ ≤ 1e-8 Λ")
    },
    "eigensolver-hessian": {
        "float64": (1e-9, "the Hessian's top eigenvalue at Lanczos tol 1e-10 against another solver")
    },
    "eigensolver-hessian-fd": {
        "float64": (1e-8, "the Hessian's top eigenvalue against a finite-difference Hessian's")
    },
    "eigensolver-converged": {
        "float64": (1e-12, "a tracked eigenvalue at ρ ≤ 1e-8·|θ| with gap ~0.1·|θ|: ρ²/gap ≈ 1e-15")
    },
    "eigensolver-e-hat": {
        "float64": (1e-9, "‖Ê‖ tracked against dense eigvalsh (absolute): Ê's top sits in a bulk")
    },
    "eigensolver-autograd": {
        "float64": (1e-9, "Λ from autograd's vjp∘jvp and another solver against linnet's tracker")
    },
    "eigenvector": {"float64": (1e-8, "|⟨u, v⟩| − 1 for a Ritz vector with residual 1e-6..1e-8: ≤ (ρ/gap)²")},
    "eigenvalue-order": {
        "float64": (
            1e-8,
            "λ_max(A) ≤ λ_max(B) for A ⪯ B, each tracked: Kato–Temple ρ²/gap ≤ 1e-10·Λ at the default "
            "tol 1e-6 and a 1% gap, with 100× to spare",
        ),
        "float32": (
            2e-5,
            "the same in float32: the tracker stops at ρ ≤ 100ε·Λ ≈ 1.2e-5·Λ, which bounds |Λ − λ| "
            "without a gap",
        ),
    },
    "sharpness-float32": {
        "float32": (
            1e-5,
            "Λ of a float32 PyTorch run against float64 from the same start (60 steps): G from J with "
            "entries off by a few ε = 6e-8 per layer, |δΛ| ≤ ‖δG‖ ≈ 2‖δJ‖/‖J‖·Λ, and the tracker's "
            "stop at ρ ≤ 100ε·Λ bounds |Λ − λ| by ρ²/gap; measured ≤ 3e-7 at step 0 and ≤ 1.3e-6 "
            "over 60 steps (tests/test_torch.py's CNN and MLP): 8× to spare for other BLAS orders",
        )
    },
    "eigensolver-residual": {
        "float64": (1e-8, "the tracker's own stop rule ρ ≤ tol·|θ| at the tests' tol = 1e-8")
    },
    # -- two implementations of the same run ---------------------------------------------------
    "cross-implementation": {
        "float64": (1e-10, "spectral engine against literal GD over ≤ 100 steps of a contracting map"),
        "float32": (1e-4, "float32 against float64 over 50 steps: 6e-8 roundoff amplified ~1000x"),
    },
    "cross-implementation-eos": {
        "float64": (1e-9, "the same through PS into the edge of stability (≥ 300 steps, amplifying)")
    },
    "cross-implementation-hessian": {
        "float64": (1e-7, "Hessian top eigenvalues of two runs: 1e-9 run drift times 1/gap of H")
    },
    "cross-implementation-flow": {
        "float64": (1e-8, "gradient flow by two integrators at their step-size tolerance")
    },
    "hvp-modes": {
        "float64": (1e-10, "∇²L v forward-over-reverse against reverse-over-reverse: other summation orders"),
        "float32": (1e-4, "the same in float32: ε = 6e-8 amplified by the chunk sums and the net's depth"),
    },
    "batch-independence": {
        "float64": (
            1e-9,
            "a sample's output (or gradient) computed alone and within a batch: other "
            "summation orders only; BatchNorm-style coupling changes it at O(1)",
        ),
        "float32": (1e-3, "the same in float32"),
    },
    "replay": {"float64": (1e-12, "a quantity re-derived from a replayed run's state: a few roundings")},
    # -- derivatives ---------------------------------------------------------------------------
    "finite-difference": {
        "float64": (1e-9, "Richardson-extrapolated central differences (h = 1e-3): O(h⁴) + ε/h")
    },
    "finite-difference-second": {
        "float64": (1e-8, "second derivatives by differencing gradients: one more ε/h")
    },
}


def tol(kind: str, dtype: DTypeLike = "float64") -> float:
    """The tolerance of ``kind`` for ``dtype`` ('float64' or 'float32')."""
    if kind not in TABLE:
        raise KeyError(f"no tolerance kind {kind!r}; have {sorted(TABLE)}")
    name = np.dtype(dtype).name
    row = TABLE[kind]
    if name not in row:
        raise KeyError(f"tolerance kind {kind!r} has no {name} entry; have {sorted(row)}")
    return row[name][0]


def describe() -> list[dict[str, Any]]:
    """The table as rows (kind, dtype, value, why), for reports and docs."""
    return [
        {"kind": k, "dtype": dt, "value": v, "why": why}
        for k, row in TABLE.items()
        for dt, (v, why) in row.items()
    ]
