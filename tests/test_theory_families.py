"""theory on trajectories of other families: the §3 checks run, the linear net's say why not."""
import numpy as np
import pytest

import linnet
import theory
from theory.checks import LINEAR_ONLY

SECTION3 = ("A3.1", "A3.2", "A3.4", "A3.5", "A3.6", "A3.7", "cond (20)", "Decomposition (4) / I12",
            "Lemma 3.3", "Lemma 3.4")


@pytest.fixture(scope="module")
def mlp_run():
    X, Y = linnet.make_data("cifar-like", n=30, d=40, seed=0)
    model = linnet.MLP((40, 16, 16, 1), activation="tanh", seed=0)
    h0 = linnet.train(X, Y, eta=1.0, steps=0, model=model, hessian_every=1).hessian_sharpness[0]
    eta = 0.8 / h0  # PS to 2/η within a few steps, then the EoS
    return X, Y, linnet.train(X, Y, eta=eta, steps=120, model=model)


def test_replay_of_an_mlp_run_gives_its_numbers(mlp_run):
    X, Y, tr = mlp_run
    rec = theory.record_run(X, Y, tr)
    assert rec.family == "mlp" and rec.T == tr.steps
    assert np.array_equal(rec.loss, tr.loss)  # the same loop and engine: bitwise the same run
    # record at residual 1e-10, run at 1e-6: |ΔΛ| ≤ ρ²/gap, far below 1e-9 relative here
    assert np.max(np.abs(rec.sharpness - tr.sharpness) / tr.sharpness) < 1e-9
    assert np.max(np.abs(rec.ga_norm - tr.ga_norm) / tr.ga_norm) < 1e-12
    # G D by a product equals (1/n) J Jᵀ D: check one step against the dense Gram
    from linnet.families.mlp import maths as mlp
    fwd = mlp.forward(tr.initial_weights, X, "tanh")
    G = mlp.gram(fwd, mlp.backward(tr.initial_weights, fwd, "tanh"))
    assert np.max(np.abs(rec.GD[0] - G @ rec.D[0])) <= 1e-12 * np.max(np.abs(G @ rec.D[0]))
    assert abs(rec.lambda2[0] - np.linalg.eigvalsh(G)[-2]) <= 1e-9 * rec.sharpness[0]


def test_section_3_checks_run_and_linear_net_checks_say_not_applicable(mlp_run, tmp_path):
    X, Y, tr = mlp_run
    table = theory.check_all(tr, X, Y)
    for name in SECTION3:
        assert table[name].status not in ("not applicable", "not evaluated"), name
    assert table["Decomposition (4) / I12"].status == "held"  # an identity on any family
    assert table["Lemma 3.3"].status == "held"                # linear algebra on G ⪰ 0
    linear_names = {name for names in LINEAR_ONLY.values() for name, _ in names}
    for name in linear_names:
        res = table[name]
        assert res.status == "not applicable" and "two-layer linear net" in res.detail, name
    assert all(r.kind not in ("identity", "rigorous") for r in table.failures())
    # the same from a saved file, as `python -m theory check` reads it
    tr.save(tmp_path / "mlp.npz", data=(X, Y))
    again = theory.check_all(linnet.load_trajectory(tmp_path / "mlp.npz"))
    assert again["A3.1"].fitted == table["A3.1"].fitted


def test_linear_net_table_is_unchanged_by_the_family_split():
    X, Y = linnet.make_data("cifar-like", n=30, d=40, seed=0)
    W, a = linnet.init_params(20, X, scheme="symmetric", scale=0.5, seed=0)
    tr = linnet.train(X, Y, eta=1.9 / linnet.sharpness(W, a, X), steps=60, W0=W, a0=a)
    table = theory.check_all(tr, X, Y)
    assert all(table[name].status != "not applicable" or table[name].detail == ""
               or "two-layer" not in table[name].detail for name in
               {n for names in LINEAR_ONLY.values() for n, _ in names})
    assert table["I2 / Lemma C.1"].status == "held" and table["I3"].status == "held"


def test_section_3_checks_run_on_a_pytorch_trajectory():
    torch = pytest.importorskip("torch")
    from linnet.torch import TorchModel

    def net():
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Linear(20, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    X, Y = linnet.make_data("cifar-like", n=16, d=20, seed=0)
    tr = linnet.train(X.T, Y, eta=0.5, steps=12, model=TorchModel(net()), progress=False)
    with pytest.raises(ValueError, match="pass model="):
        theory.check_all(tr, X.T, Y)
    table = theory.check_all(tr, X.T, Y, model=TorchModel(net()))
    assert table["A3.1"].status == "empirical" and table["Lemma 3.3"].status in ("held", "not applicable")
    assert table["Theorem 1"].status == "not applicable"
