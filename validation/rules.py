"""The building blocks of the scorecard's rules, shared by the experiments that declare them.

A rule is a function of the experiments' measured numbers, ``facts`` (see
:func:`validation.scorecard.facts_of`), returning ``(verdict, number, threshold)`` or
``(verdict, number, threshold, reason)`` — or a dict with those keys and, optionally, ``kind`` —
where ``verdict`` is one of :data:`validation.verdicts.VERDICTS`: "reproduced" and "differs" only
for a run in the regime the claim is about; "not comparable" (the rule raises
:class:`NotComparable` with the reason) for a run outside it; "not applicable" (it raises
:class:`Missing`) when the experiment did not run. A rule never says "reproduced" by default.
``number`` is the measured value the verdict rests on and ``threshold`` says in words what
"reproduced" needs. Each experiment module of :mod:`validation.experiments` declares its rows in
``RULES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from theory.claims import REPRODUCTION, claim as paper_claim

from .verdicts import DIFFERS, NOT_APPLICABLE, NOT_COMPARABLE, REPRODUCED, Regime

NA = NOT_APPLICABLE


# a statement (lemma, theorem) checked on fewer applicable steps than this says nothing either way
MIN_STATEMENT_STEPS = 10


@dataclass(frozen=True)
class Rule:
    claim: str
    paper: str
    anchor: str  # the experiment's section in the report
    fn: Callable  # facts -> (verdict, number, threshold[, reason]) or a dict of those
    kind: str = REPRODUCTION
    quote: str = ""


class NotComparable(Exception):
    """Raised by a rule whose run is outside the regime its claim is about; the message says why."""


class Missing(Exception):
    """Raised by a rule whose inputs were not measured (the experiment did not run): "not applicable"."""


def metric(facts, exp, *keys, headline=False):
    """The metrics ``keys`` of experiment ``exp`` (with ``headline``, those of its
    ``metrics["headline"]``, where the network experiments keep theirs); raises Missing
    (→ "not applicable") if absent."""
    if exp not in facts:
        raise Missing(f"{exp} did not run")
    met = facts[exp]["metrics"]
    if headline:
        met = met.get("headline") or {}
    vals = []
    for k in keys:
        v = met.get(k)
        if v is None or (isinstance(v, float) and not np.isfinite(v)):
            raise Missing(f"{exp}.{k} not measured")
        vals.append(v)
    return vals[0] if len(vals) == 1 else vals


def verdict_of(ok: bool):
    return REPRODUCED if ok else DIFFERS


def section3_rule(exp: str, claim_id: str, runs: tuple[str, ...] | None = None):
    """The verdict of :mod:`validation.section3` on ``claim_id`` for the runs of experiment ``exp``
    (its ``metrics["section3"]``: run name → list of verdict dicts; ``runs``: those runs, default
    all). Over several runs: "not comparable" if any run is (each reason given), else "reproduced"
    only if every run reproduces, else "differs"; the number is per run."""

    def rule(f):
        if exp not in f:
            raise Missing(f"{exp} did not run")
        table = f[exp]["metrics"].get("section3") or {}
        names = [r for r in (runs or tuple(table)) if r in table]
        if not names:
            raise Missing(f"{exp} judged no run on {claim_id}")
        got = {}
        for r in names:
            v = next((v for v in table[r] if v["claim"] == claim_id), None)
            if v is None:
                raise Missing(f"{exp}/{r} has no verdict on {claim_id}")
            got[r] = v
        one = len(got) == 1
        label = (lambda r: "") if one else (lambda r: f"{r}: ")
        rule_text = next(iter(got.values()))["rule"] + ("" if one else f" (each of {', '.join(got)})")
        if any(v["verdict"] == NOT_APPLICABLE for v in got.values()):
            raise Missing("; ".join(label(r) + v["reason"] for r, v in got.items() if v["verdict"] == NA))
        if any(v["verdict"] == NOT_COMPARABLE for v in got.values()):
            return dict(
                verdict=NOT_COMPARABLE,
                number=None,
                threshold=rule_text,
                reason="; ".join(
                    label(r) + v["reason"] for r, v in got.items() if v["verdict"] == NOT_COMPARABLE
                ),
            )
        ok = all(v["verdict"] == REPRODUCED for v in got.values())
        number = next(iter(got.values()))["number"] if one else {r: v["number"] for r, v in got.items()}
        return verdict_of(ok), number, rule_text, "; ".join(label(r) + v["reason"] for r, v in got.items())

    rule.__name__ = f"section3[{claim_id}]"
    return rule


def s3(title: str, paper: str, exp: str, claim_id: str, runs=None, kind: str = REPRODUCTION) -> Rule:
    """A scorecard row judged by section3 on ``exp``'s runs, quoting the claim."""
    return Rule(title, paper, exp, section3_rule(exp, claim_id, runs), kind, paper_claim(claim_id).quote)


def claim_rule(claim_id: str, exp: str, fn, kind: str = REPRODUCTION) -> Rule:
    """A scorecard row for a claim of :mod:`theory.claims` judged by ``fn`` on ``exp``'s metrics."""
    c = paper_claim(claim_id)
    return Rule(c.title, c.paper, exp, fn, kind, c.quote)


# ---- the rules ---------------------------------------------------------------------------------


def regime_gate(facts, exp, run, gate="ps"):
    """NotComparable unless ``exp``'s run ``run`` (its ``metrics["regimes"][run]``) passes the
    regime's ``ps`` gate (a progressive PS) or ``eos`` gate (PS, then oscillations)."""
    if exp not in facts:
        raise Missing(f"{exp} did not run")
    reg = (facts[exp]["metrics"].get("regimes") or {}).get(run)
    if reg is None:
        raise Missing(f"{exp}/{run}: no regime recorded")
    r = Regime.from_dict(reg)
    why = r.ps_gate() if gate == "ps" else r.eos_gate()
    if why is not None:
        raise NotComparable(f"{run}: {why}")
    return r


def below_eos(f, exp, *runs):
    """The runs' facts (validation.experiments.common.below_2_over_eta), NotComparable if any run left
    the regime below 2/η that a comparison of PS degrees needs."""
    got = [metric(f, exp, r) for r in runs]
    why = [g["outside"] for g in got if g.get("outside")]
    if why:
        raise NotComparable("; ".join(why))
    return got


def smaller_degree(a: dict, b: dict, name_a: str, name_b: str) -> bool:
    """Whether run ``a``'s degree of PS is below run ``b``'s (facts of
    :func:`validation.experiments.common.below_2_over_eta`). A degree is final once its run has
    converged; before that it is a lower bound (a running maximum). So "a < b" is decided when a has
    converged (its degree cannot grow past b's), "a ≥ b" when b has; otherwise NotComparable."""
    if a["degree"] < b["degree"] and a["converged"]:
        return True
    if a["degree"] >= b["degree"] and b["converged"]:
        return False
    open_run, name, other = (a, name_a, name_b) if a["degree"] < b["degree"] else (b, name_b, name_a)
    raise NotComparable(
        f"the {name} run has not converged in {open_run['steps']} steps: its degree "
        f"{open_run['degree']:.3g} may still grow past the {other} run's"
    )


def status_rule(exp, table_sub, check):
    def rule(f):
        if exp not in f:
            raise Missing(f"{exp} did not run")
        res = [c[check] for t, c in f[exp]["checks"].items() if table_sub in t and check in c]
        if not res:
            raise Missing(f"{check} not in {exp}")
        r = res[0]
        v = {"held": REPRODUCED, "failed": DIFFERS}.get(r.status, NA)
        return (
            v,
            (f"{r.applicable}/{r.steps.size} steps applicable" if r.steps.size else r.status),
            f"held at every step where its premises held ({r.kind})",
        )

    return rule


def headline(facts, exp, *keys):
    """The ``metrics["headline"]`` entries ``keys`` of a network experiment (experiments.fc_nets)."""
    return metric(facts, exp, *keys, headline=True)
