"""``check_all``: every assumption, lemma and theorem of the paper on one trajectory, as a table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from linnet.families import capabilities

from . import assumptions, lemmas
from .constants import Constants
from .record import TheoryRecord, record_run
from .results import CheckResult, CheckTable

if TYPE_CHECKING:
    from linnet import Trajectory


# The checks about the two-layer linear net (§4, App. C) and the identities of its GD, with the
# names and kinds of the results each returns. On a record of another family (record.family)
# they are not run and report "not applicable", with the reason. The §3 checks (A3.x, cond (20),
# Lemmas 3.1–3.5, Props. 3.1–3.2, Decomposition (4)) hold for any network whose last layer is
# linear: Δ‖A‖² = −(2η/n)⟨F,D⟩ to first order there too, since ⟨A, ∂F/∂A⟩ = F.
LINEAR_ONLY: dict[Any, tuple[tuple[str, str], ...]] = {
    assumptions.a4_1: (("A4.1", "assumption"),),
    assumptions.a4_2: (("A4.2", "assumption"),),
    assumptions.a4_3: (("A4.3", "assumption"),),
    assumptions.a4_4: (("A4.4", "assumption"),),
    assumptions.a4_5: (("A4.5", "assumption"),),
    lemmas.identity_residual: (("I2 / Lemma C.1", "identity"),),
    lemmas.identity_a_norm: (("I3", "identity"),),
    lemmas.identity_lambda_tilde: (("I5 / eq. 17", "identity"),),
    lemmas.corollary_c1: (("Corollary C.1", "rigorous"),),
    lemmas.corollary_c2: (("Corollary C.2", "rigorous"),),
    lemmas.lemma_c3: (
        ("Lemma C.3 (1)", "empirical"),
        ("Lemma C.3 (2) / I6", "identity"),
        ("Lemma C.3 (3)", "rigorous"),
    ),
    lemmas.lemma_c8: (("Lemma C.8", "empirical"),),
    lemmas.lemma_c9: (("Lemma C.9", "empirical"),),
    lemmas.lemma_c10: (("Theorem 2.3 / Lemma C.10", "rigorous"),),
    lemmas.lemma_c11: (("Theorem 2.2 / Lemma C.11", "rigorous"),),
    lemmas.lemma_c12: (("Lemma C.12", "rigorous"),),
    lemmas.lemma_c13: (("Theorem 2.1 / Lemma C.13", "theorem"),),
    lemmas.theorem_1: (("Theorem 1", "theorem"),),
}


def _not_applicable(fn: Any, family: str) -> list[CheckResult]:
    e = np.zeros(0)
    why = (
        f"about the two-layer linear net (§4, App. C), not a {family!r} network: its premises "
        "and quantities (K's eigenbasis, Ê, κ, Λ̃) are that model's"
    )
    return [
        CheckResult(
            name,
            f"(a statement about the linear net; {why})",
            kind,
            "not applicable",
            e.astype(np.int64),
            e.astype(bool),
            e.astype(bool),
            e,
            {},
            why,
        )
        for name, kind in LINEAR_ONLY[fn]
    ]


def check_record(rec: TheoryRecord, constants: Constants | None = None) -> CheckTable:
    """Run every check on a :class:`TheoryRecord` of any family: the §3 checks on every network
    with a linear output layer, those of ``LINEAR_ONLY`` on the linear net only."""
    c = constants or Constants()
    linear = capabilities(rec.family).linear_theory  # the linear net's statements apply

    def run(fn: Any, **kw: Any) -> list[CheckResult]:
        if not linear and fn in LINEAR_ONLY:
            return _not_applicable(fn, rec.family)
        res = fn(rec, c, **kw)
        return res if isinstance(res, list) else [res]

    out: list[CheckResult] = []
    # Degenerate records (a zero Λ̃, say) give 0/0 margins: those are NaN, and a NaN margin
    # never counts as held (results.make_result), so the warnings carry no extra information.
    with np.errstate(divide="ignore", invalid="ignore"):
        for fn in assumptions.ALL:
            out.extend(run(fn))
        a41, a42 = out[7], out[8]
        data_ok = a41.status == "held" and a42.status == "held"
        for fn in lemmas.ALL:
            out.extend(run(fn))
        out.extend(run(lemmas.theorem_1, data_ok=data_ok))
    return CheckTable(tuple(out))


def check_all(
    source: Trajectory | TheoryRecord,
    X: Any = None,
    Y: Any = None,
    *,
    constants: Constants | None = None,
    flow: bool = True,
    model: Any = None,
) -> CheckTable:
    """Check a :class:`linnet.Trajectory` of any family (replayed exactly on (X, Y); the data may
    also come from the trajectory's saved extras) or a ready :class:`TheoryRecord`. ``model``:
    the family to replay with where the file cannot rebuild it (a PyTorch module). Returns a
    CheckTable."""
    if isinstance(source, TheoryRecord):
        return check_record(source, constants)
    if X is None or Y is None:
        if "X" in source.extras and "Y" in source.extras:
            X, Y = source.extras["X"], source.extras["Y"]
        else:
            raise ValueError(
                "check_all needs the data (X, Y) the trajectory was trained on: pass "
                "them, or save the trajectory with traj.save(path, data=(X, Y))"
            )
    rec = record_run(np.asarray(X), np.asarray(Y), source, flow=flow, model=model)
    return check_record(rec, constants)


def sweep_checker(traj, X, Y) -> dict:
    """The per-run hook of ``linnet`` sweeps (``--checker theory.checks:sweep_checker``, or
    ``python -m theory sweep``): :func:`check_all` without the flow integration, reduced to the
    summary columns ``rigorous_failures``, ``eps`` (A3.5), ``a36_c`` (A3.6), ``max_eta_lambda2`` (A3.7)."""
    table = check_all(traj, X, Y, flow=False)
    return dict(
        rigorous_failures=len(table.failures()),
        eps=table["A3.5"].fitted.get("eps"),
        a36_c=table["A3.6"].fitted.get("c"),
        max_eta_lambda2=table["A3.7"].fitted.get("max_eta_lambda2"),
    )
