"""EigTracker: the eigenpair it follows against dense eigh, its residual against a direct
computation, the probe, and the spectral engine's closed-form operator updates."""
import numpy as np
import pytest

import linnet
from linnet.families.linear2.engines import SpectralEngine
from linnet.linalg.tracking import EigTracker
from linnet.tolerances import tol

from small_problems import eos_problem


def drifting_operators(r=120, steps=150, seed=0):
    """A_t = B_tᵀB_t/r + μ_t diag(λ) with B_{t+1} = B_t + x yᵀ: the change has the engine's form
    (rank two plus a diagonal), given here to the tracker as an exact block update."""
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((30, r))
    lam = np.sort(rng.uniform(0.1, 1.0, r))[::-1]
    mu = 1.0
    ops = []
    for _ in range(steps):
        A = B.T @ B / r + mu * np.diag(lam)
        x, y = 0.1 * rng.standard_normal(30), 0.1 * rng.standard_normal(r)
        mu_next = mu * (1 + 0.02 * rng.standard_normal())
        f = B.T @ x

        def update(Q, S, f=f, y=y, xx=float(x @ x), dmu=mu_next - mu):
            S += (np.outer(Q @ y, f) + np.outer(Q @ f, y) + xx * np.outer(Q @ y, y)) / r
            S += dmu * (Q * lam)
        ops.append((A, update))
        B, mu = B + np.outer(x, y), mu_next
    return ops


def negated(update):
    """The update of 0.3 I − A_t, from that of A_t."""
    def upd(Q, S):
        dS = np.zeros_like(S)
        update(Q, dS)
        S -= dS
    return upd


@pytest.mark.parametrize("which", ["LA", "LM"])
def test_follows_dense_eigh_and_reports_its_true_residual(which):
    ops = drifting_operators()
    if which == "LM":  # make the operators indefinite, with the extreme eigenvalue negative
        ops = [(0.3 * np.eye(len(A)) - A, negated(u)) for A, u in ops]
    trk = EigTracker(dim=len(ops[0][0]), which=which, tol=1e-8)
    prev = None
    for t, (A, update) in enumerate(ops):
        val, resid, u = trk(lambda V, A=A: A @ V, None if t == 0 else prev)
        prev = update
        ev = np.linalg.eigvalsh(A)
        target = ev[-1] if which == "LA" else ev[np.argmax(np.abs(ev))]
        assert abs(val - target) <= tol("eigensolver-converged") * abs(target), t
        true_resid = np.linalg.norm(A @ u - val * u)
        assert abs(resid - true_resid) <= tol("identity") * abs(val), t
        assert resid <= tol("eigensolver-residual") * abs(val)
        assert abs(np.linalg.norm(u) - 1) < tol("identity")
    # the kept images equal the last operator applied to the basis (150 calls: recomputed at calls
    # 64 and 128, updated in closed form in between)
    k = trk.k
    assert np.max(np.abs(trk.S[:k] - trk.Q[:k] @ ops[-1][0])) <= tol("identity") * np.abs(ops[-1][0]).max()


def test_probe_finds_an_eigenvalue_rising_from_outside_the_basis():
    """One eigenvalue climbs from the bulk past the top (by 0.8% at the first step above it, then
    1.5% a step). Its eigenvector is outside the tracked subspace, so only the probe can bring it
    in: here within 11 steps. Without the probe the tracker keeps the old top for good."""
    rng = np.random.default_rng(1)
    r = 150
    Qm, _ = np.linalg.qr(rng.standard_normal((r, r)))
    base = np.linspace(0.1, 1.0, r)
    path = np.concatenate([np.linspace(0.5, 1.1, 40), np.full(40, 1.1)])

    def run(probe):
        trk = EigTracker(dim=r, tol=1e-8, probe=probe, seed=3)
        errs, prev = [], 0.5
        for t, level in enumerate(path):
            lam = base.copy()
            lam[r // 2] = level
            A = (Qm * lam) @ Qm.T
            q = Qm[:, r // 2]

            def update(Q, S, d=level - prev, q=q):
                S += d * np.outer(Q @ q, q)
            val, _, _ = trk(lambda V, A=A: A @ V, None if t == 0 else update)
            prev = level
            errs.append(abs(val - lam.max()) / lam.max())
        return np.array(errs)

    with_probe, without = run(True), run(False)
    assert without[-1] > 0.05, "the test must be able to fail: without the probe the rise is missed"
    crossed = int(np.flatnonzero(path > 1.0)[0])
    assert with_probe[:crossed].max() < tol("eigensolver-converged")
    assert with_probe[crossed + 11:].max() < tol("eigensolver-converged"), with_probe


def test_follows_a_swap_of_the_top_two_without_updates():
    """Operators given without an update (the literal engine, gradient flow): images recomputed."""
    rng = np.random.default_rng(0)
    r = 200
    Qm, _ = np.linalg.qr(rng.standard_normal((r, r)))
    base = np.linspace(0.1, 0.8, r)
    trk = EigTracker(dim=r, tol=1e-6, seed=1)
    for t, (l1, l2) in enumerate([(1.0, 0.99), (1.0, 0.99), (0.99, 1.0), (0.98, 1.0), (1.0, 0.985)]):
        lam = base.copy()
        lam[-1], lam[-2] = l1, l2
        A = (Qm * lam) @ Qm.T
        val, _, u = trk(lambda V, A=A: A @ V)
        assert abs(val - max(l1, l2)) < tol("eigensolver"), (t, val)
        assert abs(abs(u @ Qm[:, -1 if l1 > l2 else -2]) - 1) < tol("eigenvector")


@pytest.mark.parametrize("dim", [1, 2, 3, 7])
def test_tiny_dimensions(dim):
    rng = np.random.default_rng(dim)
    trk = EigTracker(dim=dim, tol=1e-10)
    for _ in range(3):
        M = rng.standard_normal((dim, dim))
        A = M + M.T
        val, _, _ = trk(lambda V, A=A: A @ V)
        assert abs(val - np.linalg.eigvalsh(A)[-1]) < tol("eigensolver") * np.abs(A).max()


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="which="):
        EigTracker(dim=5, which="SA")
    with pytest.raises(ValueError, match="tol must be"):
        EigTracker(dim=5, tol=0)
    with pytest.raises(ValueError, match="keep"):
        EigTracker(dim=5, keep=6, max_basis=6)


# ---- the spectral engine's closed-form updates ------------------------------------------------

def test_engine_update_equals_the_change_of_the_operator():
    """ΔG and ΔÊ in closed form (gram_update, e_hat_update) against G⁺ − G formed densely, over
    one step and over three accumulated steps."""
    X, Y = linnet.make_data("cifar-like", n=40, d=50, seed=0)
    W, a = linnet.init_params(16, X, scheme="gaussian", seed=0)
    eng = SpectralEngine(linnet.spectrum(X, Y), W, a, 1.0, np.float64, 3)
    Q = np.linalg.qr(np.random.default_rng(0).standard_normal((eng.dim, 5)))[0].T

    def dense(kind):
        obs = eng.observe()
        mv = eng.gram_matvec(obs) if kind == "gram" else eng.e_hat_matvec()
        return mv(np.eye(eng.dim))

    for kind in ("gram", "e_hat"):
        for n_steps in (1, 3):
            before = dense(kind)
            ups = []
            for _ in range(n_steps):
                eng.step(0.5, eng.observe())
                ups.append(eng.last_update)
            after = dense(kind)
            S = Q @ before
            (eng.gram_update if kind == "gram" else eng.e_hat_update)(ups)(Q, S)
            err = np.max(np.abs(S - Q @ after))
            assert err <= tol("closed-form-update") * np.abs(after).max(), (kind, n_steps)


def test_carried_probe_image_equals_the_operator_product():
    X, Y = linnet.make_data("cifar-like", n=40, d=50, seed=1)
    W, a = linnet.init_params(16, X, scheme="gaussian", seed=1)
    eng = SpectralEngine(linnet.spectrum(X, Y), W, a, 1.0, np.float64, 3)
    p = np.random.default_rng(2).standard_normal(eng.dim)
    for kind in ("gram", "e_hat"):
        eng.step(0.5, eng.observe(), [(kind, p)])
        obs = eng.observe()
        direct = (eng.gram_matvec(obs) if kind == "gram" else eng.e_hat_matvec())(p)
        assert np.max(np.abs(obs.carried[kind] - direct)) <= tol("closed-form-update") * np.abs(direct).max()


def test_trajectory_is_bitwise_independent_of_what_is_measured():
    """Carried probes ride in spare columns of the step's products; they must not touch the run."""
    X, Y, W, a, eta = eos_problem()
    runs = [linnet.train(X, Y, eta=eta, steps=200, W0=W, a0=a, **kw)
            for kw in (dict(), dict(sharpness_every=0, e_hat_every=0), dict(sharpness_every=3),
                       dict(e_hat_every=0), dict(hessian_every=50))]
    for other in runs[1:]:
        assert np.array_equal(runs[0].loss, other.loss) and np.array_equal(runs[0].a_norm2, other.a_norm2)
        assert np.array_equal(runs[0].W_final, other.W_final)
    # the closed-form updates and the carried probes spare most products with the operator:
    # the literal engine, which recomputes the basis images every step, needs over 5× as many
    lit = linnet.train(X, Y, eta=eta, steps=200, W0=W, a0=a, engine="literal")
    for name in ("sharpness_products", "e_hat_products"):
        assert 5 * runs[0].config[name] < lit.config[name], name
    # sharpness every third step: three accumulated updates per call, still exact
    ref = runs[0].sharpness[::3]
    assert np.max(np.abs(runs[2].sharpness - ref) / ref) < tol("cross-implementation")


def test_float32_tolerance_is_floored_instead_of_spinning():
    """float32 images cannot resolve a residual of 1e-6·|θ| at r = 400 (for Ê, a difference of two
    larger terms, by far); the tracker stops at 100ε instead of adding vectors to no avail."""
    X, Y = linnet.make_data("cifar-like", n=400, d=600, seed=0)
    X, Y = X.astype(np.float32), Y.astype(np.float32)
    tr = linnet.train(X, Y, eta=10.0, steps=60, m=100, init="torch", alpha=1.0, dtype="float32")
    tol = 100 * np.finfo(np.float32).eps
    assert np.all(tr.sharpness_residual <= tol * tr.sharpness * (1 + 1e-6))
    assert tr.config["sharpness_products"] < 3 * 61 and tr.config["e_hat_products"] < 3 * 61
