"""validation.section3: each §3 rule says reproduced, differs and not comparable on constructed runs,
and its gate answers "not comparable" for runs outside the paper's regime (PS too short, no EoS)."""

import dataclasses

import numpy as np
import pytest

from linnet.run.trajectory import COMMON, Trajectory
from validation import section3
from validation.verdicts import DIFFERS, NOT_APPLICABLE, NOT_COMPARABLE, REPRODUCED, Regime, Verdict

ETA, N = 0.5, 50


def run(
    *,
    ps=200,
    steps=1000,
    period=25,
    a_follows=True,
    ga_share=0.01,
    rest_rises=False,
    overlap=0.999,
    first_order=0.01,
    start=1.0,
    diverged=False,
    against=(),
    v1_overlap=0.0,
    ga_init=None,
    stale=None,
):
    """A run with the paper's shape: ηΛ rising linearly from ``start`` to 2 over ``ps`` steps,
    then oscillating around 2 (period ``period``); the loss falling, with rises in the EoS carried
    by the u₁ part (or, with ``rest_rises``, by the rest) in catapults of 20%; ‖A‖² moving with Λ (or
    against it). For the controls: ``v1_overlap`` |⟨u₁, v₁⟩| with the data's top direction,
    ``ga_init`` ‖G_A‖/Λ at step 0 (default ``ga_share``), ``stale`` the first-order ratio of the
    previous step's term (default 100× ``first_order`` in the EoS, as a period-2 flip makes it)."""
    t = np.arange(steps + 1, dtype=float)
    el = np.where(
        t <= ps, start + (2 - start) * t / max(ps, 1), 2 + 0.05 * np.sin(2 * np.pi * (t - ps) / period - 1e-3)
    )
    if 0 < ps <= steps:
        el[ps] = 2.0 + 1e-9  # the first crossing of 2 at step ps exactly
    S = el / ETA
    smooth = 0.5 * np.exp(-t / 300)
    bump = np.where(t > ps, 0.2 * smooth * np.maximum(np.sin(2 * np.pi * (t - ps) / period), 0) ** 2, 0)
    L = smooth + bump
    L_u1 = 0.001 * smooth + (0 if rest_rises else bump)
    d_u1 = np.sqrt(2 * N * L_u1)
    A = 1 + (S - S[0]) if a_follows else 1 + np.cos(t / 3)
    for lo, hi in against:  # ‖A‖² moves against Λ over these steps
        dA = np.diff(A)
        dA[lo:hi] *= -1
        A = np.concatenate([[A[0]], A[0] + np.cumsum(dA)]) + 10
    cfg = dict(eta=ETA, n=N, steps_requested=steps)
    e, i = np.zeros(0), np.arange(steps + 1)
    tr = Trajectory(
        config=cfg,
        step=i,
        loss=L,
        a_norm2=A,
        fd=e,
        d_norm=e,
        d_top=e,
        f_top=e,
        sharpness_step=i,
        sharpness=S,
        sharpness_residual=0 * S,
        u1_overlap_init=0 * S + overlap,
        u1_v1_overlap=0 * S + v1_overlap,
        d_u1=d_u1,
        ga_step=i,
        ga_norm=np.concatenate([[ga_share if ga_init is None else ga_init], np.full(steps, ga_share)]) * S,
        hessian_step=e.astype(int),
        hessian_sharpness=e,
        eigvals_K=e,
        y_top=e,
        family="torch",
        stopped="diverged at step 9: loss overflowed" if diverged else None,
    )
    fo = section3.FirstOrderObserver(ETA)
    fo.ratios = list(np.full(steps, first_order))
    late = np.arange(steps) >= ps
    fo.stale_ratios = list(
        np.where(late, 100 * first_order, first_order) if stale is None else np.full(steps, stale)
    )
    return section3.Evidence.of(tr, fo)


def verdicts(ev):
    return {v.claim: v for v in section3.judge_run(ev)}


def test_a_run_in_the_regime_with_the_papers_shape_reproduces_every_claim():
    ev = run()
    assert ev.regime.first_crossing == 200 and len(ev.regime.crossings) >= 20
    got = verdicts(ev)
    not_reproduced = {
        k: (v.verdict, v.reason) for k, v in got.items() if v.verdict != REPRODUCED and k != "s3.anomalies"
    }
    assert not not_reproduced, not_reproduced
    # A3.1 held at every step: fewer than 10 disagreements are not comparable, not "differs"
    assert got["s3.anomalies"].verdict == NOT_COMPARABLE and "fewer than 10" in got["s3.anomalies"].reason
    for v in got.values():
        assert isinstance(v, Verdict) and v.paper_quote and v.rule


# Each rule on its control: where the phenomenon is absent, the rule must say so ("differs"), or
# its row is consistency. The paper-shaped run's controls, one per rule:
CONTROLS_THAT_FAIL = (
    "s3.ps_then_eos",  # windows swapped: the PS test on the oscillating EoS, the hover test on PS
    "s3.four_phases",  # the loss rotated against Λ: its catapults no longer follow the phases
    "s3.a31.oscillations",  # ΔΛ and Δ‖A‖² paired at random in the oscillations: chance agreement
    "s3.loss_split",  # the u₁ part rotated against the loss: the rest carries the rises
    "s3.a32",  # the previous step's first-order term: wrong by the period-2 flip in the EoS
    "s3.a35",  # u₁ against a direction it is not near (the data's top direction, here orthogonal)
)


@pytest.mark.parametrize("claim", CONTROLS_THAT_FAIL)
def test_on_the_papers_shape_each_rule_fails_on_its_control_and_stays_a_reproduction(claim):
    v = verdicts(run())[claim]
    assert v.verdict == REPRODUCED, v.reason
    assert v.control is not None and v.control["verdict"] == DIFFERS, v.control
    assert v.kind == "reproduction" and "consistency" not in v.reason


@pytest.mark.parametrize(
    "change, claim, why",
    [
        # in PS Λ and ‖A‖² both rise at every step: any pairing of their steps agrees
        (dict(), "s3.a31.ps", "paired at random"),
        # ‖G_A‖/Λ was as small at initialisation: the rule says nothing about training
        (dict(ga_share=0.01), "s3.ga_small", "initialisation"),
        # u₁ as close to the data's top direction as to u₁(0): the data pin it
        (dict(v1_overlap=0.999), "s3.a35", "top direction"),
        # the stale first-order term as good as the current one: no dynamics resolved
        (dict(stale=0.01), "s3.a32", "previous step"),
    ],
)
def test_a_rule_that_holds_on_its_control_is_consistency(change, claim, why):
    v = verdicts(run(**change))[claim]
    assert v.verdict == REPRODUCED, v.reason
    assert v.control["verdict"] == REPRODUCED and why in v.control["what"]
    assert v.kind == "consistency" and "holds on its control" in v.reason


def test_ga_small_is_a_reproduction_when_g_a_was_large_at_init():
    v = verdicts(run(ga_init=0.5))["s3.ga_small"]
    assert v.verdict == REPRODUCED and v.control["verdict"] == DIFFERS and v.kind == "reproduction"


@pytest.mark.parametrize(
    "change, claim",
    [
        (dict(a_follows=False), "s3.a31.oscillations"),
        (dict(ga_share=0.5), "s3.ga_small"),
        (dict(rest_rises=True), "s3.loss_split"),
        (dict(overlap=0.9), "s3.a35"),
        (dict(first_order=0.3), "s3.a32"),
    ],
)
def test_a_run_in_the_regime_that_breaks_a_claim_differs_on_it(change, claim):
    got = verdicts(run(**change))
    assert got[claim].verdict == DIFFERS, got[claim].reason
    assert got["s3.ps_then_eos"].verdict == REPRODUCED  # the regime is the paper's


def test_a31_is_judged_in_ps_and_in_the_first_oscillations_apart():
    # ‖A‖² against Λ in the oscillations only: PS agrees, the oscillation window differs
    got = verdicts(run(against=[(200, 400)]))
    assert got["s3.a31.ps"].verdict == REPRODUCED
    assert got["s3.a31.oscillations"].verdict == DIFFERS, got["s3.a31.oscillations"].reason


def test_the_non_monotone_decrease_is_read_off_the_envelope_not_the_last_step():
    ev = run()
    L = ev.traj.loss.copy()
    L[-1] = L[ev.regime.first_crossing] * 1.5  # the run ends inside a catapult
    tr = dataclasses.replace(ev.traj, loss=L)
    assert section3.ps_then_eos(section3.Evidence.of(tr, ev.first_order)).verdict == REPRODUCED


def test_anomalies_against_the_agreeing_steps():
    # disagreements only in the last fifth of the run: all of kind (c) "late", far more than the
    # agreeing steps -> reproduced; a block of disagreements inside PS (neither a trend change of
    # ‖A‖², nor an oscillation, nor late) -> differs
    late = section3.anomalies(run(against=[(820, 1000)]))
    assert late.verdict == REPRODUCED, late.reason
    assert "180 disagreements" in late.reason and "other 0" in late.reason
    assert late.control["verdict"] == DIFFERS and late.control["number"] < 0.5
    early = section3.anomalies(run(against=[(40, 140)]))
    assert early.verdict == DIFFERS, early.reason


@pytest.mark.parametrize(
    "change, why",
    [
        (dict(ps=20), "PS lasted 20 steps"),
        (dict(ps=2000, steps=1000), "never exceeded 2"),
        (dict(start=2.5, ps=0), "starts above 2/η"),
        (dict(diverged=True), "diverged"),
        (dict(period=2000), "fewer than the 3 oscillations"),
    ],
)
def test_runs_outside_the_regime_are_not_comparable_on_every_claim(change, why):
    for v in section3.judge_run(run(**change)):
        assert v.verdict == NOT_COMPARABLE and why in v.reason and v.number is None, (v.claim, v.reason)


def test_unmeasured_quantities_are_not_applicable():
    ev = run()
    tr = ev.traj
    bare = section3.Evidence(tr, Regime.of(tr))  # no A3.2 ratios, no u₁ overlaps
    assert section3.a32(bare).verdict == NOT_APPLICABLE
    assert section3.a35(bare).verdict == NOT_APPLICABLE


def test_a_verdict_outside_the_four_is_refused():
    with pytest.raises(ValueError, match="verdict="):
        Verdict("x", "t", "p", "reproduction", "held", None, "", "", "")


def test_a_run_that_recorded_no_step_is_not_comparable_not_a_crash():
    ev = run(diverged=True)
    empty = dataclasses.replace(
        ev.traj,
        **{k: getattr(ev.traj, k)[:0] for k in COMMON},
    )
    for v in section3.judge_run(section3.Evidence.of(empty)):
        assert v.verdict in (NOT_COMPARABLE, NOT_APPLICABLE), (v.claim, v.reason)
        assert v.verdict == NOT_APPLICABLE or "diverged" in v.reason, (v.claim, v.reason)
