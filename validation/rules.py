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

from theory.claims import CONSISTENCY, REPRODUCTION, claim as paper_claim

from .verdicts import DIFFERS, NOT_APPLICABLE, NOT_COMPARABLE, REPRODUCED, Regime

NA = NOT_APPLICABLE


# a statement (lemma, theorem) checked on fewer applicable steps than this says nothing either way
MIN_STATEMENT_STEPS = 10


@dataclass(frozen=True)
class Rule:
    claim: str  # the row's title
    paper: str
    anchor: str  # the experiment's section in the report
    fn: Callable  # facts -> (verdict, number, threshold[, reason]) or a dict of those (+ control)
    kind: str = REPRODUCTION
    quote: str = ""
    claim_id: str = ""  # the claim's id in theory.claims
    network: str = ""  # the network judged: "linear", "fc-tanh", "cnn-relu", "resnet18", …


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


def section3_rule(exp: str, claim_id: str, run: str, kind: str = REPRODUCTION):
    """The verdict of :mod:`validation.section3` on ``claim_id`` for the run ``run`` of experiment
    ``exp`` (its ``metrics["section3"]``: run name → list of verdict dicts), with its control; its
    kind is ``kind`` where that is consistency, else the verdict's own."""

    def rule(f):
        if exp not in f:
            raise Missing(f"{exp} did not run")
        table = f[exp]["metrics"].get("section3") or {}
        if run not in table:
            raise Missing(f"{exp} did not judge the run {run!r} on {claim_id}")
        v = next((v for v in table[run] if v["claim"] == claim_id), None)
        if v is None:
            raise Missing(f"{exp}/{run} has no verdict on {claim_id}")
        if v["verdict"] == NOT_APPLICABLE:
            raise Missing(v["reason"])
        if v["verdict"] == NOT_COMPARABLE:
            return dict(verdict=NOT_COMPARABLE, number=None, threshold=v["rule"], reason=v["reason"])
        return dict(
            verdict=v["verdict"],
            number=v["number"],
            threshold=v["rule"],
            reason=v["reason"],
            control=v.get("control"),
            # the verdict's own kind (consistency where its rule held on its control), unless the
            # row is consistency by construction
            kind=CONSISTENCY if kind == CONSISTENCY else v["kind"],
        )

    rule.__name__ = f"section3[{claim_id}, {run}]"
    return rule


# the §3 claims, in the order the scorecard shows them (validation.section3.RULES judges each)
S3_CLAIMS = (
    "s3.ps_then_eos",
    "s3.four_phases",
    "s3.a31.ps",
    "s3.a31.oscillations",
    "s3.ga_small",
    "s3.loss_split",
    "s3.a32",
    "s3.a35",
    "s3.anomalies",
)


def s3(exp: str, claim_id: str, run: str, network: str, *, paper: str = "", kind: str = REPRODUCTION) -> Rule:
    """A scorecard row: ``claim_id`` judged by :mod:`validation.section3` on the run ``run`` of
    ``exp`` (the network ``network``), quoting the claim; ``paper`` names the figure of that network
    (default: the claim's)."""
    c = paper_claim(claim_id)
    return Rule(
        c.title,
        paper or c.paper,
        exp,
        section3_rule(exp, claim_id, run, kind),
        kind,
        c.quote,
        claim_id,
        network,
    )


def s3_matrix(
    exp: str, runs: dict[str, str], *, paper: str = "", consistency=(), claims=S3_CLAIMS
) -> list[Rule]:
    """One row per §3 claim of ``claims`` and run of ``exp`` (``runs``: run → network); claims in
    ``consistency`` are structural to these networks (consistency rows)."""
    return [
        s3(exp, cid, run, net, paper=paper, kind=CONSISTENCY if cid in consistency else REPRODUCTION)
        for cid in claims
        for run, net in runs.items()
    ]


def claim_rule(claim_id: str, exp: str, fn, kind: str = REPRODUCTION, network: str = "linear") -> Rule:
    """A scorecard row for a claim of :mod:`theory.claims` judged by ``fn`` on ``exp``'s metrics."""
    c = paper_claim(claim_id)
    return Rule(c.title, c.paper, exp, fn, kind, c.quote, claim_id, network)


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
