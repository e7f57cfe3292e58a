"""The record of one run: per-step arrays, its configuration, and the parameters at both ends."""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .stop import Stop, parse as parse_stop

COMMON = (
    "step",
    "loss",
    "a_norm2",
    "fd",
    "d_norm",
    "d_top",
    "f_top",
    "sharpness_step",
    "sharpness",
    "sharpness_residual",
    "u1_overlap_init",
    "u1_v1_overlap",
    "d_u1",
    "ga_step",
    "ga_norm",
    "hessian_step",
    "hessian_sharpness",
    "eigvals_K",
    "y_top",
)
# the two-layer linear net's own arrays, top-level names in files written before families existed
LINEAR2_SPECIFIC = ("lambda_tilde", "e_hat_step", "e_hat_norm", "W0", "a0", "W_final", "a_final")
_EMPTY_SINCE_FAMILIES = ("d_u1", "ga_step", "ga_norm")  # absent from older files: read as empty


@dataclass(frozen=True, eq=False)
class Trajectory:
    """A run of one model family (``family``: "linear2", "mlp", "torch"), rows t = 0 … T (all finite).

    Every family records the same fields (the paper's §3 quantities):
    every step (length T+1): ``step``, ``loss`` L = ‖D‖²/(2n), ``a_norm2`` ‖A‖² (the output
    layer's weights; ‖a‖² for the linear net), ``fd`` ⟨F, D⟩, ``d_norm`` ‖D‖, ``d_top``/``f_top``
    (T+1 × k) the coordinates D_i = ⟨D, v_i⟩, F_i = ⟨F, v_i⟩ on K's top-k eigenvectors.
    At ``sharpness_step``: ``sharpness`` Λ = λ_max(G), G = JJᵀ/n, the eigensolver's
    ``sharpness_residual`` ‖G u₁ − Λ u₁‖, ``u1_overlap_init`` |⟨u₁(t), u₁(0)⟩|, ``u1_v1_overlap``
    |⟨u₁, v₁⟩| and ``d_u1`` ⟨D, u₁⟩ (D along u₁; Fig. 3b). At ``ga_step``: ``ga_norm`` ‖G_A‖,
    the output layer's Gram (App. D.1.1). At ``hessian_step``: ``hessian_sharpness`` λ_max(∇²L).
    Data: ``eigvals_K`` (the r non-zero eigenvalues of K = XᵀX/n), ``y_top`` (Y_i, i < k).

    Fields of one family live in ``specific`` and read as attributes too: for "linear2"
    ``lambda_tilde`` Λ̃ = v₁ᵀGv₁ every step, ``e_hat_step``/``e_hat_norm`` ‖Ê‖₂, ``W0``, ``a0``,
    ``W_final``, ``a_final``; for "mlp" the layers ``W0_1`` … ``W0_L`` and ``W_final_1`` …,
    and ``trained_sharpness`` (λ_max of the trained layers' Gram, at ``sharpness_step``) when
    layers are frozen. ``initial_weights``/``final_weights`` give the layers of any family.
    ``config`` holds η, the model, its init, seed, data shape, engine …; ``stop`` is None for
    a completed run, else why it stopped: a :class:`linnet.run.stop.Stop` (``kind``, ``step``,
    ``message``); ``stopped`` is its message for display (e.g. "diverged at step 412: …"). Give
    either: a ``stopped`` text alone is read into a ``stop`` (:func:`linnet.run.stop.parse`).
    """

    config: dict
    step: np.ndarray
    loss: np.ndarray
    a_norm2: np.ndarray
    fd: np.ndarray
    d_norm: np.ndarray
    d_top: np.ndarray
    f_top: np.ndarray
    sharpness_step: np.ndarray
    sharpness: np.ndarray
    sharpness_residual: np.ndarray
    u1_overlap_init: np.ndarray
    u1_v1_overlap: np.ndarray
    d_u1: np.ndarray
    ga_step: np.ndarray
    ga_norm: np.ndarray
    hessian_step: np.ndarray
    hessian_sharpness: np.ndarray
    eigvals_K: np.ndarray
    y_top: np.ndarray
    family: str = "linear2"
    specific: dict = field(default_factory=dict)
    stopped: str | None = None
    extras: dict = field(default_factory=dict)
    stop: Stop | None = None

    def __post_init__(self) -> None:
        if self.stop is None:
            object.__setattr__(self, "stop", parse_stop(self.stopped))
        elif self.stopped is None:
            object.__setattr__(self, "stopped", self.stop.message)
        elif self.stopped != self.stop.message:
            raise ValueError(
                f"stopped={self.stopped!r} is not stop's message {self.stop.message!r}: give one of them"
            )

    def __getattr__(self, name: str):
        specific = self.__dict__.get("specific")
        if specific is not None and name in specific:
            return specific[name]
        family = self.__dict__.get("family", "?")
        raise AttributeError(
            f"Trajectory of family {family!r} has no field {name!r}"
            + (f" (its own fields: {sorted(specific)})" if specific else "")
        )

    @property
    def initial_weights(self) -> tuple:
        """The layers at step 0, first layer first, in nn.Linear's (out, in) layout
        (the linear net: (W0, a0ᵀ), its α kept apart in ``config``)."""
        return self._layers("0")

    @property
    def final_weights(self) -> tuple:
        """The layers at the last recorded state (see :attr:`initial_weights`)."""
        return self._layers("_final")

    @property
    def capabilities(self) -> Any:
        """The family's :class:`linnet.families.Capabilities`."""
        from ..families import capabilities

        return capabilities(self.family)

    def _layers(self, which: str) -> tuple:
        try:
            return self.capabilities.layers(self.specific, which)
        except KeyError as exc:  # (not AttributeError: a property's would fall to __getattr__)
            raise ValueError(
                f"this trajectory was recorded without {exc.args[0]} "
                "(train_batch(..., final_weights=False) leaves W_final out)"
            ) from None

    @property
    def eta(self) -> float:
        return float(self.config["eta"])

    @property
    def steps(self) -> int:
        """Number of steps taken (rows − 1)."""
        return int(self.step.shape[0]) - 1

    @property
    def time(self) -> np.ndarray:
        """Flow time t = η k of each row (docs/theory.md §2.1: GD step k ↔ flow time ηk)."""
        return self.eta * self.step

    def summary(self) -> str:
        """A few lines: configuration, loss and sharpness at the start, peak and end."""
        c = self.config
        two = 2 / self.eta
        caps = self.capabilities
        model = caps.describe(c, self.family)
        lines = [
            f"{model} on X {c['d']}x{c['n']} (rank {c['r']}), {c['method']} eta={self.eta:g} "
            f"engine={c['engine']} backend={c['backend']} {c['dtype']}",
            f"steps run: {self.steps}" + (f"  STOPPED: {self.stopped}" if self.stopped else ""),
        ]
        lines.append(
            f"loss: {self.loss[0]:.4g} -> {self.loss[-1]:.4g}  (min {self.loss.min():.4g}, "
            f"rises {int(np.sum(np.diff(self.loss) > 0))} times)"
        )
        if self.sharpness.size:
            S = self.sharpness
            above = np.flatnonzero(S > two)
            lines.append(
                f"sharpness (2/eta = {two:.4g}): {S[0]:.4g} -> {S[-1]:.4g}, "
                f"max {S.max():.4g} = {S.max() / two:.3f} x 2/eta"
                + (
                    f", first above 2/eta at step {self.sharpness_step[above[0]]}, "
                    f"{above.size} of {S.size} recorded steps above"
                    if above.size
                    else ", never above 2/eta"
                )
            )
        lines.append(f"{caps.output_norm}: {self.a_norm2[0]:.4g} -> {self.a_norm2[-1]:.4g}")
        return "\n".join(lines)

    # ---- persistence -------------------------------------------------------------
    def save(self, path, *, data=None, x_file: str | None = None) -> None:
        """Write one ``.npz`` holding every array, the family's own arrays, the configuration
        and the stop (its message ``stopped``, ``stop_kind`` and ``stop_step``, −1 for none).

        ``data=(X, Y)`` stores the training data too (as extras "X", "Y"), so that
        ``python -m theory check`` can replay the run from the file alone. With ``x_file``, X is
        not stored but referred to: the path, relative to this file's folder, of a
        :func:`save_data` file holding it (one copy of X for many runs on it); :meth:`load`
        reads it back."""
        if x_file is not None and data is None:
            raise ValueError("x_file needs data=(X, Y): Y is stored in the file, X in x_file")
        arrays = {name: getattr(self, name) for name in COMMON}
        arrays.update({f"specific__{k}": v for k, v in self.specific.items()})
        extras = {
            k: v for k, v in self.extras.items() if data is None or k not in ("X", "Y", "x_file")
        }  # new data replaces the old
        if data is not None:
            from .._backend import to_numpy

            X, Y = (np.asarray(to_numpy(v), dtype=np.float64) for v in data)
            extras["Y"] = Y
            if x_file is None:
                extras["X"] = X
            else:
                extras["x_file"] = np.array(str(x_file))
        arrays.update({f"extra__{k}": v for k, v in extras.items()})
        np.savez(
            path,
            config=np.array(json.dumps(self.config)),
            family=np.array(self.family),
            stopped=np.array("" if self.stopped is None else self.stopped),
            stop_kind=np.array("" if self.stop is None else self.stop.kind),
            stop_step=np.array(-1 if self.stop is None or self.stop.step is None else self.stop.step),
            **arrays,
        )

    @classmethod
    def load(cls, path) -> Trajectory:
        """Read a file written by :meth:`save` (the round trip is exact); files written before
        model families existed read as the linear net's, with empty ``d_u1`` and ``ga_norm``;
        files written before stops were typed get their ``stop`` from the ``stopped`` text."""
        if isinstance(path, (str, os.PathLike)):
            if not os.path.exists(path):
                raise FileNotFoundError(f"{path}: no such trajectory file")
            if not zipfile.is_zipfile(path):
                raise ValueError(f"{path} is not a linnet trajectory (not an .npz archive)")
        with np.load(path, allow_pickle=False) as z:
            files = set(z.files)
            legacy = "family" not in files
            need = [k for k in COMMON if not (legacy and k in _EMPTY_SINCE_FAMILIES)]
            need += list(LINEAR2_SPECIFIC) if legacy else ["family"]
            missing = [k for k in need + ["config", "stopped"] if k not in files]
            if missing:
                raise ValueError(f"{path} is not a linnet trajectory: it lacks {missing}")
            kw = {
                name: z[name]
                if name in files
                else np.zeros(0, dtype=np.int64 if name.endswith("_step") else np.float64)
                for name in COMMON
            }
            if legacy:
                family, specific = "linear2", {k: z[k] for k in LINEAR2_SPECIFIC}
            else:
                family = str(z["family"])
                specific = {k[len("specific__") :]: z[k] for k in files if k.startswith("specific__")}
            extras = {k[len("extra__") :]: z[k] for k in files if k.startswith("extra__")}
            stopped = str(z["stopped"]) or None
            stop = None
            if stopped is not None and "stop_kind" in files:
                step = int(z["stop_step"])
                stop = Stop(str(z["stop_kind"]), None if step < 0 else step, stopped)
            config = json.loads(str(z["config"]))
        if "x_file" in extras and isinstance(path, (str, os.PathLike)):
            # X saved once beside it (save(x_file=...)); absent: the run still loads, without X
            x_path = os.path.join(os.path.dirname(os.fspath(path)), str(extras["x_file"]))
            if os.path.exists(x_path):
                extras["X"] = load_data(x_path)
        return cls(
            config=config, family=family, specific=specific, stopped=stopped, extras=extras, stop=stop, **kw
        )


load_trajectory = Trajectory.load


def save_data(path, X) -> None:
    """Write the inputs X (d×n) once, for trajectories saved with ``x_file=``."""
    from .._backend import to_numpy

    np.savez(path, X=np.asarray(to_numpy(X), dtype=np.float64))


def load_data(path) -> np.ndarray:
    """X from a :func:`save_data` file."""
    with np.load(path, allow_pickle=False) as z:
        if "X" not in z.files:
            raise ValueError(f"{path} is not a linnet data file: it lacks X")
        return z["X"]
