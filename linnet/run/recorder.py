"""The one :class:`linnet.Trajectory` builder: every loop (Python, batched, compiled) hands its
records to :func:`build_trajectory`; :class:`Recorder` keeps the every-step columns of the Python
loop."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._backend import to_numpy
from .stop import Stop
from .trajectory import Trajectory

STEP_COLUMNS = ("loss", "a_norm2", "fd")  # read from every observation (d_norm follows from the loss)


class Recorder:
    """The every-step columns of one run: :data:`STEP_COLUMNS`, ``d_norm`` ‖D‖ = √(2nL), the
    family's own every-step fields ``own`` (read from the observation by name; the linear net's
    Λ̃) and the top-k coordinates ``d_top``/``f_top``; ``rows`` states at most."""

    def __init__(self, rows: int, k: int, n: int, *, own: Sequence[str] = ()):
        self.k, self.n, self.own = k, n, tuple(own)
        self.t = 0
        self.cols = {name: np.zeros(rows) for name in (*STEP_COLUMNS, "d_norm", *self.own)}
        self.d_top = np.zeros((rows, k))
        self.f_top = np.zeros((rows, k))

    def every_step(self, t: int, obs: Any) -> None:
        c = self.cols
        c["loss"][t], c["a_norm2"][t], c["fd"][t] = obs.loss, obs.a_norm2, obs.fd
        for name in self.own:
            c[name][t] = getattr(obs, name)
        c["d_norm"][t] = math.sqrt(2 * self.n * obs.loss)
        self.d_top[t] = to_numpy(obs.d_top)
        self.f_top[t] = to_numpy(obs.f_top)
        self.t = t + 1

    def build(
        self, config: dict, stop: Stop | None, spec: Any, k: int, arrays: dict, family: str, specific: dict
    ) -> Trajectory:
        T = self.t
        cols = {name: v[:T].copy() for name, v in self.cols.items()}
        return build_trajectory(
            config=config,
            columns=cols,
            d_top=self.d_top[:T].copy(),
            f_top=self.f_top[:T].copy(),
            spectrum=spec,
            k=k,
            arrays=arrays,
            family=family,
            specific=specific,
            stop=stop,
            own=self.own,
        )


def build_trajectory(
    *,
    config: dict,
    columns: dict,
    d_top: np.ndarray,
    f_top: np.ndarray,
    spectrum: Any,
    k: int,
    arrays: dict,
    family: str,
    specific: dict,
    stop: Stop | None,
    own: Sequence[str] = (),
) -> Trajectory:
    """The :class:`Trajectory` of a run's records: ``columns`` the every-step columns (``loss``,
    ``a_norm2``, ``fd``, and ``d_norm`` or it is √(2nL)), of which those named in ``own`` are the
    family's own and go to ``specific``; ``arrays`` the observers' arrays by field name; the data's
    ``eigvals_K`` and ``y_top`` (Y_i, i < ``k``) from ``spectrum``."""
    cols = dict(columns)
    for name in own:
        specific[name] = cols.pop(name)
    if "d_norm" not in cols:
        cols["d_norm"] = np.sqrt(2 * config["n"] * cols["loss"])
    T = cols["loss"].shape[0]
    return Trajectory(
        config=config,
        step=np.arange(T, dtype=np.int64),
        d_top=d_top,
        f_top=f_top,
        eigvals_K=to_numpy(spectrum.lam).astype(np.float64),
        y_top=to_numpy(spectrum.Yv[:k]).astype(np.float64),
        family=family,
        specific=specific,
        stop=stop,
        **cols,
        **arrays,
    )
