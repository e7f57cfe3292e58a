"""train(): engines, init schemes, flow, persistence, divergence and bad input."""

import numpy as np
import pytest

import linnet
from linnet.tolerances import tol

from small_problems import eos_problem, problem, rel_err


def first_crossing(traj):
    above = np.flatnonzero(traj.eta * traj.sharpness > 2)
    return int(above[0]) if above.size else None


def test_spectral_engine_equals_literal_updates_through_ps_and_into_eos():
    X, Y, W, a, eta = eos_problem()
    kw = dict(eta=eta, steps=400, W0=W, a0=a, e_hat_every=1, hessian_every=50)
    fast = linnet.train(X, Y, engine="spectral", **kw)
    lit = linnet.train(X, Y, engine="literal", **kw)
    t1 = first_crossing(lit)
    assert t1 is not None and t1 < 300, "the test problem must reach the edge of stability"
    # Agreement to roundoff up to shortly after ηΛ first crosses 2 (docs/theory.md §2.4, fact (a)).
    h = t1 + 20
    for name in ("loss", "sharpness", "a_norm2", "lambda_tilde", "fd"):
        x, y = getattr(fast, name)[:h], getattr(lit, name)[:h]
        assert np.max(np.abs(x - y) / np.abs(y).max()) < tol("cross-implementation-eos"), name
    assert rel_err(fast.d_top[:h], lit.d_top[:h]) < tol("cross-implementation-eos")
    assert rel_err(fast.e_hat_norm[:h], lit.e_hat_norm[:h]) < tol("cross-implementation-eos")
    H_fast, H_lit = fast.hessian_sharpness[:3], lit.hessian_sharpness[:3]
    assert rel_err(H_fast, H_lit) < tol("cross-implementation-hessian")
    assert fast.hessian_step.tolist() == list(range(0, 401, 50))


@pytest.mark.parametrize("case", ["n<d", "n>d", "m=1", "a=0", "D=0"])
def test_spectral_hessian_has_the_full_hessians_nonzero_spectrum(case):
    """The spectral engine's Hessian lives on r + 2m coordinates (a subspace holding its range);
    its spectrum, formed densely, against the full (m·d + m)-dimensional Hessian's from the
    literal engine's HVP (itself checked against finite differences in test_model)."""
    from dataclasses import replace

    from linnet.families.linear2.engines import LiteralEngine, SpectralEngine

    n, d, m = {"n>d": (9, 6, 4), "m=1": (7, 9, 1)}.get(case, (7, 9, 4))
    X, Y = linnet.make_data("cifar-like", n=n, d=d, seed=1)
    if m == 1:  # below init_params' minimum width
        rng = np.random.default_rng(1)
        W, a = rng.standard_normal((1, d)) / np.sqrt(d), rng.standard_normal(1)
    else:
        W, a = linnet.init_params(m, X, scheme="gaussian", seed=1)
    if case == "a=0":
        a = np.zeros_like(a)
    sp = linnet.spectrum(X, Y)
    spec, lit = SpectralEngine(sp, W, a, 0.7, np.float64, 3), LiteralEngine(sp, W, a, 0.7, np.float64, 3)
    for _ in range(3):
        o_s, o_l = spec.observe(), lit.observe()
        if case == "D=0":
            o_s, o_l = replace(o_s, D=0 * o_s.D), replace(o_l, D=0 * o_l.D)
        spectra = []
        for eng, obs in ((spec, o_s), (lit, o_l)):
            mv, dim = eng.hessian_matvec(obs)
            H = np.column_stack([mv(e) for e in np.eye(dim)])
            assert np.max(np.abs(H - H.T)) <= tol("symmetry") * np.abs(H).max()
            spectra.append(np.linalg.eigvalsh(H))
        assert dim == m * d + m and spectra[0].size == sp.r + 2 * m
        scale = np.abs(spectra[1]).max()
        nonzero = [ev[np.abs(ev) > tol("null-eigenvalue-hessian") * scale] for ev in spectra]
        assert nonzero[0].size == nonzero[1].size > 0
        assert np.max(np.abs(nonzero[0] - nonzero[1])) <= tol("identity") * scale
        spec.step(0.5, o_s)
        lit.step(0.5, o_l)


def test_spectral_hessian_at_paper_size_equals_full_space_lanczos():
    """Along the η = 10 paper-size run (through the first catapult): the top eigenvalue of the
    (r + 2m = 1,400)-dimensional Hessian against Lanczos on the full m·d + m = 614,600 parameters."""
    from small_problems import paper_problem

    X, Y, W, a = paper_problem(1000, 3072, 200, np)
    sp = linnet.spectrum(X, Y)
    for steps in (0, 12, 40):  # the start, the catapult's peak, after it
        tr = linnet.train(
            X,
            Y,
            eta=10.0,
            steps=steps,
            W0=W,
            a0=a,
            alpha=1.0,
            spectrum=sp,
            e_hat_every=0,
            hessian_every=max(steps, 1),
            hessian_tol=1e-10,
        )
        full = linnet.hessian_sharpness(tr.W_final, tr.a_final, X, Y, alpha=1.0, tol=1e-10)
        assert abs(tr.hessian_sharpness[-1] - full) <= tol("eigensolver-hessian") * full, steps


def test_full_residual_and_final_parameters_match_literal():
    X, Y, W, a, eta = eos_problem()
    kw = dict(eta=eta, steps=60, W0=W, a0=a, e_hat_every=0)
    fast = linnet.train(X, Y, **kw)
    lit = linnet.train(X, Y, engine="literal", **kw)
    assert rel_err(fast.W_final, lit.W_final) < tol("cross-implementation")
    assert rel_err(fast.a_final, lit.a_final) < tol("cross-implementation")
    D_fast = linnet.residual(fast.W_final, fast.a_final, X, Y)
    D_lit = linnet.residual(lit.W_final, lit.a_final, X, Y)
    assert rel_err(D_fast, D_lit) < tol("cross-implementation")
    assert abs(0.5 * D_lit @ D_lit / X.shape[1] - lit.loss[-1]) < tol("replay")


def test_sharpness_every_step_equals_dense_eigvalsh_of_G():
    X, Y, W, a, eta = eos_problem(n=30, d=40, m=20, seed=1)
    Wt, at = W, a
    traj = linnet.train(X, Y, eta=eta, steps=150, W0=W, a0=a, e_hat_every=1)
    for t in range(151):
        ev = np.linalg.eigvalsh(linnet.gram(Wt, at, X))
        assert abs(traj.sharpness[t] - ev[-1]) < tol("eigensolver") * ev[-1], t
        e_top = np.abs(np.linalg.eigvalsh(linnet.e_hat(Wt, X))).max()
        assert abs(traj.e_hat_norm[t] - e_top) < tol("eigensolver-e-hat")
        assert abs(traj.loss[t] - linnet.loss(Wt, at, X, Y)) < tol("replay")
        Wt, at = linnet.gd_step(Wt, at, X, Y, eta)
    assert np.all(traj.sharpness_residual <= traj.config["sharpness_tol"] * traj.sharpness)


def test_n_greater_than_d_path_matches_literal():
    X, Y = linnet.make_data("gaussian", n=50, d=12, seed=3)
    sp = linnet.spectrum(X, Y)
    assert sp.path == "XXt" and sp.r == 12 and sp.y_null2 > 0
    W, a = linnet.init_params(10, X, scheme="gaussian", seed=3)
    eta = 1.5 / linnet.sharpness(W, a, X)
    kw = dict(eta=eta, steps=80, W0=W, a0=a)
    fast, lit = linnet.train(X, Y, spectrum=sp, **kw), linnet.train(X, Y, engine="literal", **kw)
    for name in ("loss", "sharpness", "a_norm2", "fd", "e_hat_norm"):
        assert rel_err(getattr(fast, name), getattr(lit, name)) < tol("cross-implementation"), name
    assert rel_err(fast.d_top, lit.d_top) < tol("cross-implementation")


def test_init_schemes():
    X, _ = linnet.make_data("gaussian", n=6, d=9, seed=0)
    W, a = linnet.init_params(8, X, scheme="symmetric", seed=1)
    assert np.array_equal(W[:4], W[4:]) and np.array_equal(a[:4], -a[4:])
    assert np.max(np.abs(linnet.outputs(W, a, X))) < tol("identity")
    W, a = linnet.init_params(12, X, scheme="symmetric-isometric", seed=2, scale=0.7)
    assert np.max(np.abs(linnet.e_hat(W, X))) < tol("identity")
    G = linnet.gram(W, a, X)
    kappa = 1 + (a @ a) / 12
    assert rel_err(G, kappa * linnet.data_kernel(X)) < tol("identity")
    W, a = linnet.init_params(12, X, scheme="symmetric-isometric", alpha=1.0, seed=2)
    assert np.max(np.abs(linnet.e_hat(W, X, alpha=1.0))) < tol("identity")
    W, a = linnet.init_params(7, X, scheme="torch", seed=0)
    assert np.abs(W).max() <= 1 / np.sqrt(9) and np.abs(a).max() <= 1 / np.sqrt(7)
    W1, a1 = linnet.init_params(7, X, scheme="gaussian", seed=5)
    W2, a2 = linnet.init_params(7, X, scheme="gaussian", seed=5)
    assert np.array_equal(W1, W2) and np.array_equal(a1, a2)


def test_flow_is_the_small_step_limit_of_gd():
    X, Y = linnet.make_data("cifar-like", n=20, d=30, seed=2)
    W, a = linnet.init_params(10, X, scheme="symmetric", seed=2)
    T = 2.0
    flow = linnet.train(X, Y, eta=T / 10, steps=10, W0=W, a0=a, method="flow", e_hat_every=0)
    errs = []
    for k in (100, 200, 400):
        gd = linnet.train(X, Y, eta=T / k, steps=k, W0=W, a0=a, e_hat_every=0, sharpness_every=k)
        errs.append(abs(gd.loss[-1] - flow.loss[-1]) / flow.loss[-1])
    assert errs[-1] < 1e-3
    ratios = np.array(errs[:-1]) / np.array(errs[1:])
    assert np.all(np.abs(ratios - 2) < 0.1), ratios  # first-order convergence in η
    lit = linnet.train(X, Y, eta=T / 10, steps=10, W0=W, a0=a, method="flow", engine="literal", e_hat_every=0)
    assert rel_err(flow.loss, lit.loss) < tol("cross-implementation-flow")


def test_npz_round_trip_is_exact(tmp_path):
    X, Y, W, a, eta = eos_problem()
    traj = linnet.train(X, Y, eta=eta, steps=30, W0=W, a0=a, hessian_every=10)
    path = tmp_path / "run.npz"
    traj.save(path)
    back = linnet.load_trajectory(path)
    assert back.config == traj.config and back.stopped == traj.stopped
    assert back.family == traj.family == "linear2" and set(back.specific) == set(traj.specific)
    for name in linnet.run.trajectory.COMMON + tuple(traj.specific):
        x, y = getattr(traj, name), getattr(back, name)
        assert x.dtype == y.dtype and np.array_equal(x, y), name


def test_resume_from_saved_parameters_continues_the_run():
    X, Y, W, a, eta = eos_problem()
    whole = linnet.train(X, Y, eta=eta, steps=40, W0=W, a0=a, e_hat_every=0)
    first = linnet.train(X, Y, eta=eta, steps=20, W0=W, a0=a, e_hat_every=0)
    second = linnet.train(X, Y, eta=eta, steps=20, W0=first.W_final, a0=first.a_final, e_hat_every=0)
    assert whole.stopped is None and second.steps == 20
    assert rel_err(second.loss, whole.loss[20:]) < tol("cross-implementation")


def test_divergence_stops_cleanly():
    X, Y, W, a, _ = eos_problem(n=20, d=25, m=10)
    eta = 20 / linnet.sharpness(W, a, X)
    for engine in ("spectral", "literal"):
        traj = linnet.train(X, Y, eta=eta, steps=500, W0=W, a0=a, engine=engine)
        assert traj.stopped is not None and traj.stopped.startswith("diverged at step")
        assert traj.steps < 500
        for name in ("loss", "sharpness", "a_norm2", "fd", "e_hat_norm", "d_top"):
            assert np.all(np.isfinite(getattr(traj, name))), name
        assert np.all(np.isfinite(traj.W_final)) and np.all(np.isfinite(traj.a_final))
        assert str(traj.steps) in traj.stopped


def test_float32_run_tracks_float64():
    X, Y, W, a, eta = eos_problem(n=30, d=40, m=20)
    t64 = linnet.train(X, Y, eta=eta, steps=50, W0=W, a0=a)
    t32 = linnet.train(
        X.astype(np.float32),
        Y.astype(np.float32),
        eta=eta,
        steps=50,
        W0=W.astype(np.float32),
        a0=a.astype(np.float32),
        dtype="float32",
        sharpness_tol=1e-4,
    )
    assert t32.W_final.dtype == np.float32 and t32.config["dtype"] == "float32"
    # float32 roundoff (6e-8) grows over 50 steps of an amplifying map; 1e-4 is ~1000 ulps.
    assert rel_err(t32.loss, t64.loss) < tol("cross-implementation", "float32")
    assert rel_err(t32.sharpness, t64.sharpness) < tol("cross-implementation", "float32")


def test_summary_and_progress(capsys):
    X, Y, W, a, eta = eos_problem(n=20, d=25, m=10)
    traj = linnet.train(X, Y, eta=eta, steps=5, W0=W, a0=a, progress=True)
    assert "train[spectral]" in capsys.readouterr().err
    s = traj.summary()
    assert "sharpness" in s and "steps run: 5" in s


W_, a_, X_, Y_ = problem(5, 4, 6)
BAD = [
    (dict(X=X_.T), ValueError, "Y has length 4 but X"),
    (dict(Y=np.ones(3)), ValueError, "Y has length 3"),
    (dict(Y=Y_[:, None]), ValueError, "Y must be 1-D"),
    (dict(a0=np.ones(5)), ValueError, "a0 has length 5"),
    (dict(X=np.where(np.eye(5, 4) > 0, np.nan, X_)), ValueError, "X contains NaN"),
    (dict(Y=np.array([1, np.inf, 0, 0.0])), ValueError, "Y contains NaN or inf"),
    (dict(eta=0.0), ValueError, "eta must be"),
    (dict(eta=-1.0), ValueError, "eta must be"),
    (dict(eta="big"), TypeError, "eta must be"),
    (dict(engine="magic"), ValueError, "engine="),
    (dict(backend="torch"), ValueError, "backend="),
    (dict(method="adam"), ValueError, "method="),
    (dict(dtype="int8"), TypeError, "dtype"),
    (dict(steps=-1), ValueError, "steps"),
]


@pytest.mark.parametrize("override, exc, msg", BAD)
def test_bad_input_to_train_is_named(override, exc, msg):
    kw = dict(X=X_, Y=Y_, eta=0.1, steps=3, W0=W_, a0=a_)
    kw.update(override)
    with pytest.raises(exc, match=msg):
        linnet.train(kw.pop("X"), kw.pop("Y"), **kw)


@pytest.mark.parametrize(
    "kw, msg",
    [
        (dict(m=1), "m \\(the width\\) must be an integer ≥ 2"),
        (dict(m=5, scheme="symmetric"), "m must be even"),
        (dict(m=4, scheme="symmetric-isometric"), "rank\\(X\\) = 4"),
        (dict(m=4, scheme="xavier"), "scheme="),
        (dict(m=4, scale=-1.0), "scale"),
    ],
)
def test_bad_input_to_init_is_named(kw, msg):
    X = np.random.default_rng(0).standard_normal((6, 4))
    with pytest.raises(ValueError, match=msg):
        linnet.init_params(X=X, **kw)


def test_bad_input_to_pure_functions_is_named():
    with pytest.raises(ValueError, match="eta must be"):
        linnet.gd_step(W_, a_, X_, Y_, 0)
    with pytest.raises(ValueError, match="W has 5 columns"):
        linnet.gram(W_, a_, X_.T)
    with pytest.raises(TypeError, match="must be a NumPy or CuPy array"):
        linnet.outputs(W_.tolist(), a_, X_)
    with pytest.raises(ValueError, match="give both W0 and a0"):
        linnet.train(X_, Y_, eta=0.1, steps=1, W0=W_)
    with pytest.raises(ValueError, match="m=3 disagrees"):
        linnet.train(X_, Y_, eta=0.1, steps=1, W0=W_, a0=a_, m=3)


def test_warm_started_eigensolver_follows_an_eigenvalue_crossing():
    """Two eigenvalues swap places with a gap of 1% between steps: the tracker must report the new
    top (a pure warm start would keep the old eigenvector, whose residual is zero)."""
    from linnet.run.observers import WarmLanczos as eig_cls

    rng = np.random.default_rng(0)
    r = 200
    Q, _ = np.linalg.qr(rng.standard_normal((r, r)))
    base = np.linspace(0.1, 0.8, r)
    eig = eig_cls(np, np.float64, r, "LA", 1e-6, 200, 1)
    for t, (l1, l2) in enumerate([(1.0, 0.99), (1.0, 0.99), (0.99, 1.0), (0.98, 1.0), (1.0, 0.985)]):
        lam = base.copy()
        lam[-1], lam[-2] = l1, l2
        A = (Q * lam) @ Q.T
        val, resid, u = eig(lambda x, A=A: A @ x)
        assert abs(val - max(l1, l2)) < tol("eigensolver"), (t, val)
        assert abs(abs(u @ Q[:, -1 if l1 > l2 else -2]) - 1) < tol("eigenvector")


def test_demo_cli_prints_a_summary_and_saves(tmp_path, capsys):
    from linnet.__main__ import main

    path = tmp_path / "demo.npz"
    assert (
        main(["--n", "60", "--d", "80", "--m", "20", "--scale", "1.0", "--steps", "40", "--save", str(path)])
        == 0
    )
    out = capsys.readouterr().out
    assert "steps run: 40" in out and "eta*Lambda" in out and f"saved {path}" in out
    assert linnet.load_trajectory(path).steps == 40


def test_the_cli_has_no_bench_subcommand(capsys):
    """`python -m linnet bench` imported whatever `benchmarks` package came first on sys.path; the
    benchmarks run as `python -m benchmarks` from a source checkout, and "bench" is an unknown
    argument of the demo."""
    from linnet.__main__ import main

    with pytest.raises(SystemExit) as exc:
        main(["bench"])
    assert exc.value.code == 2 and "unrecognized arguments: bench" in capsys.readouterr().err


def _progress_lines(monkeypatch, capsys, **kw):
    """The progress lines of a short run, one per step: the progress line's clock is made to
    advance 2 s a reading (it writes at most one line a second)."""
    from types import SimpleNamespace

    import linnet.progress

    clock = iter(range(0, 10**6, 2))
    monkeypatch.setattr(linnet.progress, "time", SimpleNamespace(perf_counter=lambda: float(next(clock))))
    X, Y = linnet.make_data("gaussian", n=30, d=20, seed=0)
    traj = linnet.train(X, Y, eta=0.05, steps=7, m=8, progress=True, **kw)
    lines = capsys.readouterr().err.splitlines()
    assert [ln.split()[1] for ln in lines] == [f"{t}/7" for t in range(1, 8)], lines
    return traj, lines


def test_progress_shows_the_last_measured_sharpness_and_its_step(monkeypatch, capsys):
    traj, lines = _progress_lines(monkeypatch, capsys, sharpness_every=3)
    assert traj.sharpness_step.tolist() == [0, 3, 6]
    for done, line in enumerate(lines, start=1):  # the state shown is t = done - 1
        k = (done - 1) // 3
        assert line.endswith(f"eta*Lambda {traj.eta * traj.sharpness[k]:.3f} (step {3 * k})"), line
        assert "nan" not in line


def test_progress_leaves_out_the_sharpness_when_none_is_measured(monkeypatch, capsys):
    _, lines = _progress_lines(monkeypatch, capsys, sharpness_every=0)
    assert all("loss" in ln and "Lambda" not in ln and "nan" not in ln for ln in lines), lines


def test_zero_step_flow_and_a_replay_starting_above_two_over_eta():
    """No interval to integrate: the flow run is its start, and theory's flow replay of a run that
    starts in the EoS (phase I empty) integrates nothing instead of failing."""
    import theory

    X, Y, W, a, _ = eos_problem(n=20, d=25, m=10)
    tr = linnet.train(X, Y, eta=0.1, steps=0, W0=W, a0=a, method="flow")
    assert tr.steps == 0 and tr.stopped is None
    eta = 2.5 / linnet.sharpness(W, a, X)
    run = linnet.train(X, Y, eta=eta, steps=8, W0=W, a0=a)
    rec = theory.record_run(X, Y, run, flow=True)
    assert rec.flow_D.shape[0] == 1 and theory.check_all(rec)["A3.3"].status == "not applicable"


def test_trajectories_can_share_one_copy_of_x(tmp_path):
    X, Y, W, a, eta = eos_problem(n=20, d=25, m=10)
    tr = linnet.train(X, Y, eta=eta, steps=5, W0=W, a0=a)
    (tmp_path / "data").mkdir()
    linnet.save_data(tmp_path / "data" / "x.npz", X)
    tr.save(tmp_path / "run.npz", data=(X, Y), x_file="data/x.npz")
    back = linnet.load_trajectory(tmp_path / "run.npz")
    assert np.array_equal(back.extras["X"], X) and np.array_equal(back.extras["Y"], Y)
    with np.load(tmp_path / "run.npz") as z:
        assert "extra__X" not in z.files and str(z["extra__x_file"]) == "data/x.npz"
    with pytest.raises(ValueError, match="x_file needs data"):
        tr.save(tmp_path / "x.npz", x_file="data/x.npz")


def test_spectrum_projected_start_is_shared_only_for_an_equal_start():
    """DataSpectrum.projected: Z_v(0) = W0 U diag(s) as formed directly; one array, read-only, for
    equal starts (the members of an η sweep), a new one for a different start or dtype."""
    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((7, 12)), rng.standard_normal(12)
    sp = linnet.spectrum(X, Y)
    W0 = rng.standard_normal((5, 7))
    Zv0 = sp.projected(W0, np.float64)
    assert np.array_equal(Zv0, (W0 @ sp.U) * sp.s) and not Zv0.flags.writeable
    assert sp.projected(W0.copy(), np.float64) is Zv0  # equal values: the same array
    W1 = W0.copy()
    W1[0, 0] += 1e-12
    assert sp.projected(W1, np.float64) is not Zv0
    assert np.array_equal(sp.projected(W1, np.float64), (W1 @ sp.U) * sp.s)
    assert sp.projected(W1.astype(np.float32), np.float32).dtype == np.float32
    # every engine still starts from its own start: runs from W0 and W1 differ from the first step
    a0 = rng.standard_normal(5)
    t0 = linnet.train(X, Y, eta=0.1, steps=3, W0=W0, a0=a0, spectrum=sp, progress=False)
    t1 = linnet.train(X, Y, eta=0.1, steps=3, W0=W1, a0=a0, spectrum=sp, progress=False)
    t0b = linnet.train(X, Y, eta=0.1, steps=3, W0=W0, a0=a0, progress=False)  # its own spectrum
    assert not np.array_equal(t0.loss, t1.loss) and np.array_equal(t0.loss, t0b.loss)


def test_run_config_checks_its_settings_once_for_train_and_train_batch():
    from linnet.run.config import RunConfig

    cfg = RunConfig(steps=3, sharpness_every=2, e_hat_every=0, ga_every=None)
    assert cfg.entries(top_k=4, ga_every=1, measures_e_hat=True) == dict(
        steps_requested=3,
        top_k=4,
        sharpness_every=2,
        sharpness_tol=1e-6,
        e_hat_every=0,
        ga_every=1,
        hessian_every=0,
        hessian_tol=1e-8,
    )
    assert cfg.entries(top_k=4, ga_every=0, measures_e_hat=False)["e_hat_every"] == 0
    for bad in (dict(steps=-1), dict(steps=2.0), dict(steps=True)):
        with pytest.raises(ValueError, match="steps must be an integer ≥ 0"):
            RunConfig(**bad)
    with pytest.raises(ValueError, match=r"hessian_every must be an integer ≥ 0 \(0 = never\)"):
        RunConfig(steps=1, hessian_every=-2)
    X, Y = np.ones((3, 4)), np.ones(4)
    with pytest.raises(ValueError, match="sharpness_every must be"):
        linnet.train(X, Y, eta=0.1, steps=1, m=2, sharpness_every=1.5)
    with pytest.raises(ValueError, match="top_k must be"):
        linnet.train_batch(X, Y, eta=[0.1], steps=1, m=2, top_k=-1)
