"""validation.check_model and ``python -m validation --model``: the §3 scorecard on a user's model —
a CNN in a module file outside the package, linnet's MLP family — with the step size chosen for a
progressive PS, checkpoints that resume bitwise, the report and summary.json, and clear errors."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import linnet
from validation import own_model, section3
from validation.verdicts import MIN_PS_STEPS, VERDICTS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

USER_MODULE = """
import torch
from torch import nn

def small_cnn():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Tanh(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(4 * 4 * 4, 1, bias=False))

def two_outputs():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 2))

def with_dropout():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 8), nn.Dropout(0.5), nn.Linear(8, 1))

def not_a_module():
    return 3
"""


def images(n=48, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 1, 8, 8))
    return X, np.where(rng.random(n) < 0.5, 1.0, -1.0)


def cli(args, cwd):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


def test_a_user_cnn_from_a_module_file_gets_a_scorecard_report_and_a_replayable_trajectory(tmp_path):
    pytest.importorskip("torch")
    (tmp_path / "mynet.py").write_text(USER_MODULE)
    X, Y = images()
    np.savez(tmp_path / "data.npz", X=X, Y=Y)
    out = tmp_path / "out"
    r = cli(["validation", "--model", "mynet:small_cnn", "--data", "npz:data.npz", "--eta-lambda0", "0.5",
             "--steps", "60", "--hessian-every", "20", "--out", str(out)], tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "| claim | paper | verdict |" in r.stdout and "step 60/60" in r.stderr  # progress on the console
    summary = json.loads((out / "summary.json").read_text())
    rows = summary["scorecard"]
    assert len(rows) == len(section3.RULES) and all(row["verdict"] in VERDICTS for row in rows)
    for row in rows:
        assert row["kind"] == "reproduction" and row["reason"] and row["paper_quote"] and row["seeds"]
    assert "first_crossing_step" in summary["experiments"]["run"]
    assert summary["settings"]["eta_lambda0"] == 0.5 and summary["data"].endswith("data.npz")
    text = (out / "index.md").read_text()
    assert text.index("## Scorecard") < text.index("## Figures")
    for fig in ("fig1_sharpness.png", "fig2_a_norm.png", "fig3_split.png"):
        assert (out / fig).stat().st_size > 0
    tr = linnet.load_trajectory(out / "trajectory.npz")
    assert tr.family == "torch" and tr.steps == 60 and tr.hessian_step.tolist() == [0, 20, 40, 60]
    assert np.array_equal(tr.step, np.arange(61)) and tr.sharpness.size == 61
    # the saved run replays: python -m theory check with the module rebuilt from MODULE:FUNCTION
    chk = cli(["theory", "check", str(out / "trajectory.npz"), "--model", "mynet:small_cnn", "--no-flow"],
              tmp_path)
    assert chk.returncode in (0, 1), chk.stderr[-3000:]
    assert "A3.1" in chk.stdout


def test_an_interrupted_check_continues_from_its_checkpoint_bitwise(tmp_path, monkeypatch):
    X, Y = linnet.make_data("cifar-like", n=60, d=24, seed=1)
    X = X.T * 0.5 * np.sqrt(24)
    mlp = linnet.MLP((24, 32, 32, 1), activation="tanh", init="torch", seed=0)
    kw = dict(eta_lambda0=0.4, steps=250, hessian_every=0, progress=False)
    whole = own_model.check_model(mlp, X, Y, out=str(tmp_path / "a"), **kw)
    pieces = []
    real = own_model._piece

    def interrupt_the_third(*a, **k):
        pieces.append(1)
        if len(pieces) == 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(own_model, "_piece", interrupt_the_third)
    with pytest.raises(KeyboardInterrupt):
        own_model.check_model(mlp, X, Y, out=str(tmp_path / "b"), **kw)
    monkeypatch.setattr(own_model, "_piece", real)
    again = own_model.check_model(mlp, X, Y, out=str(tmp_path / "b"), **kw)
    a = linnet.load_trajectory(tmp_path / "a" / "trajectory.npz")
    b = linnet.load_trajectory(tmp_path / "b" / "trajectory.npz")
    for name in ("loss", "sharpness", "a_norm2", "ga_norm", "d_u1"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert [v.as_dict() for v in whole.verdicts] == [v.as_dict() for v in again.verdicts]


def test_the_default_step_size_drops_those_whose_ps_is_too_short():
    X, Y = linnet.make_data("cifar-like", n=200, d=48, seed=0)
    X = X.T * 0.5 * np.sqrt(48)
    mlp = linnet.MLP((48, 64, 64, 64, 64, 1), activation="tanh", init="torch", seed=0)
    card = own_model.check_model(mlp, X, Y, steps=400, hessian_every=0, progress=False)
    dropped = card.settings["eta_lambda0_dropped"]
    assert dropped and all(d["first_crossing_step"] < MIN_PS_STEPS for d in dropped)
    assert card.settings["eta_lambda0"] == own_model.DEFAULT_C[len(dropped)]
    assert card.regime.first_crossing is not None and card.regime.first_crossing >= MIN_PS_STEPS
    assert card.settings["eta"] == pytest.approx(card.settings["eta_lambda0"] / card.settings["lambda0"])


@pytest.mark.parametrize("model, data, message", [
    ("nosuch:f", None, "cannot import module 'nosuch'"),
    ("mynet:missing", None, "has no function 'missing'"),
    ("mynet:not_a_module", None, "not a torch.nn.Module"),
    ("mynet:two_outputs", "npz", "out_features=2"),
    ("mynet:with_dropout", "npz", "Dropout"),
    ("mlp:50,8,1:tanh", "npz", "make the first width 64"),
    ("mynet:small_cnn", "transposed", "features-first"),
    ("mynet:small_cnn", "short_y", "but Y has 10 labels"),
])
def test_bad_input_gets_an_error_naming_the_argument_and_the_fix(tmp_path, model, data, message):
    pytest.importorskip("torch")
    (tmp_path / "mynet.py").write_text(USER_MODULE)
    X, Y = images(16)
    if data == "transposed":
        X = X.reshape(16, -1).T
    if data == "short_y":
        Y = Y[:10]
    np.savez(tmp_path / "data.npz", X=X, Y=Y)
    r = cli(["validation", "--model", model, "--data", "npz:data.npz", "--steps", "5",
             "--out", str(tmp_path / "o")], tmp_path)
    assert r.returncode == 2, (r.stdout[-2000:], r.stderr[-2000:])
    assert message in r.stderr and "Traceback" not in r.stderr, r.stderr[-2000:]
