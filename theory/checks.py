"""``check_all``: every assumption, lemma and theorem of the paper on one trajectory, as a table."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from . import assumptions, lemmas
from .constants import Constants
from .record import TheoryRecord, record_run
from .results import CheckTable

if TYPE_CHECKING:
    from linnet import Trajectory


def check_record(rec: TheoryRecord, constants: Constants | None = None) -> CheckTable:
    """Run every check on a :class:`TheoryRecord`."""
    c = constants or Constants()
    out = []
    # Degenerate records (a zero Λ̃, say) give 0/0 margins: those are NaN, and a NaN margin
    # never counts as held (results.make_result), so the warnings carry no extra information.
    with np.errstate(divide="ignore", invalid="ignore"):
        for fn in assumptions.ALL:
            out.append(fn(rec, c))
        a41, a42 = out[7], out[8]
        data_ok = a41.status == "held" and a42.status == "held"
        for fn in lemmas.ALL:
            res = fn(rec, c)
            out.extend(res if isinstance(res, list) else [res])
        out.append(lemmas.theorem_1(rec, c, data_ok=data_ok))
    return CheckTable(tuple(out))


def check_all(source: Trajectory | TheoryRecord, X: Any = None, Y: Any = None, *,
              constants: Constants | None = None, flow: bool = True) -> CheckTable:
    """Check a :class:`linnet.Trajectory` (replayed exactly on (X, Y); the data may also come from
    the trajectory's saved extras) or a ready :class:`TheoryRecord`. Returns a CheckTable."""
    if isinstance(source, TheoryRecord):
        return check_record(source, constants)
    if X is None or Y is None:
        if "X" in source.extras and "Y" in source.extras:
            X, Y = source.extras["X"], source.extras["Y"]
        else:
            raise ValueError("check_all needs the data (X, Y) the trajectory was trained on: pass "
                             "them, or save the trajectory with traj.save(path, data=(X, Y))")
    rec = record_run(np.asarray(X), np.asarray(Y), source, flow=flow)
    return check_record(rec, constants)


def sweep_checker(traj, X, Y) -> dict:
    """The per-run hook of ``linnet`` sweeps (``--checker theory.checks:sweep_checker``, or
    ``python -m theory sweep``): :func:`check_all` without the flow integration, reduced to the
    summary columns ``rigorous_failures``, ``eps`` (A3.5), ``a36_c`` (A3.6), ``max_eta_lambda2`` (A3.7)."""
    table = check_all(traj, X, Y, flow=False)
    return dict(rigorous_failures=len(table.failures()), eps=table["A3.5"].fitted.get("eps"),
                a36_c=table["A3.6"].fitted.get("c"),
                max_eta_lambda2=table["A3.7"].fitted.get("max_eta_lambda2"))
