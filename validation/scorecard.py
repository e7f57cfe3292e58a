"""The scorecard: one entry per claim or figure of the paper, its verdict computed by a rule.

A rule is a function of the experiments' measured numbers, ``facts`` (see :func:`facts_of`),
returning ``(verdict, number, threshold)``: ``verdict`` is "reproduced", "differs" or
"not applicable" (the experiment did not run, e.g. under ``--only``, or its premises failed); a
rule never says "reproduced" by default. ``number`` is the measured value the verdict rests on
(a float, an int or short text) and ``threshold`` says in words what "reproduced" needs.
Each entry links to the section of the report (``anchor``) that holds the experiment.

To add a claim (e.g. a new network family's experiment), append a :class:`Rule` to :data:`RULES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

REPRODUCED, DIFFERS, NA = "reproduced", "differs", "not applicable"
VERDICTS = (REPRODUCED, DIFFERS, NA)


@dataclass(frozen=True)
class Rule:
    claim: str
    paper: str
    anchor: str  # the experiment's section in the report
    fn: Callable  # facts -> (verdict, number, threshold)


@dataclass(frozen=True)
class Entry:
    claim: str
    paper: str
    verdict: str
    number: object
    threshold: str
    anchor: str

    def as_dict(self):
        return dict(
            claim=self.claim,
            paper=self.paper,
            verdict=self.verdict,
            number=self.number,
            threshold=self.threshold,
            anchor=self.anchor,
        )


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


# ---- the rules ---------------------------------------------------------------------------------


def ps_then_eos(f):
    start, med, cross, l0, l1, rises = _m(
        f,
        "ps_eos",
        "eta_lambda_start",
        "median_eta_lambda_last_half",
        "upward_crossings",
        "loss_start",
        "loss_end",
        "loss_rises",
    )
    ok = start < 2 and abs(med - 2) <= 0.05 and cross >= 5 and l1 < l0 and rises > 0
    return (
        _verdict(ok),
        med,
        (
            "ηΛ(0) < 2, median ηΛ over the last half within 2 ± 0.05, ≥ 5 upward "
            f"crossings of 2/η (here {cross}), loss down overall but non-monotone (rises: {rises})"
        ),
    )


def four_phases_recur(f):
    cyc, spikes, *fr = _m(
        f, "ps_eos", "four_phase_cycles", "loss_spikes", "phase_I", "phase_II", "phase_III", "phase_IV"
    )
    return (
        _verdict(cyc >= 3 and spikes >= 3 and min(fr) > 0),
        spikes,
        f"≥ 3 loss spikes (catapults) and ≥ 3 clean II→III→IV sequences (here {cyc}), each phase present",
    )


def a_norm_with_sharpness(f):
    agree = _m(f, "a_norm", "a31_agreement")
    return _verdict(agree >= 0.9), agree, "sign(Δ‖a‖²) = sign(ΔΛ) on ≥ 90% of the steps"


def ga_small(f):
    r = _m(f, "a_norm", "max_GA_over_G")
    return _verdict(r <= 0.1), r, "max over the recorded steps of ‖G_A‖/‖G‖ ≤ 0.1"


def loss_from_u1(f):
    r = _m(f, "loss_split", "rest_rise_over_u1_rise_eos")
    return (
        _verdict(r <= 0.1),
        r,
        ("in one EoS catapult, summed over the steps where L rises, the rest's rise ≤ 10% of the u₁ part's"),
    )


def first_order_ok(f):
    r = _m(f, "first_order", "median_higher_over_actual_D")
    return _verdict(r <= 0.1), r, "median ‖higher-order part‖/‖D⁺ − D‖ ≤ 0.1"


def gd_follows_flow(f):
    r = _m(f, "gd_vs_flow", "max_rel_loss_dev")
    return _verdict(r <= 0.1), r, "max relative loss deviation GD vs flow during PS ≤ 0.1"


def u1_stable(f):
    ov = _m(f, "u1_stability", "min_overlap_u1_0")
    return _verdict(ov > 0.98), ov, "min_t |⟨u₁(t), u₁(0)⟩| > 0.98"


def k_spectrum(f):
    r_raw, g_raw, r_ms = _m(
        f,
        "spectrum",
        "lambda1_over_lambda2_raw",
        "max_ratio_i>1_top100_raw",
        "lambda1_over_lambda2_mean_subtracted",
    )
    ok = r_raw > g_raw and r_ms < r_raw
    return (
        _verdict(ok),
        r_raw,
        (
            "λ₁/λ₂ above every λᵢ/λᵢ₊₁ for 1 < i < 100 (an outlier), and smaller "
            f"after mean subtraction (here {r_ms:.3g})"
        ),
    )


def e_hat_shrinks(f):
    if "e_hat_width" not in f:
        raise _Missing("e_hat_width did not run")
    met = f["e_hat_width"]["metrics"]
    pts = sorted(
        (int(k[len("median_e_hat_m") :]), v)
        for k, v in met.items()
        if k.startswith("median_e_hat_m") and v is not None
    )
    if len(pts) < 2:
        raise _Missing("fewer than two widths")
    m, e = np.array(pts, dtype=float).T
    slope = float(np.polyfit(np.log(m), np.log(e), 1)[0])
    ok = bool(np.all(np.diff(e) < 0)) and slope <= -0.25 and e[-1] < 1
    return _verdict(ok), slope, "median ‖Ê‖ < 1 at the largest width, decreasing in m, log-log slope ≤ −0.25"


def eos_large_init(f):
    mx, cross, move, l1 = _m(f, "large_init", "max_eta_lambda", "crossings", "W_move", "loss_end")
    n = len(cross) if isinstance(cross, (list, tuple)) else int(cross)
    return (
        _verdict(mx > 2 and n >= 1 and move <= 0.1),
        mx,
        "ηΛ crosses 2 (≥ 1 upward crossing) while ‖ΔW‖/‖W(0)‖ ≤ 0.1",
    )


def gaussian_data(f):
    pg, pc, sg, sc = _m(
        f,
        "gaussian",
        "gaussian_ps_ratio",
        "cifar-like_ps_ratio",
        "gaussian_steps_to_1pct_loss",
        "cifar-like_steps_to_1pct_loss",
    )
    ok = pg < pc and sg <= sc
    return (
        _verdict(ok),
        pg / pc,
        "Gaussian data converges at least as fast and sharpens less: PS ratio Gaussian/CIFAR-like < 1",
    )


def label_alignment(f):
    top, bottom, dt, db = _m(
        f, "labels", "ps_degree_top", "ps_degree_bottom", "diverged_top", "diverged_bottom"
    )
    if dt or db:
        raise _Missing(
            "the "
            + " and ".join(k for k, d in (("top", dt), ("bottom", db)) if d)
            + "-label run diverged: no PS degree to compare"
        )
    return (
        _verdict(top < bottom),
        top / bottom,
        "PS degree Λ(T)/Λ(0) with top-aligned labels < with bottom-aligned: ratio < 1",
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


def cond20_profile(f):
    top, held, r = _m(
        f,
        "lemma_e7",
        "cond20_top_directions_held_every_step",
        "cond20_directions_held_every_step",
        "directions",
    )
    return (
        _verdict(top >= 1 and held < r),
        top,
        (
            "cond (20) holds at every window step for the top eigen-directions "
            f"and fails for some small ones (held every step: {held}/{r})"
        ),
    )


def _h(facts, exp, *keys):
    """The ``metrics["headline"]`` entries ``keys`` of a network experiment (validation.networks)."""
    return _m(facts, exp, *keys, headline=True)


def fc_ps_then_eos(f):
    first, med, rises, nonmono = _h(
        f,
        "a31_anomalies",
        "first_above_2",
        "median_eta_lambda_last_half",
        "loss_rises",
        "loss_non_monotone_decrease",
    )
    ok = abs(med - 2) <= 0.05 and rises > 0 and bool(nonmono)
    return (
        _verdict(ok),
        med,
        (
            f"the deep tanh net reaches 2/η (here at step {first}), median ηΛ over the "
            "last half within 2 ± 0.05, loss down overall but non-monotone"
        ),
    )


def fc_a31(f):
    rates = {a: _h(f, "fc_activations", f"{a}_a31_rate") for a in ("tanh", "relu", "elu")}
    dead = [a for a in rates if _h(f, "fc_activations", f"{a}_dead")]
    if dead:
        return NA, f"dead net: {dead}", "a dead ReLU net has no sharpness to follow"
    worst = min(rates.values())
    return (
        _verdict(worst >= 0.9),
        worst,
        (
            "sign(Δ‖A‖²) = sign(ΔΛ) on ≥ 90% of the steps for each of "
            + ", ".join(f"{a} {v:.3g}" for a, v in rates.items())
        ),
    )


def fc_ga_small(f):
    r = _h(f, "ga_vs_g", "tanh_max_ga_over_g")
    return _verdict(r <= 0.1), r, "deep tanh net: max over the run of ‖G_A‖/‖G‖ ≤ 0.1"


def fc_freezing(f):
    slower, weaker = _h(f, "freezing", "ps_slower_with_freezing", "oscillations_weaker_with_freezing")
    return (
        _verdict(bool(slower) and bool(weaker)),
        f"PS slower: {bool(slower)}, weaker: {bool(weaker)}",
        "with 0, 1, 2 frozen layers: PS reaches 2/η later and slower, and ηΛ oscillates less in the EoS",
    )


def fc_anomalies(f):
    n, other = _h(f, "a31_anomalies", "disagreements", "kind_other")
    if not n:
        return NA, "no disagreement", "A3.1 never failed: nothing to classify"
    return (
        _verdict(other == 0),
        f"{n - other}/{n}",
        (
            "every A3.1 disagreement is of the paper's three kinds "
            "(a change in ‖A‖'s trend, high-frequency oscillation, late)"
        ),
    )


def cnn_ps_then_eos(f):
    ok = {a: _m(f, "cnn_activations", f"{a}_ps_then_eos") for a in ("tanh", "relu", "elu")}
    rate = min(_m(f, "cnn_activations", f"{a}_a31_agreement") for a in ok)
    return _verdict(all(ok.values()) and rate >= 0.8), rate, (
        "the paper's CNN with tanh, ReLU and ELU: Λ rises, crosses 2/η and the loss then rises while Λ "
        "falls (phase III); A3.1 on ≥ 80% of the steps for each (lowest rate shown); "
        + ", ".join(f"{a}: {'yes' if v else 'no'}" for a, v in ok.items()))


def resnet_a_norm(f):
    ps, rate = _m(f, "resnet18", "ps_then_eos", "a31_agreement")
    return _verdict(bool(ps) and rate >= 0.8), rate, (
        "ResNet18 (one output): PS to 2/η, then EoS, with ‖A‖² moving with Λ on ≥ 80% of the steps "
        f"(PS then EoS here: {'yes' if ps else 'no'})")


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
    Rule("PS, then the edge of stability", "Fig. 1", "ps_eos", ps_then_eos),
    Rule("the four phases recur", "§3.1, Fig. 4", "ps_eos", four_phases_recur),
    Rule("‖A‖² moves with Λ (A3.1)", "Fig. 2, 3a", "a_norm", a_norm_with_sharpness),
    Rule("‖G_A‖ ≪ ‖G‖", "§3.2, Fig. 13", "a_norm", ga_small),
    Rule("the non-monotone loss comes from the u₁ part", "Fig. 3b", "loss_split", loss_from_u1),
    Rule("the first-order approximation (A3.2)", "Fig. 15", "first_order", first_order_ok),
    Rule("GD ≈ gradient flow in PS (A3.3)", "Fig. 16", "gd_vs_flow", gd_follows_flow),
    Rule("u₁ stays stable (A3.5)", "Fig. 17", "u1_stability", u1_stable),
    Rule("K's spectrum: λ₁ an outlier, shrunk by mean subtraction", "Figs. 18–19", "spectrum", k_spectrum),
    Rule("‖Ê‖ small and shrinking with width (A4.3)", "Fig. 20", "e_hat_width", e_hat_shrinks),
    Rule("EoS at 10× init, W barely moving", "Fig. 22", "large_init", eos_large_init),
    Rule("Gaussian data: faster, less sharpening", "Fig. 11", "gaussian", gaussian_data),
    Rule("labels on K's top eigenvector sharpen less", "Fig. 12", "labels", label_alignment),
    Rule("the catapult window 2 < ηλ₀ < 4", "§2, App. C", "catapult", catapult_window),
    Rule(
        "cond (20): holds for large, fails for small eigen-directions",
        "App. E.2.3, Fig. 26",
        "lemma_e7",
        cond20_profile,
    ),
    Rule("Lemma E.7", "App. E.2", "lemma_e7", _status_rule("lemma_e7", "", "Lemma E.7")),
    Rule(
        "identities I1–I12 and the flow equations (SymPy)",
        "docs/theory.md §2",
        "identities",
        identities_sympy,
    ),
    Rule("deep FC net: PS, then the edge of stability", "§3, Fig. 5", "a31_anomalies", fc_ps_then_eos),
    Rule("deep FC nets: ‖A‖² moves with Λ (A3.1), tanh/ReLU/ELU", "Figs. 5–7", "fc_activations", fc_a31),
    Rule("deep FC net: ‖G_A‖ ≪ ‖G‖", "Fig. 13", "ga_vs_g", fc_ga_small),
    Rule("freezing layers: PS slower, oscillations weaker", "Figs. 23–24", "freezing", fc_freezing),
    Rule("A3.1's exceptions are of three kinds", "App. B.2", "a31_anomalies", fc_anomalies),
    Rule("CNNs: PS then EoS, ‖A‖² with Λ (tanh/ReLU/ELU)", "Figs. 8–10", "cnn_activations", cnn_ps_then_eos),
    Rule("ResNet18: ‖A‖² moves with Λ through PS and EoS", "Fig. 2", "resnet18", resnet_a_norm),
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
    def rule(f):
        if "ps_eos" not in f:
            raise _Missing("ps_eos did not run")
        res = [c[name] for c in f["ps_eos"]["checks"].values() if name in c]
        if not res:
            raise _Missing(f"{name} not checked")
        st = [r.status for r in res]
        appl = sum(r.applicable for r in res)
        total = sum(r.steps.size for r in res)
        v = DIFFERS if "failed" in st else REPRODUCED if "held" in st else NA
        return (
            v,
            f"{appl}/{total} steps applicable",
            f"held wherever its premises held, on both runs ({res[0].kind})",
        )

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
        + [Rule("exact identities along the trajectories", "App. C, E", "ps_eos", trajectory_identities)]
        + [Rule(n, "statement", "ps_eos", statement_rule(n)) for n in STATEMENTS]
    )


def score(facts, rules=None) -> list[Entry]:
    """Apply every rule to ``facts`` (from :func:`facts_of`); a rule whose inputs are missing gives
    "not applicable" with the reason as its number."""
    out = []
    for r in rules or all_rules():
        try:
            verdict, number, thr = r.fn(facts)
        except _Missing as why:
            verdict, number, thr = NA, str(why), "—"
        if verdict not in VERDICTS:
            raise ValueError(f"rule {r.claim!r} returned verdict {verdict!r}")
        if isinstance(number, (np.floating, np.integer)):
            number = number.item()
        out.append(Entry(r.claim, r.paper, verdict, number, thr, r.anchor))
    return out
