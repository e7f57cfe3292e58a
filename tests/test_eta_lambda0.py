"""η = c/Λ(0) in one place: train(..., eta_lambda0=c) and initial_sharpness(model, X, Y), equal
to the step sizes that were set by hand before (bitwise)."""

import numpy as np
import pytest

import linnet

from small_problems import eos_problem


def test_linear_net_eta_lambda0_is_c_over_its_sharpness():
    X, Y, W, a, _ = eos_problem()
    lam0 = linnet.sharpness(W, a, X)
    assert linnet.initial_sharpness(linnet.LinearNet(W0=W, a0=a), X, Y) == lam0
    ref = linnet.train(X, Y, eta=1.9 / lam0, steps=20, W0=W, a0=a)
    got = linnet.train(X, Y, eta_lambda0=1.9, steps=20, W0=W, a0=a)
    assert got.eta == ref.eta and np.array_equal(got.loss, ref.loss)
    assert np.array_equal(got.sharpness, ref.sharpness)
    # from an init: Λ(0) of init_params' start
    W1, a1 = linnet.init_params(30, X, scheme="gaussian", scale=0.7, seed=3, alpha=0.5)
    lam1 = linnet.sharpness(W1, a1, X, alpha=0.5)
    tr = linnet.train(X, Y, eta_lambda0=1.5, steps=2, m=30, init="gaussian", scale=0.7, seed=3, alpha=0.5)
    assert tr.eta == 1.5 / lam1


def test_mlp_eta_lambda0_is_c_over_the_trackers_first_sharpness():
    X, Y = linnet.make_data("cifar-like", n=20, d=12, seed=0)
    model = linnet.MLP((12, 8, 8, 1), activation="tanh", seed=1)
    lam0 = float(linnet.train(X, Y, eta=1.0, steps=0, model=model, ga_every=0).sharpness[0])
    assert linnet.initial_sharpness(model, X, Y) == lam0
    tr = linnet.train(X, Y, eta_lambda0=0.5, steps=3, model=model)
    assert tr.eta == 0.5 / lam0


def test_eta_and_eta_lambda0_one_of_them():
    X, Y, W, a, eta = eos_problem()
    with pytest.raises(ValueError, match="not both"):
        linnet.train(X, Y, eta=eta, eta_lambda0=1.0, steps=1, W0=W, a0=a)
    with pytest.raises(ValueError, match="needs eta"):
        linnet.train(X, Y, steps=1, W0=W, a0=a)
    with pytest.raises(ValueError):
        linnet.train(X, Y, eta_lambda0=-1.0, steps=1, W0=W, a0=a)
