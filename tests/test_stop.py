"""The typed stop (linnet.run.stop): kinds and steps from every loop, the text kept for display,
the .npz round trip, files written before stops were typed, and one protocol in all three loops."""

import numpy as np
import pytest

import linnet
from linnet.run.stop import KINDS, Stop, StopRule, parse

from small_problems import eos_problem


def _diverging(n=20, d=25, m=10):
    X, Y, W, a, _ = eos_problem(n=n, d=d, m=m)
    return X, Y, W, a, 20 / linnet.sharpness(W, a, X)


def test_a_diverging_run_has_a_typed_stop_whose_message_is_stopped():
    X, Y, W, a, eta = _diverging()
    for engine in ("spectral", "literal"):
        tr = linnet.train(X, Y, eta=eta, steps=500, W0=W, a0=a, engine=engine)
        assert isinstance(tr.stop, Stop) and tr.stop.diverged and tr.stop.kind in KINDS
        assert tr.stopped == tr.stop.message == str(tr.stop)
        # the step named: the state that overflowed, the one past max_loss, or the step not taken
        if tr.stop.kind == "loss_overflow":
            assert tr.stop.step == tr.steps + 1
        else:
            assert tr.stop.step == tr.steps + (tr.stop.kind == "update_overflow")
        assert parse(tr.stopped) == tr.stop


def test_a_completed_run_has_no_stop():
    X, Y, W, a, eta = eos_problem()
    tr = linnet.train(X, Y, eta=eta, steps=5, W0=W, a0=a)
    assert tr.stop is None and tr.stopped is None


def test_max_loss_stop_names_the_recorded_step():
    X, Y, W, a, eta = eos_problem()
    tr = linnet.train(X, Y, eta=eta, steps=20, W0=W, a0=a, max_loss=1e-9)
    assert tr.stop.kind == "max_loss" and tr.stop.step == 0 and tr.steps == 0


def test_save_load_keeps_the_stop_and_old_files_read_it_from_the_text(tmp_path):
    X, Y, W, a, eta = _diverging()
    tr = linnet.train(X, Y, eta=eta, steps=500, W0=W, a0=a)
    tr.save(tmp_path / "run.npz")
    back = linnet.load_trajectory(tmp_path / "run.npz")
    assert back.stop == tr.stop and back.stopped == tr.stopped
    # a file of before (no stop_kind/stop_step): the stop comes from the message
    with np.load(tmp_path / "run.npz") as z:
        old = {k: z[k] for k in z.files if k not in ("stop_kind", "stop_step")}
    np.savez(tmp_path / "old.npz", **old)
    assert linnet.load_trajectory(tmp_path / "old.npz").stop == tr.stop


def test_a_trajectory_given_only_the_text_or_only_the_stop():
    X, Y, W, a, eta = eos_problem()
    tr = linnet.train(X, Y, eta=eta, steps=3, W0=W, a0=a)
    import dataclasses

    s = Stop("diverged", 9, "diverged at step 9: loss overflowed")
    assert dataclasses.replace(tr, stopped=s.message).stop == s
    assert dataclasses.replace(tr, stop=s).stopped == s.message
    with pytest.raises(ValueError, match="give one of them"):
        dataclasses.replace(tr, stop=s, stopped="something else")


def test_the_stop_rule_is_the_loops_order():
    rule = StopRule()
    assert rule.before_record(0, 1.0, 1.0) is None and rule.max_loss == 1e10
    assert rule.after_record(0, 1.0) is None
    assert rule.after_record(3, 2e10).kind == "max_loss"
    assert rule.before_record(4, float("nan"), 1.0).kind == "loss_overflow"
    assert rule.update_failed(5) == Stop("update_overflow", 6, rule.update_failed(5).message)


def test_batched_and_compiled_loops_give_trains_stop():
    X, Y, W, a, eta = _diverging()
    single = linnet.train(X, Y, eta=eta, steps=500, W0=W, a0=a)
    (batched,) = linnet.train_batch(X, Y, eta=[eta], steps=500, W0=[W], a0=[a])
    assert batched.stop == single.stop
    from linnet import jit

    if jit.available():
        compiled = linnet.train(X, Y, eta=eta, steps=500, W0=W, a0=a, jit=True)
        assert compiled.stop == single.stop
