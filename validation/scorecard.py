"""The scorecard: one entry per claim or figure of the paper, its verdict computed by a rule.

Each experiment module of :mod:`validation.experiments` declares the rows it is judged by
(``RULES``: :class:`validation.rules.Rule`, built from the blocks in :mod:`validation.rules`);
:data:`RULES` collects them in the report's order, and :func:`all_rules` adds one row per rigorous
statement and theorem checked on the Fig. 1 runs. Each entry links to the section of the report
(``anchor``) that holds the experiment and says its ``kind``: "reproduction" (an empirical claim
of the paper) or "consistency" (an identity, a rigorous consequence of the identities, or a fact
structural to the model: it checks the implementation and is never counted as a reproduction).

The §3 claims are judged by :mod:`validation.section3`'s gated rules on each run (the same rules
``python -m validation --model`` applies to a user's model); the experiments store those verdicts
under ``metrics["section3"][run]`` and :func:`validation.rules.section3_rule` reads them.

To add a claim, declare it in :mod:`theory.claims` and append a row to its experiment's ``RULES``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from theory.claims import CONSISTENCY, REPRODUCTION

from .experiments import RULES
from .rules import MIN_STATEMENT_STEPS, NA, Missing, NotComparable, Rule
from .verdicts import DIFFERS, NOT_COMPARABLE, REPRODUCED, VERDICTS, demoted

__all__ = ["RULES", "VERDICTS", "Entry", "Rule", "all_rules", "facts_of", "score", "statement_rule"]


@dataclass(frozen=True)
class Entry:
    claim: str  # the row's title
    paper: str
    verdict: str
    number: object
    threshold: str
    anchor: str
    kind: str = REPRODUCTION
    reason: str = ""
    paper_quote: str = ""
    seeds: str = "1/1"
    sizes: str = "paper"  # "paper", or "reduced: why" when the experiment ran below the paper's sizes
    claim_id: str = ""  # the claim's id in theory.claims
    network: str = ""  # the network judged ("linear", "fc-tanh", "cnn-relu", "resnet18", …)
    # the rule on its control, where the phenomenon is absent: {what, number, verdict} (None: the
    # row has none — a consistency row, or a verdict that is not a judgement)
    control: dict | None = None

    def as_dict(self):
        c = self.control or {}
        return dict(
            claim=self.claim,
            claim_id=self.claim_id,
            network=self.network,
            paper=self.paper,
            kind=self.kind,
            verdict=self.verdict,
            number=self.number,
            control=c.get("number"),
            control_verdict=c.get("verdict"),
            control_what=c.get("what"),
            threshold=self.threshold,
            reason=self.reason,
            paper_quote=self.paper_quote,
            seeds=self.seeds,
            sizes=self.sizes,
            anchor=self.anchor,
        )


def facts_of(results) -> dict:
    """``{experiment: {"metrics": {...}, "checks": {table title: {check name: CheckResult}}}}``."""
    return {
        r.name: dict(
            metrics=dict(r.metrics),
            checks={t: {c.name: c for c in tab} for t, tab in r.tables.items()},
            reduced=r.reduced,
        )
        for r in results
    }


# The paper's rigorous statements, and its theorems, as checked on the two runs of ps_eos: one
# entry each, "reproduced" if held on some run and failed on none. Lemmas 3.2, 3.4 and 3.5 are checked
# on the first-order update (A3.2 exact, as the paper's proofs take it): rigorous, hence consistency;
# their exact-GD forms are diagnostics in the check tables ("Lemma 3.2 (exact GD)", …).
STATEMENTS = (
    "Lemma 3.1",
    "Prop. 3.1",
    "Prop. 3.2",
    "Lemma 3.2",
    "Lemma 3.3",
    "Lemma 3.4",
    "Lemma 3.5",
    "Corollary C.1",
    "Corollary C.2",
    "Lemma C.3 (3)",
    "Theorem 2.3 / Lemma C.10",
    "Theorem 2.2 / Lemma C.11",
    "Lemma C.12",
    "Theorem 2.1 / Lemma C.13",
    "Theorem 1",
)

# Statements kept as consistency although their check is of kind "theorem", and why.
CONSISTENCY_STATEMENTS = {
    "Theorem 2.1 / Lemma C.13": "consistency: no T is derived (the check's T = 1,000 is a guess), and "
    "what a run can check — every excursion of Λ̃ above 2/η ends within T steps — is near-tautological "
    "for a run that oscillates around 2/η",
}

# What a statement's check counts as its "steps" where that is not GD steps.
_UNITS = {"Theorem 2.1 / Lemma C.13": "excursions"}

# The statements checked on the first-order update, and their exact-GD diagnostics (kind "empirical",
# in the same tables): A3.2's size is reported beside the verdict, never in it.
_EXACT_GD = {n: f"{n} (exact GD)" for n in ("Lemma 3.2", "Lemma 3.4", "Lemma 3.5")}


def _a32_apart(f, name, res):
    """A first-order statement's exact-GD diagnostic pooled over the runs, and A3.2's size."""
    diag = [c[_EXACT_GD[name]] for c in f["ps_eos"]["checks"].values() if _EXACT_GD.get(name, "") in c]
    if not diag:
        return ""
    appl = sum(d.applicable for d in diag)
    held = sum(int(np.sum(d.conclusion[d.premises])) for d in diag)
    out = f"on exact GD (a diagnostic, where A3.2 holds) the bound held on {held}/{appl} applicable steps"
    vals = [r.fitted.get("a32_u1_share_max", r.fitted.get("a32_share_of_bound_max")) for r in res]
    vals = [v for v in vals if v is not None and np.isfinite(v)]
    if vals:
        what = "along u₁, of the first-order growth" if name == "Lemma 3.2" else "of the bound"
        out += f"; A3.2's higher-order part, at most {max(vals):.2g} {what}"
    return out


def _control_of(res):
    """The rule on its control: the checks' controls (theory.results.CheckResult.control) pooled
    over the runs, judged by the statement rule itself ("held on every applicable step")."""
    ctl = [r.control for r in res if r.control and r.control.get("status") != "not applicable"]
    if not ctl:
        what = next((r.control["what"] for r in res if r.control), "none defined for this check")
        return dict(what=what, number=None, verdict=NA)
    steps = sum(c["steps"] for c in ctl)
    held = sum(c["held_share"] * c["steps"] for c in ctl)
    verdict = DIFFERS if any(c["status"] == "failed" for c in ctl) else REPRODUCED
    return dict(what=ctl[0]["what"], number=f"held on {held:.0f}/{steps} steps", verdict=verdict)


def statement_rule(name):
    """A lemma or theorem as checked on the runs of ps_eos (the Fig. 1 run and the theory-scaling
    run, each on the exact replay of a window holding PS's end and the first crossings, or on the
    whole run for the whole-run statements): "reproduced" if it held wherever its premises held,
    failed on no run, and its premises held on at least MIN_STATEMENT_STEPS steps *in all*, summed
    over the runs. The sum is deliberate: a statement is about every trajectory meeting its
    premises, and some premises occur on one run only (F(0) = 0 and the symmetric init of Lemma
    3.1 and Theorem 1 on the theory-scaling run), so a count per run would make those rows "not
    comparable" by construction; a failure on any run is "differs". A rigorous statement (proved
    from the identities, or from the first-order update) is consistency, as are the theorems of
    CONSISTENCY_STATEMENTS; a theorem (the paper's claim under premises no trajectory can fully
    certify) is a reproduction, with the rule on its check's control beside it."""

    def rule(f):
        if "ps_eos" not in f:
            raise Missing("ps_eos did not run")
        res = [c[name] for c in f["ps_eos"]["checks"].values() if name in c]
        if not res:
            raise Missing(f"{name} not checked")
        st = [r.status for r in res]
        appl = sum(r.applicable for r in res)
        total = sum(r.steps.size for r in res)
        unit = _UNITS.get(name, "steps")
        per_run = " + ".join(str(r.applicable) for r in res)
        number = f"{appl}/{total} {unit} applicable"
        if len(res) > 1:
            number += f" ({per_run} over {len(res)} runs)"
        rigorous = res[0].kind in ("rigorous", "identity")
        kind = CONSISTENCY if rigorous or name in CONSISTENCY_STATEMENTS else REPRODUCTION
        thr = (
            f"held wherever its premises held, failed on no run, on ≥ {MIN_STATEMENT_STEPS} applicable "
            f"{unit} in all (summed over the {len(res)} runs checked) ({res[0].kind})"
        )
        if "failed" in st:
            verdict, reason = DIFFERS, f"failed on some applicable step ({number})"
        elif appl == 0:
            verdict, reason = NA, f"its premises held on no step ({number})"
        elif appl < MIN_STATEMENT_STEPS:
            verdict, reason = NOT_COMPARABLE, f"only {number}: fewer than {MIN_STATEMENT_STEPS}"
        else:
            verdict, reason = REPRODUCED, f"held on every applicable step ({number})"
        if name in CONSISTENCY_STATEMENTS:
            reason = f"{reason}; {CONSISTENCY_STATEMENTS[name]}"
        if name in _EXACT_GD and (apart := _a32_apart(f, name, res)):
            reason = f"{reason}; {apart}"
        out = dict(verdict=verdict, number=number, threshold=thr, reason=reason, kind=kind, network="linear")
        if kind == REPRODUCTION:
            out["control"] = _control_of(res)
        return out

    return rule


def trajectory_identities(f):
    if "ps_eos" not in f:
        raise Missing("ps_eos did not run")
    res = [c for t in f["ps_eos"]["checks"].values() for c in t.values() if c.kind == "identity"]
    if not res:
        raise Missing("no identities checked")
    held = sum(r.status == "held" for r in res)
    bad = sum(r.status == "failed" for r in res)
    v = DIFFERS if bad else REPRODUCED if held else NA
    return dict(
        verdict=v,
        number=f"{held}/{len(res)}",
        threshold="every identity held to 1e-9 relative on both runs",
        kind=CONSISTENCY,
        network="linear",
    )


def all_rules():
    return (
        RULES
        + [
            Rule(
                "exact identities along the trajectories",
                "App. C, E",
                "ps_eos",
                trajectory_identities,
                CONSISTENCY,
            )
        ]
        + [Rule(n, "statement", "ps_eos", statement_rule(n)) for n in STATEMENTS]
    )


def score(facts, rules=None) -> list[Entry]:
    """Apply every rule to ``facts`` (from :func:`facts_of`): a rule whose inputs are missing gives
    "not applicable", one whose run is outside its claim's regime "not comparable", each with the
    reason."""
    out = []
    for r in rules or all_rules():
        kind, reason, control, network = r.kind, "", None, r.network
        try:
            res = r.fn(facts)
        except Missing as why:
            verdict, number, thr, reason = NA, None, "—", str(why)
        except NotComparable as why:
            verdict, number, thr, reason = NOT_COMPARABLE, None, "—", str(why)
        else:
            if isinstance(res, dict):
                verdict, number, thr = res["verdict"], res["number"], res["threshold"]
                reason, kind = res.get("reason", ""), res.get("kind", kind)
                control, network = res.get("control"), res.get("network", network)
            else:
                verdict, number, thr, *rest = res
                reason = rest[0] if rest else ""
        if verdict not in VERDICTS:
            raise ValueError(f"rule {r.claim!r} returned verdict {verdict!r}")
        kind, reason = demoted(kind, reason, control)
        if isinstance(number, (np.floating, np.integer)):
            number = number.item()
        sizes = (facts.get(r.anchor) or {}).get("reduced") or ""
        out.append(
            Entry(
                r.claim,
                r.paper,
                verdict,
                number,
                thr,
                r.anchor,
                kind,
                reason,
                r.quote,
                sizes=f"reduced: {sizes}" if sizes else "paper",
                claim_id=r.claim_id,
                network=network,
                control=control,
            )
        )
    return out
