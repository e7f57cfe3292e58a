"""theory: SymPy identities, phases, checks (held / failed / not applicable) and property tests."""
import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import linnet
import theory
from linnet.tolerances import tol
from theory import identities as I
from theory.constants import Constants
from theory.phases import excursions, phase_intervals, phase_labels
from theory.record import record_params, record_run
from theory.strategies import problems

from small_problems import eos_problem

# ---- SymPy ---------------------------------------------------------------------------------

def test_every_identity_is_verified_symbolically():
    results = I.verify()
    assert [r.name for r in results] == [name for name, *_ in I.IDENTITIES]
    assert all(r.verified for r in results), [r.name for r in results if not r.verified]


def test_symbolic_check_rejects_wrong_identities():
    M = I._Model(2, 2, 2)
    W1, a1 = M.step()
    Z, F, D, K, G = M.parts()
    D1 = M.parts(W1, a1)[2]
    # I2 without its second-order term (G in place of G̃) is not an identity
    assert not I._zero(D1 - (M.eye(M.n) - M.eta * G) @ D)
    # I3 with the wrong sign of the η² term
    ZD = Z @ D
    c = M.inv_n
    wrong = -2 * M.eta * c * I._dot(F, D) - M.eta**2 * M.alpha**2 * c**2 * I._dot(ZD, ZD)
    assert I._dot(a1, a1) - I._dot(M.a, M.a) - wrong != 0


# ---- phases --------------------------------------------------------------------------------

def test_phase_labels_follow_the_rules():
    eta = 1.0
    S = np.array([1.0, 1.5, 1.9, 2.1, 2.3, 2.2, 2.05, 1.9, 1.7, 1.75, 1.8, 1.85, 1.9])
    L = np.array([5, 4, 3, 2.9, 3.5, 6, 8, 7, 4, 3.2, 2.95, 2.8, 2.7])
    lab = phase_labels(S, L, eta, loss_rtol=0.05)
    # I I I II II III III IV IV IV(loss 3.2 > 2.9*1.05) I I I
    assert lab.tolist() == [1, 1, 1, 2, 3, 3, 3, 4, 4, 4, 1, 1, 1]
    ints = phase_intervals(lab)
    assert [(p.phase, p.start, p.stop) for p in ints] == [("I", 0, 3), ("II", 3, 4), ("III", 4, 7),
                                                           ("IV", 7, 10), ("I", 10, 13)]
    assert excursions(S * eta, 2.0) == [(3, 7)]
    assert excursions(np.array([3.0, 1.0, 3.0]), 2.0) == [(0, 1), (2, None)]


# ---- checks on real runs --------------------------------------------------------------------

def eos_run(steps=300, seed=0):
    X, Y, W, a, eta = eos_problem(seed=seed)
    return X, Y, linnet.train(X, Y, eta=eta, steps=steps, W0=W, a0=a)


@pytest.fixture(scope="module")
def eos_record():
    X, Y, tr = eos_run()
    return tr, record_run(X, Y, tr, flow=True)


def test_record_replays_the_trajectory(eos_record):
    tr, rec = eos_record
    assert rec.T == tr.steps
    assert np.max(np.abs(rec.loss - tr.loss)) <= tol("replay") * tr.loss.max()
    assert np.max(np.abs(rec.sharpness - tr.sharpness) / tr.sharpness) < tol("cross-implementation-eos")
    assert np.max(np.abs(rec.a_norm2 - tr.a_norm2)) <= tol("replay") * tr.a_norm2.max()


def test_record_from_own_parameters_matches_replay():
    X, Y = linnet.make_data("cifar-like", n=20, d=30, seed=1)
    W, a = linnet.init_params(16, X, scheme="symmetric", seed=1)
    eta = 1.5 / linnet.sharpness(W, a, X)
    Ws, As = [W], [a]
    for _ in range(30):
        W, a = linnet.gd_step(W, a, X, Y, eta)
        Ws.append(W)
        As.append(a)
    mine = record_params(X, Y, Ws, As, eta=eta)
    replay = record_run(X, Y, W0=Ws[0], a0=As[0], eta=eta, steps=30)
    for name in ("loss", "sharpness", "a_norm2", "fd", "e_hat_norm", "lambda2"):
        x, y = getattr(mine, name), getattr(replay, name)
        assert np.max(np.abs(x - y)) <= tol("record-identity") * np.abs(y).max(), name


def test_check_all_on_an_eos_run(eos_record):
    tr, rec = eos_record
    table = theory.check_all(rec)
    names = [r.name for r in table]
    for must in ("A3.1", "A3.2", "A3.3", "A3.4", "A3.5", "A3.6", "A3.7", "A4.1", "A4.2", "A4.3", "A4.4",
                 "A4.5", "cond (20)", "Lemma 3.1", "Lemma 3.2", "Lemma 3.3", "Lemma 3.4", "Lemma 3.5",
                 "Prop. 3.1", "Prop. 3.2", "Decomposition (4) / I12", "Corollary C.1", "Corollary C.2",
                 "Lemma C.3 (1)", "Lemma C.3 (2) / I6", "Lemma C.3 (3)", "Lemma C.8", "Lemma C.9",
                 "Theorem 2.3 / Lemma C.10", "Theorem 2.2 / Lemma C.11", "Lemma C.12",
                 "Theorem 2.1 / Lemma C.13", "Theorem 1"):
        assert must in names, must
    assert table.failures() == [], [(r.name, r.worst_step) for r in table.failures()]
    for r in table:
        assert r.status in ("held", "failed", "not applicable", "empirical", "not evaluated")
        if r.kind == "identity":
            assert r.status == "held", r.name
    assert table["A3.4"].fitted["K"] == pytest.approx(tr.eta * tr.sharpness.max())
    assert "A3.1" in table.format() and table.markdown().startswith("| check |")


def test_check_all_from_a_saved_trajectory_and_cli(tmp_path, capsys):
    X, Y, tr = eos_run(steps=60)
    path = tmp_path / "t.npz"
    tr.save(path, data=(X, Y))
    table = theory.check_all(linnet.load_trajectory(path), flow=False)
    assert table["A3.3"].status == "not evaluated"
    from theory.__main__ import main
    assert main(["check", str(path), "--no-flow"]) == 0
    assert "Corollary C.1" in capsys.readouterr().out
    tr.save(tmp_path / "nodata.npz")
    with pytest.raises(ValueError, match="needs the data"):
        theory.check_all(linnet.load_trajectory(tmp_path / "nodata.npz"))


# ---- each check: not applicable when its premises fail, failed when its conclusion does ----

def R(rec, **kw):
    return dataclasses.replace(rec, **kw)


def _corrupt(rec):
    T1 = rec.T + 1
    eta = rec.eta
    big_d = np.full(T1, 3 * rec.y_norm)
    u_perp = np.zeros_like(rec.u1)
    u_perp[:, 1] = 1.0
    return {
        # name: (record violating the premises, record violating the conclusion)
        "Prop. 3.1": (R(rec, d_norm=np.full(T1, 0.5 * rec.y_norm)), R(rec, d_norm=big_d, fd=-np.ones(T1))),
        "Prop. 3.2": (R(rec, d_norm=np.full(T1, 0.5 * rec.y_norm)), R(rec, d_norm=big_d, fd=-big_d**2)),
        "Lemma 3.3": (R(rec, sharpness=np.full(T1, 3 / eta)), R(rec, GD=-10 / eta * rec.D)),
        "Corollary C.1": (None, R(rec, e_hat_norm=np.zeros(T1))),
        "Corollary C.2": (R(rec, e_hat_norm=np.full(T1, 1e6)),
                          R(rec, u1=u_perp, e_hat_norm=np.full(T1, 1e-12))),
        "Theorem 2.3 / Lemma C.10": (R(rec, lambda_tilde=np.full(T1, 1 / eta)),
                                     R(rec, e_hat_norm=np.zeros(T1))),
        "Theorem 2.2 / Lemma C.11": (R(rec, lambda_tilde=np.zeros(T1)),
                                     R(rec, lambda_tilde=np.full(T1, 3 / eta), e_hat_norm=np.zeros(T1),
                                       a_norm2=np.full(T1, 10 / (eta * rec.alpha**2 * rec.lam[0])),
                                       fd=np.zeros(T1),
                                       D=rec.D * (0.5 ** np.arange(T1))[:, None])),
        "Lemma C.12": (R(rec, c12=np.tile([1.0, 0.0, 0.0], (T1, 1))),
                       R(rec, c12=np.tile([-1.0, 0.0, 0.0], (T1, 1)),
                         lambda_tilde=np.arange(T1, dtype=float))),
        # (extras={}: these two read the whole run's Λ̃ where the record carries it)
        "Theorem 2.1 / Lemma C.13": (R(rec, extras={}, lambda_tilde=np.where(np.arange(T1) > rec.T - 3,
                                                                        3 / eta, 1 / eta)),
                                     R(rec, extras={},
                                       lambda_tilde=np.where(np.arange(T1) > 0, 3 / eta, 1 / eta))),
        "Theorem 1": (R(rec, extras={}, symmetric_init=False),
                      R(rec, extras={}, lambda_tilde=np.linspace(1.0, 0.5, T1) / eta,
                        loss=np.linspace(1, 0.5, T1))),
        "Lemma 3.1": (R(rec, f0_norm=1.0), R(rec, sharpness=np.full(T1, 0.5 / eta), fd=np.ones(T1),
                                            u1=np.tile(rec.u1[0], (T1, 1)))),
        "I2 / Lemma C.1": (None, R(rec, D=rec.D * 1.001)),
        "I3": (None, R(rec, a_norm2=rec.a_norm2 * (1 + 1e-6))),
        "I5 / eq. 17": (None, R(rec, lambda_tilde=rec.lambda_tilde * (1 + 1e-6))),
        "Decomposition (4) / I12": (None, R(rec, fd=rec.fd + 1e-3 * np.abs(rec.fd).max())),
        "Lemma C.3 (2) / I6": (None, R(rec, EhatD=rec.EhatD * 1.01)),
    }


NAMES = ["Prop. 3.1", "Prop. 3.2", "Lemma 3.3", "Corollary C.1", "Corollary C.2", "Theorem 2.3 / Lemma C.10",
         "Theorem 2.2 / Lemma C.11", "Lemma C.12", "Theorem 2.1 / Lemma C.13", "Theorem 1", "Lemma 3.1",
         "I2 / Lemma C.1", "I3", "I5 / eq. 17", "Decomposition (4) / I12", "Lemma C.3 (2) / I6"]


@pytest.mark.parametrize("name", NAMES)
def test_check_is_not_applicable_without_premises_and_fails_on_a_violation(eos_record, name):
    _, rec = eos_record
    no_premise, violated = _corrupt(rec)[name]
    c = Constants(c13_T=10, a41_c=1e12, a41_gamma=0.0, a42_delta=0.0)  # data premises of Theorem 1 met
    if no_premise is not None:
        assert theory.check_all(no_premise, constants=c)[name].status == "not applicable"
    res = theory.check_all(violated, constants=c)[name]
    assert res.status == "failed" and res.failed_steps.size > 0
    assert theory.check_all(rec, constants=Constants())[name].status != "failed"


# ---- property tests: the theorems' predictions along simulated trajectories ----------------

RIGOROUS = ("Prop. 3.1", "Prop. 3.2", "Lemma 3.3", "Decomposition (4) / I12", "Corollary C.1",
            "Corollary C.2",
            "Theorem 2.3 / Lemma C.10", "Theorem 2.2 / Lemma C.11", "Lemma C.12", "Lemma C.3 (3)",
            "I2 / Lemma C.1", "I3", "I5 / eq. 17", "Lemma C.3 (2) / I6",
            # on the first-order update (A3.2 exact), with A3.2's part bounded in Lemma 3.5
            "Lemma 3.2", "Lemma 3.4", "Lemma 3.5")


@settings(max_examples=8)
@given(problems(m=st.sampled_from([16, 32]), eta_lambda0=st.floats(1.2, 1.95), isometric=False))
def test_rigorous_statements_hold_at_every_step(p):
    tr = linnet.train(p.X, p.Y, eta=p.eta, steps=150, W0=p.W0, a0=p.a0)
    table = theory.check_all(record_run(p.X, p.Y, tr))
    for name in RIGOROUS:
        assert table[name].status in ("held", "not applicable"), (name, table[name].worst_step)


@settings(max_examples=8)
@given(problems(m=st.sampled_from([512, 1024]), eta_lambda0=st.floats(0.3, 0.95)))
def test_theorem_1_progressive_sharpening_in_wide_networks(p):
    """Symmetric (isometric) init, A4.1–A4.2 data, ηΛ(0) < 1 (GD's no-sign-flip regime): Λ̃ rises."""
    tr = linnet.train(p.X, p.Y, eta=p.eta, steps=200, W0=p.W0, a0=p.a0, e_hat_every=0)
    rec = record_run(p.X, p.Y, tr)
    # the strategy draws ratios ≤ 1.6, gaps ≥ 2.5, |Yᵢ| ≥ ‖Y‖/(2√n); 1e-9 absorbs eigh roundoff
    s = tol("strategy-slack")
    c = Constants(a41_c=1.6 * (1 + s), a41_gamma=2.5 * (1 - s),
                  a42_delta=0.5 / np.sqrt(p.X.shape[1]) * (1 - s))
    table = theory.check_all(rec, constants=c)
    assert table["A4.1"].status == "held" and table["A4.2"].status == "held"
    assert table["Theorem 1"].status == "held", table["Theorem 1"].worst_step
    assert table["Theorem 1"].applicable > 0


def test_excursions_end_and_d1_grows_on_a_converging_eos_run():
    X, Y, tr = eos_run(steps=1500)
    rec = record_run(X, Y, tr)
    table = theory.check_all(rec)
    assert table["Theorem 2.1 / Lemma C.13"].status == "held"
    assert table["Theorem 2.1 / Lemma C.13"].fitted["excursions"] >= 1
    assert table["Theorem 2.2 / Lemma C.11"].status in ("held", "not applicable")
    assert tr.loss[-1] < 1e-3 * tr.loss[0]


def one_point_run(eta_lambda0, seed, m=1024):
    """GD on one data point (‖x‖ = 1, y = 1) from a wide Gaussian init, η = eta_lambda0 / Λ(0)."""
    X, Y = np.array([[1.0], [0.0], [0.0]]), np.array([1.0])
    W, a = linnet.init_params(m, X, scheme="gaussian", seed=seed)
    eta = eta_lambda0 / linnet.sharpness(W, a, X)
    return linnet.train(X, Y, eta=eta, steps=1500, W0=W, a0=a, e_hat_every=0)


@settings(max_examples=6)
@given(st.floats(2.2, 3.8), st.integers(0, 1000))
def test_one_point_catapult_converges_below_2_over_eta(el, seed):
    tr = one_point_run(el, seed)
    assert tr.stopped is None and tr.loss[-1] < 1e-12
    assert tr.eta * tr.sharpness[-1] < 2


@settings(max_examples=6)
@given(st.floats(4.5, 8.0), st.integers(0, 1000))
def test_one_point_well_above_4_over_lambda0_diverges(el, seed):
    tr = one_point_run(el, seed)
    assert tr.stopped is not None and tr.stopped.startswith("diverged")


def test_strategies_meet_what_they_promise():
    from hypothesis import find
    p = find(problems(), lambda p: True)
    s = tol("strategy-slack")
    lam = np.linalg.eigvalsh(linnet.data_kernel(p.X))[::-1][: p.lam.size]
    assert np.allclose(lam, p.lam, rtol=tol("eigensolver"))
    assert np.all(lam[1:-1] / lam[2:] <= 1.6 + s) and lam[0] / lam[1] >= 2.5 - s
    Yv = p.V.T @ p.Y
    assert np.min(np.abs(Yv)) >= (1 / (2 * np.sqrt(p.Y.size))) * np.linalg.norm(p.Y) * (1 - s)
    assert np.max(np.abs(linnet.outputs(p.W0, p.a0, p.X))) < tol("identity-drawn")
    assert 0.5 - s <= p.eta_lambda0 <= 1.9 + s
