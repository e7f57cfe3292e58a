"""The statement rows of the scorecard (issue 31, items 2, 4 and 7): Lemmas 3.2, 3.4 and 3.5 on the
first-order update, checked against a dense, independent GD in sample space; the replay window;
Theorem 2.1 and Theorem 1 on the whole run, Theorem 1 with its control; condition (20) as a profile;
the catapult and the statement rule's text."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

import linnet
import theory
from theory.assumptions import episode_eps
from theory.constants import Constants
from theory.lemmas import lemma_3_2, lemma_3_2_exact, lemma_3_4, lemma_3_5, lemma_c13, theorem_1
from theory.phases import phase_two_starts
from theory.record import record_params, record_run
from theory.results import CheckTable, make_result
from validation import scorecard as sc
from validation.experiments.catapult import catapult_window
from validation.experiments.context import replay_window
from validation.experiments.lemma_e7 import COND20_AVOID, cond20_profile

from small_problems import eos_problem

# ---- an independent GD: sample space, dense G, eigh at every step --------------------------------


def _gd(X, Y, W, a, eta, steps, alpha):
    """Literal GD (eq. 6) on (W, a) from the start given: the parameters at t = 0 … steps."""
    n = X.shape[1]
    Ws, As = [W], [a]
    for _ in range(steps):
        Z = W @ X
        D = alpha * Z.T @ a - Y
        W, a = W - eta * alpha * np.outer(a, X @ D) / n, a - eta * alpha * Z @ D / n
        Ws.append(W)
        As.append(a)
    return Ws, As


def _dense(X, Y, Ws, As, alpha):
    """Per step, in R^n: D, G D, Λ, λ₂ and u₁ of the dense G = α²(ZᵀZ/n + ‖a‖²K) (eigh), u₁'s sign
    aligned step to step."""
    n = X.shape[1]
    K = X.T @ X / n
    out = {k: [] for k in ("D", "GD", "lam", "lam2", "u1")}
    prev = None
    for W, a in zip(Ws, As, strict=True):
        Z = W @ X
        D = alpha * Z.T @ a - Y
        G = alpha**2 * (Z.T @ Z / n + (a @ a) * K)
        lam, U = np.linalg.eigh(G)
        u = U[:, -1]
        if prev is not None and u @ prev < 0:
            u = -u
        prev = u
        for k, v in (("D", D), ("GD", G @ D), ("lam", lam[-1]), ("lam2", lam[-2]), ("u1", u)):
            out[k].append(v)
    return {k: np.array(v) for k, v in out.items()}


@pytest.fixture(scope="module")
def eos_pair():
    """An EoS run of the small problem (symmetric init, ηΛ(0) = 1.9): its record (from the
    parameters, theory.record.record_params) and the dense quantities on the same parameters."""
    X, Y, W, a, eta = eos_problem()
    alpha = linnet.resolve_alpha(None, W.shape[0])
    Ws, As = _gd(X, Y, W, a, eta, 200, alpha)
    rec = record_params(X, Y, Ws, As, eta=eta)
    return rec, _dense(X, Y, Ws, As, alpha), eta


def test_record_and_dense_agree(eos_pair):
    rec, d, eta = eos_pair
    assert np.allclose(rec.sharpness, d["lam"], rtol=1e-9)
    assert np.allclose(rec.d_norm, np.linalg.norm(d["D"], axis=1), rtol=1e-9)
    assert (eta * d["lam"] > 2).sum() > 20  # the run is in the EoS


def test_lemma_3_2_on_the_first_order_update_matches_a_dense_check(eos_pair):
    """The lemma's bound with D⁺ = D − ηGD holds at every step with ηΛ > 2 for ε the per-episode
    largest u₁ change (proved by Cauchy–Schwarz), computed here from dense eigh; the check agrees."""
    rec, d, eta = eos_pair
    u, D = d["u1"], d["D"]
    Dfo = D[:-1] - eta * d["GD"][:-1]
    ch = np.linalg.norm(u[1:] - u[:-1], axis=1)
    t0 = phase_two_starts(d["lam"], eta)
    edges = np.unique(np.concatenate([[0], t0[t0 < ch.size], [ch.size]]))
    eps = np.zeros(ch.size)
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        eps[lo:hi] = ch[lo:hi].max()
    x = eta * d["lam"][:-1]
    rhs = (x - 1) * np.abs(np.sum(D[:-1] * u[:-1], axis=1)) - eps * np.linalg.norm(Dfo, axis=1)
    lhs = np.abs(np.sum(Dfo * u[1:], axis=1))
    prem = (x > 2) & (rhs > 0)
    assert prem.sum() >= 3
    assert np.all(lhs[prem] >= rhs[prem] - 1e-9 * np.linalg.norm(Dfo[prem], axis=1))
    res = lemma_3_2(rec, Constants())
    assert res.kind == "rigorous" and res.status == "held"
    assert np.array_equal(res.premises, prem)
    margin = (lhs - rhs) / np.linalg.norm(Dfo, axis=1)
    assert np.allclose(res.margin[prem], margin[prem], atol=1e-7)
    assert np.allclose(episode_eps(rec)[1], eps, atol=1e-7)
    # A3.2's size, reported apart: the exact step's higher-order part along u₁⁺
    h = np.abs(np.sum((D[1:] - Dfo) * u[1:], axis=1))
    share = h / ((x - 1) * np.abs(np.sum(D[:-1] * u[:-1], axis=1)))
    assert res.fitted["a32_u1_share_max"] == pytest.approx(share[prem].max(), rel=1e-6)


def test_lemma_3_2_fails_when_the_first_order_update_is_wrong(eos_pair):
    rec, _, eta = eos_pair
    # a G D with the u₁ part cancelled: (I − ηG)D no longer grows along u₁
    du = np.sum(rec.D * rec.u1, axis=1)
    bad = dataclasses.replace(rec, GD=rec.GD + ((1 - eta * rec.sharpness) * du / eta)[:, None] * rec.u1)
    res = lemma_3_2(bad, Constants())
    assert res.status == "failed" and res.failed_steps.size > 0
    # the exact-GD form is a diagnostic: reported as a rate, never "failed"
    assert lemma_3_2_exact(rec, Constants()).kind == "empirical"


def test_lemma_3_4_on_the_first_order_update_matches_a_dense_check(eos_pair):
    rec, d, eta = eos_pair
    u, D = d["u1"], d["D"]
    Dfo = D[:-1] - eta * d["GD"][:-1]
    P0 = Dfo - np.sum(Dfo * u[:-1], axis=1)[:, None] * u[:-1]
    P1 = Dfo - np.sum(Dfo * u[1:], axis=1)[:, None] * u[1:]
    lhs = np.linalg.norm(P1 - P0, axis=1)
    eps = np.linalg.norm(u[1:] - u[:-1], axis=1).max()
    assert np.all(lhs <= 2 * eps * np.linalg.norm(Dfo, axis=1) + 1e-12)
    res = lemma_3_4(rec, Constants())
    assert res.kind == "rigorous" and res.status == "held" and res.applicable == rec.T
    assert res.fitted["needed_eps"] == pytest.approx(
        np.max(lhs / (2 * np.linalg.norm(Dfo, axis=1))), rel=1e-5
    )
    bad = dataclasses.replace(rec, u1=np.roll(rec.u1, 1, axis=1))  # u₁ no eigenvector: P_u(I − ηG) ≠ …
    assert lemma_3_4(bad, Constants()).status == "failed"


def test_lemma_3_5_with_a32s_part_matches_a_dense_recursion(eos_pair):
    """D̄(t+1) = (I − ηG_⊥)D̄(t) from D̃(t₀) at each entry into ηΛ > 2 (dense G_⊥ here); the gap
    stays within 2εB_D(t − t₀) + (1 + 2ε)Σ‖h‖, h the exact step's higher-order part."""
    rec, d, eta = eos_pair
    u, D, lam = d["u1"], d["D"], d["lam"]
    X, Y, W, a, _ = eos_problem()
    alpha = linnet.resolve_alpha(None, W.shape[0])
    Ws, As = _gd(X, Y, W, a, eta, 200, alpha)
    n = X.shape[1]
    K = X.T @ X / n
    eps = np.linalg.norm(u[1:] - u[:-1], axis=1).max()
    h = np.linalg.norm(D[1:] - (D[:-1] - eta * d["GD"][:-1]), axis=1)
    c = Constants()
    Dbar, t0, prev, checked = None, -1, False, 0
    for t in range(rec.T + 1):
        above = eta * lam[t] > 2
        Dt = D[t] - u[t] * (u[t] @ D[t])
        if above and not prev:
            Dbar, t0 = Dt.copy(), t
        if Dbar is not None:
            gap = np.linalg.norm(Dt - Dbar)
            assert gap == pytest.approx(rec.lemma35_gap[t], rel=1e-6, abs=1e-9 * np.linalg.norm(D[t]))
            w = slice(t0, t + 1)
            if np.all(eta * lam[w] <= c.K) and np.all(eta * d["lam2"][w] < 1):
                BD = np.linalg.norm(D[w], axis=1).max()
                assert gap <= 2 * eps * BD * (t - t0) + (1 + 2 * eps) * h[t0:t].sum() + 1e-9 * BD
                checked += 1
            Z = Ws[t] @ X
            G = alpha**2 * (Z.T @ Z / n + (As[t] @ As[t]) * K)
            Gp = G - lam[t] * np.outer(u[t], u[t])
            Dbar = Dbar - eta * Gp @ Dbar
        prev = above
    res = lemma_3_5(rec, c)
    assert checked > 0 and res.kind == "rigorous" and res.status == "held" and res.applicable == checked
    assert 0 <= res.fitted["a32_share_of_bound_max"] <= 1


# ---- the replay window and the whole-run statements ---------------------------------------------


def _fake_run(eta_lambda, every=1):
    S = np.asarray(eta_lambda, dtype=float)
    return SimpleNamespace(
        eta=1.0, sharpness=S, sharpness_step=np.arange(S.size) * every, steps=(S.size - 1) * every
    )


def test_replay_window_holds_ps_end_and_the_first_crossings():
    early = _fake_run(np.r_[np.linspace(1, 1.99, 200), np.full(2000, 2.1)])
    assert replay_window(early, 1000) == (0, 1000)  # PS fits: phase I replayed whole
    late = _fake_run(np.r_[np.linspace(1, 1.99, 766), np.full(2000, 2.1)])
    lo, hi = replay_window(late, 1000)
    assert (lo, hi) == (266, 1266) and lo < 766 < hi and hi - 766 >= 500
    never = _fake_run(np.full(300, 1.5))
    assert replay_window(never, 1000) == (0, 299)
    end = _fake_run(np.r_[np.linspace(1, 1.99, 1900), np.full(100, 2.1)])
    assert replay_window(end, 1000) == (999, 1999)  # the window stays inside the run


def test_a_window_replay_starts_from_the_runs_state():
    X, Y, W, a, eta = eos_problem()
    tr = linnet.train(X, Y, eta=0.5 * eta / 1.9, steps=120, W0=W, a0=a)  # ηΛ(0) = 0.5: a long PS
    full = record_run(X, Y, tr)
    win = record_run(X, Y, tr, start=50, steps=40)
    assert win.start == 50 and win.T == 40 and full.start == 0
    for k in ("loss", "sharpness", "a_norm2", "lambda_tilde"):
        assert np.allclose(getattr(win, k), getattr(full, k)[50:91], rtol=1e-10, atol=0), k
    assert np.array_equal(win.extras["run"]["lambda_tilde"], tr.lambda_tilde)
    assert record_run(X, Y, tr, start=100).T == 20  # to the end of the run by default


def test_lemma_3_1_reads_the_whole_run_from_a_later_window():
    """Phase I starts at step 0: a record of a later window evaluates Lemma 3.1 on the run's own
    series (⟨F,D⟩, ‖D‖, Λ, u₁'s overlap), as the record from step 0 does on its replay."""
    X, Y, W, a, eta = eos_problem()
    tr = linnet.train(X, Y, eta=0.5 * eta / 1.9, steps=120, W0=W, a0=a)
    full = theory.check_all(record_run(X, Y, tr))["Lemma 3.1"]
    late = theory.check_all(record_run(X, Y, tr, start=100))["Lemma 3.1"]
    assert full.status == late.status == "held" and full.applicable > 10
    assert abs(late.applicable - full.applicable) <= 1  # Λ and u₁ from the run's tracker at its tolerance
    n = min(full.applicable, late.applicable)
    assert np.allclose(late.margin[:n], full.margin[:n], rtol=1e-6, atol=1e-9)
    assert "whole run" in late.detail
    f32 = dataclasses.replace(record_run(X, Y, tr, start=100), extras={})
    assert theory.check_all(f32)["Lemma 3.1"].status == "not applicable"  # F(0) of the window ≠ 0


def test_theorem_2_1_reads_the_whole_run_from_a_window():
    X, Y, tr = _eos_traj(600)
    win = record_run(X, Y, tr, start=400, steps=30)
    lt = tr.eta * tr.lambda_tilde
    up = [t for t in range(lt.size) if lt[t] > 2 and (t == 0 or lt[t - 1] <= 2)]
    res = lemma_c13(win, Constants())
    assert res.fitted["excursions"] == len(up) >= 3
    assert res.steps.tolist() == up  # in the run's steps
    assert "whole run" in res.detail
    alone = lemma_c13(dataclasses.replace(win, extras={}), Constants())
    assert alone.fitted["excursions"] < len(up)  # the window alone sees fewer


def _eos_traj(steps):
    X, Y, W, a, eta = eos_problem()
    return X, Y, linnet.train(X, Y, eta=eta, steps=steps, W0=W, a0=a)


def test_theorem_1_on_the_whole_run_with_its_control():
    """Symmetric init, ηΛ(0) = 1.5: Λ̃ rises through phase I (held) and oscillates after it, where
    the same conclusion fails (the control); a run that never leaves phase I has no control. (At
    ηΛ(0) = 1.2 this problem's Λ̃ keeps rising past 2/η at a small loss: the control then holds too,
    and the scorecard makes the row consistency.)"""
    X, Y, W, a, eta = eos_problem()
    tr = linnet.train(X, Y, eta=1.5 * eta / 1.9, steps=400, W0=W, a0=a)
    assert (tr.eta * tr.lambda_tilde > 2).any()
    win = record_run(X, Y, tr, start=300, steps=20)
    res = theorem_1(win, Constants())
    assert res.status == "held" and res.applicable > 0 and res.steps.size == tr.steps
    dl = np.diff(tr.lambda_tilde)
    after = ~res.premises
    assert res.control["steps"] == after.sum() > 0 and res.control["status"] == "failed"
    assert res.control["held_share"] == pytest.approx(
        np.mean(dl[after] >= -1e-10 * np.abs(tr.lambda_tilde[:-1][after]))
    )
    short = linnet.train(X, Y, eta=0.3 * eta / 1.9, steps=30, W0=W, a0=a)
    res = theorem_1(record_run(X, Y, short), Constants())
    assert res.control["status"] == "not applicable"
    torch_init = dataclasses.replace(
        win, extras={**win.extras, "run": {**win.extras["run"], "symmetric_init": False}}
    )
    assert theorem_1(torch_init, Constants()).status == "not applicable"


# ---- the statement rule ---------------------------------------------------------------------------


def _facts(*tables):
    return {
        "ps_eos": dict(metrics={}, checks={f"t{i}": {r.name: r for r in t} for i, t in enumerate(tables)})
    }


def test_statement_rule_kinds_controls_and_text(eos_pair):
    rec, _, _ = eos_pair
    X, Y, tr = _eos_traj(300)
    t1, t2 = theory.check_all(rec), theory.check_all(record_run(X, Y, tr, start=100, steps=50))
    f = _facts(t1, t2)
    out = {n: sc.statement_rule(n)(f) for n in sc.STATEMENTS}
    for n, o in out.items():
        assert o["network"] == "linear", n
        assert "summed over the 2 runs" in o["threshold"], n
        assert o["verdict"] != "differs", (n, o["reason"])
    for n in ("Lemma 3.2", "Lemma 3.4", "Lemma 3.5", "Theorem 2.1 / Lemma C.13"):
        assert out[n]["kind"] == "consistency" and "control" not in out[n], n
    assert "near-tautological" in out["Theorem 2.1 / Lemma C.13"]["reason"]
    # A3.2's size beside the first-order statements' verdicts: the exact-GD diagnostic, pooled
    d = [t["Lemma 3.2 (exact GD)"] for t in (t1, t2)]
    held = sum(int(x.conclusion[x.premises].sum()) for x in d)
    assert f"held on {held}/{sum(x.applicable for x in d)} applicable steps" in out["Lemma 3.2"]["reason"]
    assert "A3.2's higher-order part" in out["Lemma 3.2"]["reason"]
    assert "on exact GD" in out["Lemma 3.5"]["reason"] and "of the bound" in out["Lemma 3.5"]["reason"]
    th1 = out["Theorem 1"]
    assert th1["kind"] == "reproduction"
    assert set(th1["control"]) == {"what", "number", "verdict"} and th1["control"]["verdict"] == "differs"
    a, b = t1["Lemma 3.4"].applicable, t2["Lemma 3.4"].applicable
    assert (
        out["Lemma 3.4"]["number"].startswith(f"{a + b}/")
        and f"({a} + {b} over 2 runs)" in out["Lemma 3.4"]["number"]
    )
    # the count is summed over the runs: 6 + 6 applicable steps reach MIN_STATEMENT_STEPS together
    six = make_result(
        "Theorem 1",
        "s",
        "theorem",
        np.arange(6),
        True,
        True,
        1.0,
        control=dict(what="c", steps=4, held_share=1.0, status="held"),
    )
    o = sc.statement_rule("Theorem 1")(_facts(CheckTable((six,)), CheckTable((six,))))
    assert o["verdict"] == "reproduced" and o["control"]["verdict"] == "reproduced"  # → demoted by score


def test_catapult_is_a_consistency_row():
    f = {"catapult": dict(metrics=dict(catapult_from=2.0, diverges_from=4.0, grid_step=0.1), checks={})}
    [e] = sc.score(f, [sc.Rule("c", "p", "catapult", catapult_window)])
    assert (e.verdict, e.kind) == ("reproduced", "consistency")


# ---- condition (20) as a profile -----------------------------------------------------------------


def _e7(rates, d0u1=0.2, steps=100):
    return {
        "lemma_e7": dict(
            metrics=dict(
                cond20_held_rate_by_direction=list(rates), window_steps=steps, cond20_d0_u1_share=d0u1
            ),
            checks={},
        )
    }


def test_cond20_profile_verdicts_and_control():
    top = cond20_profile(_e7([1.0] * 5 + [0.95] * 3 + [0.2] + [1.0] * 50 + [0.1] * 41))
    assert top["verdict"] == "reproduced" and top["number"].startswith("k = 8 of 100")
    assert "the last 41 do not" in top["number"] and "lost" in top["threshold"]
    # half the directions hold, in any order: a random order passes the rule as often → control passes
    assert top["control"]["verdict"] == "reproduced"
    sharp = cond20_profile(_e7([1.0] * 99 + [0.0]))
    assert sharp["verdict"] == "reproduced" and sharp["control"]["verdict"] == "differs"
    assert cond20_profile(_e7([0.5] + [1.0] * 99))["verdict"] == "differs"  # i = 1 fails on aligned labels
    assert cond20_profile(_e7([1.0] * 100))["verdict"] == "differs"  # even the last holds
    with pytest.raises(sc.NotComparable, match="avoid"):
        cond20_profile(_e7([0.1] + [1.0] * 99, d0u1=0.5 * COND20_AVOID / 10))
    with pytest.raises(sc.NotComparable):
        cond20_profile(_e7([1.0] * 99 + [0.0], steps=3))
