"""docs/theory.md §2: the SymPy verification of the identities I1–I12 and the flow equations."""

from __future__ import annotations

from theory.claims import CONSISTENCY

from ..rules import (
    Missing,
    Rule,
    verdict_of,
)
from .context import ExperimentResult


def identities(ctx):
    from theory.identities import SIZES, verify

    sizes = ((2, 2, 2),) if ctx.tiny else SIZES
    res = verify(sizes=sizes)
    return ExperimentResult(
        "identities",
        "SymPy verification of I1–I12 and the flow equations",
        "docs/theory.md §2",
        dict(sizes="(d, n, m) = " + ", ".join(map(str, sizes))),
        [],
        {r.name: ("verified" if r.verified else "FAILED") for r in res},
        notes="An identity that fails here fails the suite.",
    )


def identities_sympy(f):
    if "identities" not in f:
        raise Missing("identities did not run")
    vals = list(f["identities"]["metrics"].values())
    if not vals or any(v is None for v in vals):
        raise Missing("identities not measured")
    return (
        verdict_of(all(v == "verified" for v in vals)),
        f"{sum(v == 'verified' for v in vals)}/{len(vals)}",
        "every identity verified symbolically",
    )


RULES = [
    Rule(
        "identities I1–I12 and the flow equations (SymPy)",
        "docs/theory.md §2",
        "identities",
        identities_sympy,
        CONSISTENCY,
    ),
]
