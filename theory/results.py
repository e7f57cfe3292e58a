"""Result objects of the checks: one :class:`CheckResult` per statement, gathered in a :class:`CheckTable`."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from linnet.tolerances import tol

KINDS = ("identity", "rigorous", "assumption", "theorem", "empirical")
# identity: exact algebra, must hold to roundoff; rigorous: an inequality proved from identities;
# assumption: holds or not for the given constants (fitted constant reported);
# theorem: the paper's claim under premises we cannot all verify (e.g. "m large enough");
# empirical: a heuristic argument of the paper — reported as rates, never as a verdict.
IDENTITY_RTOL = tol("record-identity")  # identities on a record: relative to the size of the operands
FP_RTOL = tol("rigorous")               # slack for roundoff in rigorous inequalities, relative to their scale


@dataclass(frozen=True, eq=False)
class CheckResult:
    """One statement checked along a trajectory.

    ``steps``: the steps t the check looked at; ``premises``: where its premises held (the other
    steps are "not applicable"); ``conclusion``: whether the conclusion held there; ``margin``:
    how far inside (≥ 0) or outside (< 0) the conclusion each step was, in the units stated in
    ``detail``. ``status`` is "held", "failed", "not applicable" (no step met the premises),
    "empirical" (heuristic claims: see ``rate``) or "not evaluated" (data missing).
    ``fitted``: the smallest constants that make the statement hold on this trajectory.
    """
    name: str
    statement: str
    kind: str
    status: str
    steps: np.ndarray
    premises: np.ndarray
    conclusion: np.ndarray
    margin: np.ndarray
    fitted: dict = field(default_factory=dict)
    detail: str = ""
    # the same conclusion checked where the claimed phenomenon is absent (a reproduction's
    # control): {"what": in words, "steps": how many, "held_share": float, "status": "held" |
    # "failed" | "not applicable"}; None where the check has none
    control: dict | None = None

    @property
    def applicable(self) -> int:
        return int(np.sum(self.premises))

    @property
    def failed_steps(self) -> np.ndarray:
        return self.steps[self.premises & ~self.conclusion]

    @property
    def rate(self) -> float | None:
        """Fraction of applicable steps where the conclusion held."""
        k = self.applicable
        return float(np.mean(self.conclusion[self.premises])) if k else None

    @property
    def worst_step(self) -> int | None:
        if not self.applicable:
            return None
        m = np.where(self.premises, self.margin, np.inf)
        return int(self.steps[int(np.argmin(m))])

    @property
    def worst_margin(self) -> float | None:
        if not self.applicable:
            return None
        return float(np.min(self.margin[self.premises]))


def make_result(name: str, statement: str, kind: str, steps: Any, premises: Any, conclusion: Any,
                margin: Any, *, fitted: dict | None = None, detail: str = "",
                control: dict | None = None) -> CheckResult:
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r} is not one of {KINDS}")
    steps = np.asarray(steps, dtype=np.int64)
    premises = np.broadcast_to(np.asarray(premises, dtype=bool), steps.shape).copy()
    conclusion = np.broadcast_to(np.asarray(conclusion, dtype=bool), steps.shape).copy()
    margin = np.broadcast_to(np.asarray(margin, dtype=float), steps.shape).copy()
    # A NaN margin can never count as "held".
    conclusion &= ~np.isnan(margin) | ~premises
    if not premises.any():
        status = "not applicable"
    elif kind == "empirical":
        status = "empirical"
    else:
        status = "held" if conclusion[premises].all() else "failed"
    return CheckResult(name, statement, kind, status, steps, premises, conclusion, margin,
                       dict(fitted or {}), detail, control)


def not_evaluated(name: str, statement: str, kind: str, why: str) -> CheckResult:
    e = np.zeros(0)
    return CheckResult(name, statement, kind, "not evaluated", e.astype(np.int64), e.astype(bool),
                       e.astype(bool), e, {}, why)


@dataclass(frozen=True)
class CheckTable:
    """All checks of one trajectory, in order."""
    results: tuple

    def __iter__(self) -> Iterator[CheckResult]:
        return iter(self.results)

    def __getitem__(self, name: str) -> CheckResult:
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(f"no check named {name!r}; have {[r.name for r in self.results]}")

    def failures(self, kinds: Sequence[str] = ("identity", "rigorous")) -> list[CheckResult]:
        """Checks of the given kinds whose status is "failed" (the validation suite's exit rule)."""
        return [r for r in self.results if r.kind in kinds and r.status == "failed"]

    def rows(self) -> list[dict]:
        out = []
        for r in self.results:
            fitted = ", ".join(f"{k}={_fmt(v)}" for k, v in r.fitted.items())
            if r.control:
                c = r.control
                share = "-" if c.get("held_share") is None else f"{c['held_share']:.3f}"
                fitted += (", " if fitted else "") + (
                    f"control ({c['what']}): {c['status']}, held on {share} of {c['steps']} steps"
                )
            out.append(dict(name=r.name, kind=r.kind, status=r.status,
                            applicable=f"{r.applicable}/{r.steps.size}",
                            rate="-" if r.rate is None else f"{r.rate:.3f}",
                            worst="-" if r.worst_step is None else f"{_fmt(r.worst_margin)} @ {r.worst_step}",
                            fitted=fitted or "-"))
        return out

    def format(self) -> str:
        rows = self.rows()
        cols = ("name", "kind", "status", "applicable", "rate", "worst", "fitted")
        heads = dict(name="check", kind="kind", status="status", applicable="applicable",
                     rate="held rate", worst="worst margin @ step", fitted="fitted constants")
        width = {c: max(len(heads[c]), *(len(r[c]) for r in rows)) if rows else len(heads[c]) for c in cols}
        line = " | ".join(heads[c].ljust(width[c]) for c in cols)
        out = [line, "-" * len(line)]
        out += [" | ".join(r[c].ljust(width[c]) for c in cols) for r in rows]
        return "\n".join(out)

    def markdown(self) -> str:
        rows = self.rows()
        out = ["| check | kind | status | applicable | held rate | worst margin @ step | fitted constants |",
               "|---|---|---|---|---|---|---|"]
        out += [f"| {r['name']} | {r['kind']} | {r['status']} | {r['applicable']} | {r['rate']} | "
                f"{r['worst']} | {r['fitted']} |" for r in rows]
        return "\n".join(out)


def _fmt(v: Any) -> str:
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if v is None:
        return "-"
    v = float(v)
    return f"{v:.3g}" if np.isfinite(v) else str(v)
