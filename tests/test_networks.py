"""validation.experiments.fc_nets: the deep-FC experiments at a tiny size, and the A3.1 / App. B.2 rules."""
import os

import numpy as np
import pytest

from validation.experiments import Context, ExperimentResult, fc_nets as N

# ---- A3.1 agreement rule --------------------------------------------------------------------

def test_agreement_same_direction_counts_and_differs():
    S = np.array([1.0, 2.0, 3.0, 2.5, 2.6])
    A = np.array([1.0, 1.1, 1.2, 1.3, 1.4])   # A rises throughout; Λ falls at step 2→3
    codes, s = N.a31_agreement(S, A)
    assert codes.tolist() == [N.AGREE, N.AGREE, N.DIFFER, N.AGREE]
    assert s["agree"] == 3 and s["differ"] == 1 and s["rate"] == pytest.approx(0.75)
    assert s["died_at"] is None and s["collapsed_at"] is None


def test_agreement_ties_are_excluded():
    S = np.array([1.0, 1.0 + 1e-14, 2.0])
    A = np.array([1.0, 0.9, 1.0])   # the first ΔΛ is a tie: excluded, not a disagreement
    codes, s = N.a31_agreement(S, A)
    assert codes.tolist() == [N.TIE, N.AGREE]
    assert s["ties"] == 1 and s["rate"] == 1.0


def test_agreement_dead_relu_net_is_not_agreement():
    S = np.array([1.0, 2.0, 0.0, 0.0, 0.0])    # all units off: Λ = 0 and nothing moves
    A = np.array([1.0, 1.1, 1.0, 1.0, 1.0])
    codes, s = N.a31_agreement(S, A)
    assert codes.tolist() == [N.AGREE, N.DEAD, N.DEAD, N.DEAD]
    assert s["died_at"] == 2 and s["collapsed_at"] == 2 and s["agree"] == 1 and s["rate"] == 1.0
    _, s2 = N.a31_agreement(np.zeros(4), np.ones(4))
    assert np.isnan(s2["rate"]) and s2["dead"] == 3


def test_agreement_nearly_dead_net_is_flagged():
    S = np.array([1.0, 2.0, 1e-5, 2e-5])
    codes, s = N.a31_agreement(S, np.array([1.0, 1.1, 1.0, 1.2]))
    assert s["died_at"] is None and s["collapsed_at"] == 2 and codes[-1] == N.DEAD


def test_agreement_rejects_bad_shapes():
    with pytest.raises(ValueError):
        N.a31_agreement(np.ones(3), np.ones(4))


# ---- App. B.2 classification ------------------------------------------------------------------

def _classify(S, A, L, t):
    kinds, counts = N.classify_disagreements(S, A, L, steps=[t])
    assert sum(counts.values()) == 1
    return kinds[t]


def test_kind_trend_change():
    T = 60
    A = np.concatenate([np.linspace(1, 2, 30), np.linspace(2, 1, 30)[1:], [1.0]])  # peak at 29
    S = np.linspace(1, 3, T)   # smooth: no oscillation
    L = np.ones(T)
    assert _classify(S, A, L, 29) == "trend_change"
    assert _classify(S, A, L, 10) == "other"


def test_kind_oscillation():
    T = 60
    S = 2 + 0.01 * (-1.0) ** np.arange(T)     # ΔΛ flips sign every step
    A = np.linspace(1, 2, T)                  # A rises steadily: no trend change
    L = np.ones(T)
    assert _classify(S, A, L, 20) == "oscillation"


def test_kind_late_by_time_and_by_loss():
    T = 100
    S, A = np.linspace(1, 3, T), np.linspace(1, 2, T)
    L = np.ones(T)
    assert _classify(S, A, L, 85) == "late"
    L2 = np.ones(T)
    L2[40:] = 1e-3
    assert _classify(S, A, L2, 50) == "late"
    assert _classify(S, A, L2, 30) == "other"


def test_classify_defaults_to_the_differ_steps():
    T = 40
    S = np.linspace(1, 3, T)
    S[20] = S[19] - 0.01                      # one step where Λ dips while A rises
    A = np.linspace(1, 2, T)
    kinds, counts = N.classify_disagreements(S, A, np.ones(T))
    # the dip is a down-then-up zig-zag of Λ: ΔΛ flips at consecutive steps → "oscillation"
    assert kinds == {19: "oscillation"} and counts["oscillation"] == 1 and set(counts) == set(N.KINDS)


# ---- the experiments at a tiny size -------------------------------------------------------------

HEADLINE_KEYS = {
    "fc_activations": {"tanh_a31_rate", "relu_a31_rate", "elu_a31_rate", "relu_dead"},
    "ga_vs_g": {"linear_median_ga_over_g", "linear_max_ga_over_g", "tanh_median_ga_over_g",
                "tanh_max_ga_over_g"},
    "a31_anomalies": {"a31_rate", "kind_trend_change", "kind_oscillation", "kind_late", "kind_other",
                      "agreeing_kind_trend_change", "agreeing_kind_other"},
}


@pytest.fixture(scope="module")
def tiny_ctx(tmp_path_factory):
    return Context(str(tmp_path_factory.mktemp("nets")), tiny=True, progress=lambda s: None)


@pytest.mark.parametrize("name", list(N.EXPERIMENTS))
def test_each_network_experiment_at_a_tiny_size(tiny_ctx, name):
    res = N.EXPERIMENTS[name](tiny_ctx)
    assert isinstance(res, ExperimentResult) and res.name == name and res.config and res.notes
    assert HEADLINE_KEYS[name] <= set(res.metrics["headline"])
    for f in res.figures:
        assert os.path.getsize(f) > 1000
    assert res.failures() == []


def test_ga_never_exceeds_g(tiny_ctx):
    """G_A ⪯ G, so λ_max(G_A) ≤ Λ up to the two eigensolvers' errors: the linear net in float64,
    the FC net in the suite's float32 (fc_nets.DTYPE)."""
    from linnet.tolerances import tol
    from validation.experiments.fc_nets import DTYPE

    h = N.EXPERIMENTS["ga_vs_g"](tiny_ctx).metrics["headline"]
    assert 0 < h["linear_max_ga_over_g"] <= 1 + tol("eigenvalue-order", "float64")
    assert 0 < h["tanh_max_ga_over_g"] <= 1 + tol("eigenvalue-order", DTYPE)
