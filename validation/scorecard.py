"""The scorecard: one entry per claim or figure of the paper, its verdict computed by a rule.

A rule is a function of the experiments' measured numbers, ``facts`` (see :func:`facts_of`),
returning ``(verdict, number, threshold)`` or ``(verdict, number, threshold, reason)`` — or a dict
with those keys and, optionally, ``kind`` — where ``verdict`` is one of
:data:`validation.verdicts.VERDICTS`: "reproduced" and "differs" only for a run in the regime the
claim is about; "not comparable" (a rule raises :class:`NotComparable` with the reason) for a run
outside it; "not applicable" (it raises ``_Missing``) when the experiment did not run. A rule
never says "reproduced" by default. ``number`` is the measured value the verdict rests on and
``threshold`` says in words what "reproduced" needs. Each entry links to the section of the report
(``anchor``) that holds the experiment, and says its ``kind``: "reproduction" (an empirical claim
of the paper) or "consistency" (an identity, a rigorous consequence of the identities, or a fact
structural to the model: it checks the implementation and is never counted as a reproduction).

The §3 claims are judged by :mod:`validation.section3`'s gated rules on each run (the same rules
``python -m validation --model`` applies to a user's model); the experiments store those verdicts
under ``metrics["section3"][run]`` and :func:`section3_rule` reads them.

To add a claim (e.g. a new network family's experiment), append a :class:`Rule` to :data:`RULES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from theory.claims import CONSISTENCY, REPRODUCTION, claim as paper_claim

from .verdicts import DIFFERS, NOT_APPLICABLE, NOT_COMPARABLE, REPRODUCED, VERDICTS, Regime

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


@dataclass(frozen=True)
class Entry:
    claim: str
    paper: str
    verdict: str
    number: object
    threshold: str
    anchor: str
    kind: str = REPRODUCTION
    reason: str = ""
    paper_quote: str = ""
    seeds: str = "1/1"

    def as_dict(self):
        return dict(
            claim=self.claim,
            paper=self.paper,
            kind=self.kind,
            verdict=self.verdict,
            number=self.number,
            threshold=self.threshold,
            reason=self.reason,
            paper_quote=self.paper_quote,
            seeds=self.seeds,
            anchor=self.anchor,
        )


class NotComparable(Exception):
    """Raised by a rule whose run is outside the regime its claim is about; the message says why."""


def facts_of(results) -> dict:
    """``{experiment: {"metrics": {...}, "checks": {table title: {check name: CheckResult}}}}``."""
    return {
        r.name: dict(
            metrics=dict(r.metrics), checks={t: {c.name: c for c in tab} for t, tab in r.tables.items()}
        )
        for r in results
    }


class _Missing(Exception):
    pass


def _m(facts, exp, *keys, headline=False):
    """The metrics ``keys`` of experiment ``exp`` (with ``headline``, those of its
    ``metrics["headline"]``, where the network experiments keep theirs); raises _Missing
    (→ "not applicable") if absent."""
    if exp not in facts:
        raise _Missing(f"{exp} did not run")
    met = facts[exp]["metrics"]
    if headline:
        met = met.get("headline") or {}
    vals = []
    for k in keys:
        v = met.get(k)
        if v is None or (isinstance(v, float) and not np.isfinite(v)):
            raise _Missing(f"{exp}.{k} not measured")
        vals.append(v)
    return vals[0] if len(vals) == 1 else vals


def _verdict(ok: bool):
    return REPRODUCED if ok else DIFFERS


def section3_rule(exp: str, claim_id: str, runs: tuple[str, ...] | None = None):
    """The verdict of :mod:`validation.section3` on ``claim_id`` for the runs of experiment ``exp``
    (its ``metrics["section3"]``: run name → list of verdict dicts; ``runs``: those runs, default
    all). Over several runs: "not comparable" if any run is (each reason given), else "reproduced"
    only if every run reproduces, else "differs"; the number is per run."""

    def rule(f):
        if exp not in f:
            raise _Missing(f"{exp} did not run")
        table = f[exp]["metrics"].get("section3") or {}
        names = [r for r in (runs or tuple(table)) if r in table]
        if not names:
            raise _Missing(f"{exp} judged no run on {claim_id}")
        got = {}
        for r in names:
            v = next((v for v in table[r] if v["claim"] == claim_id), None)
            if v is None:
                raise _Missing(f"{exp}/{r} has no verdict on {claim_id}")
            got[r] = v
        one = len(got) == 1
        label = (lambda r: "") if one else (lambda r: f"{r}: ")
        rule_text = next(iter(got.values()))["rule"] + ("" if one else f" (each of {', '.join(got)})")
        if any(v["verdict"] == NOT_APPLICABLE for v in got.values()):
            raise _Missing("; ".join(label(r) + v["reason"] for r, v in got.items() if v["verdict"] == NA))
        if any(v["verdict"] == NOT_COMPARABLE for v in got.values()):
            return dict(verdict=NOT_COMPARABLE, number=None, threshold=rule_text,
                        reason="; ".join(label(r) + v["reason"] for r, v in got.items()
                                         if v["verdict"] == NOT_COMPARABLE))
        ok = all(v["verdict"] == REPRODUCED for v in got.values())
        number = (next(iter(got.values()))["number"] if one
                  else {r: v["number"] for r, v in got.items()})
        return _verdict(ok), number, rule_text, "; ".join(label(r) + v["reason"] for r, v in got.items())

    rule.__name__ = f"section3[{claim_id}]"
    return rule


def _s3(title: str, paper: str, exp: str, claim_id: str, runs=None, kind: str = REPRODUCTION) -> Rule:
    """A scorecard row judged by section3 on ``exp``'s runs, quoting the claim."""
    return Rule(title, paper, exp, section3_rule(exp, claim_id, runs), kind, paper_claim(claim_id).quote)


def _c(claim_id: str, exp: str, fn, kind: str = REPRODUCTION) -> Rule:
    """A scorecard row for a claim of :mod:`theory.claims` judged by ``fn`` on ``exp``'s metrics."""
    c = paper_claim(claim_id)
    return Rule(c.title, c.paper, exp, fn, kind, c.quote)


# ---- the rules ---------------------------------------------------------------------------------


def _regime_gate(facts, exp, run, gate="ps"):
    """NotComparable unless ``exp``'s run ``run`` (its ``metrics["regimes"][run]``) passes the
    regime's ``ps`` gate (a progressive PS) or ``eos`` gate (PS, then oscillations)."""
    if exp not in facts:
        raise _Missing(f"{exp} did not run")
    reg = (facts[exp]["metrics"].get("regimes") or {}).get(run)
    if reg is None:
        raise _Missing(f"{exp}/{run}: no regime recorded")
    r = Regime.from_dict(reg)
    why = r.ps_gate() if gate == "ps" else r.eos_gate()
    if why is not None:
        raise NotComparable(f"{run}: {why}")
    return r


# A3.3 / Fig. 16: "close" read as the GD loss within 10% of the flow's at every time of PS.
FLOW_LOSS_DEV = 0.1


def gd_follows_flow(f):
    _regime_gate(f, "gd_vs_flow", "theory")
    r = _m(f, "gd_vs_flow", "max_rel_loss_dev")
    return (_verdict(r <= FLOW_LOSS_DEV), r,
            f"over PS (≥ 100 steps from a small ηΛ(0)), GD's loss within {FLOW_LOSS_DEV:.0%} of the "
            "flow's at equal times t = ηk")


def k_spectrum(f):
    r_raw, g_raw, r_ms = _m(
        f,
        "spectrum",
        "lambda1_over_lambda2_raw",
        "max_ratio_i>1_top100_raw",
        "lambda1_over_lambda2_mean_subtracted",
    )
    ok = r_raw > g_raw and r_ms < r_raw
    synthetic = bool(f["spectrum"]["metrics"].get("synthetic_data", False))
    return dict(
        verdict=_verdict(ok),
        number=r_raw,
        threshold=(
            "λ₁/λ₂ above every λᵢ/λᵢ₊₁ for 1 < i < 100 (an outlier), and smaller "
            f"after mean subtraction (here {r_ms:.3g})"
        ),
        # the built-in generator plants the mean direction: there the outlier is by construction
        kind=CONSISTENCY if synthetic else REPRODUCTION,
        reason="on synthetic data whose generator plants the mean direction" if synthetic else "",
    )


def e_hat_shrinks(f):
    widths = _m(f, "e_hat_width", "widths")
    if len(widths) < 2:
        raise _Missing("fewer than two widths")
    why = [f"m = {m}: {Regime.from_dict(w['regime']).eos_gate()}" for m, w in widths.items()
           if Regime.from_dict(w["regime"]).eos_gate() is not None]
    if why:
        raise NotComparable("A4.3 is about the EoS; " + "; ".join(why))
    pts = sorted((int(m), w["median_e_hat_eos"]) for m, w in widths.items())
    m, e = np.array(pts, dtype=float).T
    slope = float(np.polyfit(np.log(m), np.log(e), 1)[0])
    ok = bool(np.all(np.diff(e) < 0)) and slope <= -0.25 and e[-1] < 1
    return (_verdict(ok), slope,
            "over each width's EoS steps, median ‖Ê‖ decreasing in m with a log-log slope ≤ −0.25, and "
            "< 1 at the largest width",
            "medians " + ", ".join(f"m = {int(a)}: {b:.3g}" for a, b in pts))


# Fig. 22's W "changes slightly": ‖W(T) − W(0)‖/‖W(0)‖ at most a tenth
W_MOVE = 0.1


def eos_large_init(f):
    v = _m(f, "large_init", "section3")["large_init"][0]
    move, l0, l1 = _m(f, "large_init", "W_move", "loss_start", "loss_end")
    if v["verdict"] == NOT_COMPARABLE:
        reg = Regime.from_dict(_m(f, "large_init", "regimes")["large_init"])
        if reg.first_crossing is None and not reg.diverged and reg.eta_lambda0 < 2 and l1 <= 0.01 * l0:
            return (DIFFERS, float(_m(f, "large_init", "max_eta_lambda")),
                    "PS of ≥ 100 steps, then ηΛ hovering at 2, while ‖ΔW‖/‖W(0)‖ ≤ 0.1",
                    f"trained to {l1 / l0:.2g} of its first loss without ηΛ reaching 2")
        raise NotComparable(v["reason"] + f" (loss {l0:.3g} → {l1:.3g})")
    ok = v["verdict"] == REPRODUCED and move <= W_MOVE
    return (_verdict(ok), v["number"],
            f"the Fig. 1 rule ({v['rule']}), and ‖ΔW‖/‖W(0)‖ ≤ {W_MOVE}",
            v["reason"] + f"; ‖ΔW‖/‖W(0)‖ = {move:.3g}")


def _below_eos(f, exp, *runs):
    """The runs' facts (validation.experiments._below_2_over_eta), NotComparable if any run left
    the regime below 2/η that a comparison of PS degrees needs."""
    got = [_m(f, exp, r) for r in runs]
    why = [g["outside"] for g in got if g.get("outside")]
    if why:
        raise NotComparable("; ".join(why))
    return got


def gaussian_data(f):
    g, im = _below_eos(f, "gaussian", "gaussian", "images")
    if g["steps_to_1pct_loss"] is None:
        raise NotComparable("the Gaussian run did not reach 1% of its first loss: no convergence to compare")
    faster = im["steps_to_1pct_loss"] is None or g["steps_to_1pct_loss"] < im["steps_to_1pct_loss"]
    less = g["degree"] < im["degree"]
    return (
        _verdict(faster and less),
        g["degree"] / im["degree"],
        "at the same small ηΛ(0), Gaussian data reach 1% of the first loss sooner and sharpen less "
        "(max Λ/Λ(0)): the degree ratio Gaussian/images < 1",
        f"1% of the loss at step {g['steps_to_1pct_loss']} (Gaussian) vs "
        f"{im['steps_to_1pct_loss'] or 'not reached'} (images); degrees {g['degree']:.3g} vs "
        f"{im['degree']:.3g}",
    )


def label_alignment(f):
    top, bottom = _below_eos(f, "labels", "top", "bottom")
    return (
        _verdict(top["degree"] < bottom["degree"]),
        top["degree"] / bottom["degree"],
        "at a small ηΛ(0), the degree of PS max Λ/Λ(0) with labels along K's top eigenvector < along "
        "its bottom one: ratio < 1",
        f"degrees {top['degree']:.3g} (top) vs {bottom['degree']:.3g} (bottom)",
    )


def catapult_window(f):
    c, d, step = _m(f, "catapult", "catapult_from", "diverges_from", "grid_step")
    ok = abs(c - 2) <= step + 1e-9 and abs(d - 4) <= step + 1e-9
    return (
        _verdict(ok),
        f"[{c:g}, {d:g})",
        "catapult from ηλ₀ ≈ 2 and divergence from ηλ₀ ≈ 4, within one grid step",
    )


def _status_rule(exp, table_sub, check):
    def rule(f):
        if exp not in f:
            raise _Missing(f"{exp} did not run")
        res = [c[check] for t, c in f[exp]["checks"].items() if table_sub in t and check in c]
        if not res:
            raise _Missing(f"{check} not in {exp}")
        r = res[0]
        v = {"held": REPRODUCED, "failed": DIFFERS}.get(r.status, NA)
        return (
            v,
            (f"{r.applicable}/{r.steps.size} steps applicable" if r.steps.size else r.status),
            f"held at every step where its premises held ({r.kind})",
        )

    return rule


# App. E.2.3: (20) "holds for [the top directions] during the first hundred iterations" and "for very
# large i […] does not hold": the top and bottom tenth of the directions (by eigenvalue, at least one
# each); "holds" read as on ≥ 90% of the window's steps, "does not hold" as on ≤ 50%.
COND20_HOLDS, COND20_FAILS, COND20_TAIL = 0.9, 0.5, 0.1


def cond20_profile(f):
    rates = np.asarray(_m(f, "lemma_e7", "cond20_held_rate_by_direction"), dtype=float)
    steps = _m(f, "lemma_e7", "window_steps")
    if steps < MIN_STATEMENT_STEPS:
        raise NotComparable(f"a window of {steps} steps: fewer than {MIN_STATEMENT_STEPS}")
    k = max(1, int(COND20_TAIL * rates.size))
    top, bottom = float(np.median(rates[:k])), float(np.median(rates[-k:]))
    return (
        _verdict(top >= COND20_HOLDS and bottom <= COND20_FAILS),
        f"top: {top:.2f}, bottom: {bottom:.2f}",
        f"over the window, the median share of steps where (20) holds is ≥ {COND20_HOLDS} for the top "
        f"{COND20_TAIL:.0%} of the directions and ≤ {COND20_FAILS} for the bottom {COND20_TAIL:.0%}",
        f"{k} directions in each tenth, {steps} steps",
    )


def _h(facts, exp, *keys):
    """The ``metrics["headline"]`` entries ``keys`` of a network experiment (validation.networks)."""
    return _m(facts, exp, *keys, headline=True)


def _gate(facts, exp, run):
    """NotComparable unless ``exp``'s run ``run`` (its ``metrics["regimes"][run]``, a
    :meth:`Regime.as_dict`) had a progressive PS and oscillations around 2/η."""
    reg = ((facts.get(exp) or {}).get("metrics") or {}).get("regimes", {}).get(run)
    if reg is None:
        raise _Missing(f"{exp}/{run}: no regime recorded")
    why = Regime.from_dict(reg).eos_gate()
    if why is not None:
        raise NotComparable(f"{run}: {why}")


def fc_freezing(f):
    _gate(f, "freezing", "frozen 0")
    slower, weaker = _h(f, "freezing", "ps_slower_with_freezing", "oscillations_weaker_with_freezing")
    return (
        _verdict(bool(slower) and bool(weaker)),
        f"PS slower: {bool(slower)}, weaker: {bool(weaker)}",
        "with 0, 1, 2 frozen layers: PS reaches 2/η later and slower, and ηΛ oscillates less in the EoS",
    )


def identities_sympy(f):
    if "identities" not in f:
        raise _Missing("identities did not run")
    vals = list(f["identities"]["metrics"].values())
    if not vals or any(v is None for v in vals):
        raise _Missing("identities not measured")
    return (
        _verdict(all(v == "verified" for v in vals)),
        f"{sum(v == 'verified' for v in vals)}/{len(vals)}",
        "every identity verified symbolically",
    )


RULES = [
    _s3("PS, then the edge of stability", "§2, Fig. 1", "ps_eos", "s3.ps_then_eos"),
    _s3("the four phases recur", "§3.1, Figs. 1, 4", "ps_eos", "s3.four_phases"),
    # on the two-layer linear net G = α²‖a‖²K + G_A, so Λ moves with ‖a‖² as long as G_A is small:
    # structural to the model, not evidence for A3.1 on networks (the deep nets' rows below are)
    _s3("‖A‖² moves with Λ (A3.1) on the two-layer linear net", "Fig. 4", "ps_eos", "s3.a31",
        kind=CONSISTENCY),
    _s3("‖G_A‖ ≪ ‖G‖", "§3.2, Fig. 13", "ps_eos", "s3.ga_small"),
    _s3("the non-monotone loss comes from the u₁ part", "Fig. 3b", "ps_eos", "s3.loss_split"),
    _s3("the first-order approximation (A3.2)", "Fig. 15", "ps_eos", "s3.a32"),
    _c("d14.gd_flow", "gd_vs_flow", gd_follows_flow),
    _s3("u₁ stays stable (A3.5)", "Fig. 17", "ps_eos", "s3.a35"),
    _c("d21.spectrum", "spectrum", k_spectrum),
    _c("d22.e_hat", "e_hat_width", e_hat_shrinks),
    _c("d23.large_init", "large_init", eos_large_init),
    _c("b14.gaussian", "gaussian", gaussian_data),
    _c("b14.labels", "labels", label_alignment),
    _c("c.catapult", "catapult", catapult_window),
    _c("e23.cond20", "lemma_e7", cond20_profile),
    Rule("Lemma E.7", "App. E.2", "lemma_e7", _status_rule("lemma_e7", "", "Lemma E.7")),
    Rule(
        "identities I1–I12 and the flow equations (SymPy)",
        "docs/theory.md §2",
        "identities",
        identities_sympy,
        CONSISTENCY,
    ),
    _s3("deep FC nets: PS, then the edge of stability", "§3, Figs. 5–7", "fc_activations", "s3.ps_then_eos"),
    _s3("deep FC nets: ‖A‖² moves with Λ (A3.1), tanh/ReLU/ELU", "Figs. 5–7", "fc_activations", "s3.a31"),
    _s3("deep FC net: ‖G_A‖ ≪ ‖G‖", "Fig. 13", "ga_vs_g", "s3.ga_small", runs=("tanh",)),
    Rule("freezing layers: PS slower, oscillations weaker", "Figs. 23–24", "freezing", fc_freezing),
    _s3("A3.1's exceptions are of three kinds", "App. B.2", "fc_activations", "s3.anomalies"),
    _s3("CNNs: PS, then the edge of stability (tanh/ReLU/ELU)", "Figs. 8–10", "cnn_activations",
        "s3.ps_then_eos"),
    _s3("CNNs: ‖A‖² moves with Λ (A3.1), tanh/ReLU/ELU", "Figs. 8–10", "cnn_activations", "s3.a31"),
    _s3("ResNet18: ‖A‖² moves with Λ through PS and EoS", "Fig. 2", "resnet18", "s3.a31"),
]

# The paper's rigorous statements, and its theorems, as checked on the two runs of ps_eos: one
# entry each, "reproduced" if held on some run and failed on none.
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


def statement_rule(name):
    """A lemma or theorem as checked on the runs of ps_eos: "reproduced" if it held wherever its
    premises held, on at least MIN_STATEMENT_STEPS applicable steps, and failed nowhere. A rigorous
    statement (proved from the identities) is consistency; a theorem (the paper's claim under
    premises no trajectory can fully certify) a reproduction."""

    def rule(f):
        if "ps_eos" not in f:
            raise _Missing("ps_eos did not run")
        res = [c[name] for c in f["ps_eos"]["checks"].values() if name in c]
        if not res:
            raise _Missing(f"{name} not checked")
        st = [r.status for r in res]
        appl = sum(r.applicable for r in res)
        total = sum(r.steps.size for r in res)
        number = f"{appl}/{total} steps applicable"
        kind = CONSISTENCY if res[0].kind in ("rigorous", "identity") else REPRODUCTION
        thr = (f"held wherever its premises held, on ≥ {MIN_STATEMENT_STEPS} applicable steps of both "
               f"runs ({res[0].kind})")
        if "failed" in st:
            verdict, reason = DIFFERS, f"failed on some applicable step ({number})"
        elif appl == 0:
            verdict, reason = NA, f"its premises held on no step ({number})"
        elif appl < MIN_STATEMENT_STEPS:
            verdict, reason = NOT_COMPARABLE, f"only {number}: fewer than {MIN_STATEMENT_STEPS}"
        else:
            verdict, reason = REPRODUCED, f"held on every applicable step ({number})"
        return dict(verdict=verdict, number=number, threshold=thr, reason=reason, kind=kind)

    return rule


def trajectory_identities(f):
    if "ps_eos" not in f:
        raise _Missing("ps_eos did not run")
    res = [c for t in f["ps_eos"]["checks"].values() for c in t.values() if c.kind == "identity"]
    if not res:
        raise _Missing("no identities checked")
    held = sum(r.status == "held" for r in res)
    bad = sum(r.status == "failed" for r in res)
    v = DIFFERS if bad else REPRODUCED if held else NA
    return v, f"{held}/{len(res)}", "every identity held to 1e-9 relative on both runs"


def all_rules():
    return (
        RULES
        + [Rule("exact identities along the trajectories", "App. C, E", "ps_eos", trajectory_identities,
                CONSISTENCY)]
        + [Rule(n, "statement", "ps_eos", statement_rule(n)) for n in STATEMENTS]
    )


def score(facts, rules=None) -> list[Entry]:
    """Apply every rule to ``facts`` (from :func:`facts_of`): a rule whose inputs are missing gives
    "not applicable", one whose run is outside its claim's regime "not comparable", each with the
    reason."""
    out = []
    for r in rules or all_rules():
        kind, reason = r.kind, ""
        try:
            res = r.fn(facts)
        except _Missing as why:
            verdict, number, thr, reason = NA, None, "—", str(why)
        except NotComparable as why:
            verdict, number, thr, reason = NOT_COMPARABLE, None, "—", str(why)
        else:
            if isinstance(res, dict):
                verdict, number, thr = res["verdict"], res["number"], res["threshold"]
                reason, kind = res.get("reason", ""), res.get("kind", kind)
            else:
                verdict, number, thr, *rest = res
                reason = rest[0] if rest else ""
        if verdict not in VERDICTS:
            raise ValueError(f"rule {r.claim!r} returned verdict {verdict!r}")
        if isinstance(number, (np.floating, np.integer)):
            number = number.item()
        out.append(Entry(r.claim, r.paper, verdict, number, thr, r.anchor, kind, reason, r.quote))
    return out
