"""Issue 31, item 5 ("no escapes"): the rules of the 10× init, Ê against width, freezing and the
label experiments, each on its control — where the claimed phenomenon is absent the rule must not
say "reproduced" (a rule that cannot tell the run from its control is consistency, not a
reproduction) — and on the runs outside the claim's regime ("not comparable")."""

from __future__ import annotations

import numpy as np
import pytest

from validation.experiments import Context, e_hat_width, freezing, labels, large_init
from validation.rules import NotComparable
from validation.scorecard import facts_of
from validation.verdicts import Regime


def _regime(first=200, crossings=(200, 300, 400), eta_lambda0=1.9, steps=5000, stopped=None):
    return Regime(
        eta=1.0,
        eta_lambda0=eta_lambda0,
        steps=steps,
        first_crossing=first,
        crossings=tuple(crossings),
        stopped=stopped,
    ).as_dict()


@pytest.fixture(scope="module")
def tiny_ctx(tmp_path_factory):
    return Context(str(tmp_path_factory.mktemp("escapes")), tiny=True, progress=lambda s: None)


# ---- 10× init ----------------------------------------------------------------------------------


def _li_run(**kw):
    run = dict(
        regime=_regime(first=3000, crossings=(3000, 4000)),  # two crossings: no count is needed
        eta_lambda0=1.97,
        max_eta_lambda=2.06,
        ps_ratio=1.015,
        loss_rises_eos=500,
        loss_start=2.6,
        loss_end=0.17,
        W_move=0.003,
        median_eta_lambda_eos=2.001,
        eos_steps=1999,
        loss_at_crossing=0.23,
        loss_min_eos=0.17,
    )
    run.update(kw)
    return run


def test_large_init_hovering_run_with_w_still_reproduces_on_two_crossings():
    got = large_init.judge_runs({"c = 1.97": _li_run()})
    assert got["verdict"] == "reproduced" and got["number"] == pytest.approx(0.003)


@pytest.mark.parametrize(
    "bad",
    [
        dict(W_move=0.3),  # the standard init's movement: the control
        dict(median_eta_lambda_eos=1.7),  # settles below 2/η
        dict(loss_rises_eos=0),  # monotone loss
        dict(loss_min_eos=0.23),  # the envelope does not fall over the EoS
    ],
)
def test_large_init_rule_fails_where_a_part_of_the_claim_is_absent(bad):
    assert large_init.judge_runs({"c": _li_run(**bad)})["verdict"] == "differs"


def test_large_init_runs_below_the_eos_are_not_comparable_and_say_what_was_tried():
    never = _li_run(
        regime=_regime(first=None, crossings=()),
        median_eta_lambda_eos=None,
        eos_steps=0,
        max_eta_lambda=1.993,
        ps_ratio=1.0006,
    )
    short = _li_run(regime=_regime(first=40, crossings=(40,)))
    got = large_init.judge_runs({"c = 1.99": never, "c = 1.9": short})
    assert got["verdict"] == "not comparable" and got["number"] is None
    assert "c = 1.99" in got["reason"] and "1.993" in got["reason"] and "PS lasted 40" in got["reason"]
    # one run in the regime decides; those outside are named
    got = large_init.judge_runs({"c = 1.99": never, "c = 1.97": _li_run()})
    assert got["verdict"] == "reproduced" and "outside the regime" in got["reason"]


def test_large_init_on_tiny_runs_its_control_is_not_reproduced(tiny_ctx):
    res = large_init.large_init(tiny_ctx)
    f = facts_of([res])
    rows = {r.fn.__name__: r.fn(f) for r in large_init.RULES}
    assert set(rows) == {"eos_large_init_suite", "eos_large_init_theory"}
    for row in rows.values():
        assert row["control"]["verdict"] != "reproduced" and row["control"]["what"] and row["network"]
        assert row["control"]["number"] > large_init.W_MOVE  # W × 1 moves: the statistic tells them apart
    # the theory scaling's W × 10 never reaches 2/η (G's W part is 100× its a part)
    th = rows["eos_large_init_theory"]
    assert th["verdict"] == "not comparable" and "never exceeded 2" in th["reason"]


# ---- Ê against width -------------------------------------------------------------------------


def _widths(eos, init, covered=True, regime=None):
    return dict(
        widths={
            m: dict(
                regime=regime or _regime(),
                median_e_hat_eos=e,
                e_hat_init=i,
                max_e_hat=e,
                W_move=0.1,
                eos_window=2000,
                eos_window_covered=covered,
            )
            for m, e, i in zip((50, 100, 200, 400), eos, init, strict=True)
        }
    )


def _facts(**exps):
    return {k: dict(metrics=v, checks={}) for k, v in exps.items()}


def test_e_hat_control_at_init_demotes_a_width_trend_that_init_already_has():
    # Ê(0) falling like 1/√m: the rule "reproduces" on its control too (consistency)
    f = _facts(e_hat_width=_widths((0.7, 0.5, 0.35, 0.25), (0.2, 0.14, 0.1, 0.07)))
    row = e_hat_width.e_hat_shrinks(f)
    assert row["verdict"] == "reproduced" and row["control"]["verdict"] == "reproduced"
    # Ê(0) with no width trend (the photographs at seed 0: 0.114, 0.119, 0.050, 0.058): the control differs
    f = _facts(e_hat_width=_widths((0.7, 0.5, 0.35, 0.25), (0.114, 0.119, 0.050, 0.058)))
    row = e_hat_width.e_hat_shrinks(f)
    # (only on monotonicity: its slope, −0.42, is as steep as the rule asks — see the report)
    assert row["verdict"] == "reproduced" and row["control"]["verdict"] == "differs"


def test_e_hat_needs_every_width_in_its_eos_over_the_same_window():
    with pytest.raises(NotComparable, match="m = 400"):
        e_hat_width.e_hat_shrinks(
            _facts(e_hat_width=_widths((0.7, 0.5, 0.35, 0.25), (0.1,) * 4, covered=False))
        )
    no_eos = _regime(first=None, crossings=())
    with pytest.raises(NotComparable, match="EoS"):
        e_hat_width.e_hat_shrinks(
            _facts(e_hat_width=_widths((0.7, 0.5, 0.35, 0.25), (0.1,) * 4, regime=no_eos))
        )
    # a width whose median rises (the full-size run's m = 400 over its whole 12,000 steps) differs
    row = e_hat_width.e_hat_shrinks(_facts(e_hat_width=_widths((0.53, 0.24, 0.22, 0.32), (0.1,) * 4)))
    assert row["verdict"] == "differs"


# ---- freezing --------------------------------------------------------------------------------


def _fr(rate, osc, regime=None):
    return dict(
        ps_rate=rate,
        ps_rate_per_step=None if rate is None else 0.1 * rate,
        eta=0.1,
        oscillation=osc,
        whole_ratio=50.0,
        regime=regime or _regime(first=150, crossings=(150, 200, 260)),
        eta_lambda0=0.125,
        trained_max_eta_lambda=2.3,
    )


def test_freezing_rule_on_its_control_two_unfrozen_seeds_is_not_reproduced():
    # the control: no freezing, two seeds whose numbers differ by noise (here 2% and 3%)
    got = freezing.judge_sequence([("seed 0", _fr(0.010, 0.040)), ("seed 1000", _fr(0.0098, 0.0388))])
    assert got["verdict"] == "differs" and got["number"] > 1 - freezing.FREEZE_TOL
    # the claim: each more frozen layer lowers both by more than FREEZE_TOL
    seq = [("frozen 0", _fr(0.010, 0.040)), ("frozen 1", _fr(0.006, 0.030)), ("frozen 2", _fr(0.004, 0.020))]
    assert freezing.judge_sequence(seq)["verdict"] == "reproduced"
    # slower PS but not weaker oscillation: differs
    seq[2] = ("frozen 2", _fr(0.004, 0.035))
    assert freezing.judge_sequence(seq)["verdict"] == "differs"


def test_freezing_frozen_runs_that_never_reach_their_own_eos_are_not_comparable():
    below = _regime(first=None, crossings=(), eta_lambda0=0.06, steps=800)
    got = freezing.judge_sequence([("frozen 0", _fr(0.01, 0.04)), ("frozen 1", _fr(None, None, below))])
    assert (
        got["verdict"] == "not comparable" and "frozen 1" in got["reason"] and "frozen 0" not in got["reason"]
    )


def test_freezing_reads_the_regime_on_the_trained_layers_sharpness():
    from types import SimpleNamespace

    T = 300
    whole = np.linspace(1.0, 30.0, T + 1)  # the whole Λ: far above 2/η (η = 1) from step 2 on
    trained = np.concatenate([np.linspace(1.0, 2.1, 151), 2.0 + 0.1 * (-1.0) ** np.arange(T - 150)])
    tr = SimpleNamespace(
        sharpness=whole,
        specific={"trained_sharpness": trained},
        sharpness_step=np.arange(T + 1),
        step=np.arange(T + 1),
        eta=1.0,
        steps=T,
        stopped=None,
        loss=np.ones(T + 1),
    )
    facts = freezing.run_facts(tr, (0,), 1.0)
    assert facts["regime"]["first_crossing_step"] > 100  # not step 2, where the whole Λ crosses
    assert freezing.outside(facts) is None and facts["ps_rate"] > 0
    # PS speed per unit of flow time ηt: the runs' own step sizes do not decide it
    assert facts["ps_rate"] == pytest.approx(facts["ps_rate_per_step"] / tr.eta)


# ---- labels ----------------------------------------------------------------------------------


def _below(degree, converged, outside=None):
    return dict(
        degree=degree,
        converged=converged,
        max_eta_lambda=0.5,
        steps=1000,
        outside=outside,
        steps_to_1pct_loss=10 if converged else None,
    )


def test_labels_control_two_runs_of_one_alignment_is_not_reproduced():
    # the bottom label from two inits: the same alignment, growths that differ by noise
    v, ratio, _ = labels.compare_growth(
        _below(2.31, True), _below(2.35, True), "bottom (other init)", "bottom"
    )
    assert v == "differs" and ratio == pytest.approx(1.31 / 1.35)
    # a strict "<" would have called this reproduced; the growth ratio needs a factor
    assert labels.compare_growth(_below(1.03, True), _below(9.2, False), "top", "bottom")[0] == "reproduced"
    # a bottom label that is never learnt (degree 1.000) leaves nothing to compare
    v, _, why = labels.compare_growth(_below(1.03, True), _below(1.0, False), "top", "bottom")
    assert v == "not comparable" and "bottom" in why


def test_labels_bottom_eigenvector_is_the_smallest_learnable_one():
    evals = np.array([2e-7, 1e-5, 5e-4, 2e-3, 0.1, 1.0])  # ascending, as eigh returns them
    i = labels.bottom_index(evals, 0.2, 20000)  # floor ln(10)/(0.2·10,000) = 1.15e-3
    assert i == 3 and evals[i] >= 1e-3 > evals[i - 1]
    assert labels.bottom_index(evals, 0.2, 20_000_000) == 1  # a longer run can learn a smaller one


def test_labels_on_tiny_runs_the_control_is_not_reproduced(tiny_ctx):
    res = labels.labels(tiny_ctx)
    row = labels.label_alignment(facts_of([res]))
    assert row["control"]["verdict"] != "reproduced" and row["network"] == "linear"
    assert (
        res.metrics["bottom_eigenvector"]["eigenvalue_over_top"]
        >= res.metrics["bottom_eigenvector"]["smallest_over_top"]
    )
