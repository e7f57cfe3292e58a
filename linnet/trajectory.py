"""The record of one run: per-step arrays, its configuration, and the parameters at both ends."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

_ARRAYS = ("step", "loss", "a_norm2", "fd", "lambda_tilde", "d_norm", "d_top", "f_top",
           "sharpness_step", "sharpness", "sharpness_residual", "u1_overlap_init", "u1_v1_overlap",
           "e_hat_step", "e_hat_norm", "hessian_step", "hessian_sharpness",
           "eigvals_K", "y_top", "W0", "a0", "W_final", "a_final")


@dataclass(frozen=True, eq=False)
class Trajectory:
    """A GD (or gradient-flow) run of the linear network, rows t = 0 … T (all finite).

    Every-step arrays (length T+1): ``step``, ``loss`` L, ``a_norm2`` ‖a‖², ``fd`` ⟨F, D⟩,
    ``lambda_tilde`` Λ̃ = v₁ᵀGv₁, ``d_norm`` ‖D‖, ``d_top``/``f_top`` (T+1 × k) the coordinates
    D_i = ⟨D, v_i⟩, F_i = ⟨F, v_i⟩ on K's top-k eigenvectors.
    At ``sharpness_step``: ``sharpness`` Λ = λ_max(G), the eigensolver's ``sharpness_residual``
    ‖G u₁ − Λ u₁‖, ``u1_overlap_init`` |⟨u₁(t), u₁(0)⟩| and ``u1_v1_overlap`` |⟨u₁, v₁⟩|.
    At ``e_hat_step``: ``e_hat_norm`` ‖Ê‖₂. At ``hessian_step``: ``hessian_sharpness`` λ_max(∇²L).
    Data: ``eigvals_K`` (the r non-zero eigenvalues of K), ``y_top`` (Y_i, i < k).
    Parameters: ``W0``, ``a0`` and ``W_final``, ``a_final`` (the last recorded state).
    ``config`` holds η, m, α, the init, seed, data shape, engine …; ``stopped`` is None for a
    completed run, else why it stopped (e.g. "diverged at step 412: …").
    """
    config: dict
    step: np.ndarray
    loss: np.ndarray
    a_norm2: np.ndarray
    fd: np.ndarray
    lambda_tilde: np.ndarray
    d_norm: np.ndarray
    d_top: np.ndarray
    f_top: np.ndarray
    sharpness_step: np.ndarray
    sharpness: np.ndarray
    sharpness_residual: np.ndarray
    u1_overlap_init: np.ndarray
    u1_v1_overlap: np.ndarray
    e_hat_step: np.ndarray
    e_hat_norm: np.ndarray
    hessian_step: np.ndarray
    hessian_sharpness: np.ndarray
    eigvals_K: np.ndarray
    y_top: np.ndarray
    W0: np.ndarray
    a0: np.ndarray
    W_final: np.ndarray
    a_final: np.ndarray
    stopped: str | None = None
    extras: dict = field(default_factory=dict)

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
        lines = [f"linear net m={c['m']} alpha={c['alpha']:.4g} init={c['init']} seed={c['seed']} "
                 f"on X {c['d']}x{c['n']} (rank {c['r']}), {c['method']} eta={self.eta:g} "
                 f"engine={c['engine']} backend={c['backend']} {c['dtype']}",
                 f"steps run: {self.steps}" + (f"  STOPPED: {self.stopped}" if self.stopped else "")]
        lines.append(f"loss: {self.loss[0]:.4g} -> {self.loss[-1]:.4g}  (min {self.loss.min():.4g}, "
                     f"rises {int(np.sum(np.diff(self.loss) > 0))} times)")
        if self.sharpness.size:
            S = self.sharpness
            above = np.flatnonzero(S > two)
            lines.append(f"sharpness (2/eta = {two:.4g}): {S[0]:.4g} -> {S[-1]:.4g}, "
                         f"max {S.max():.4g} = {S.max() / two:.3f} x 2/eta"
                         + (f", first above 2/eta at step {self.sharpness_step[above[0]]}, "
                            f"{above.size} of {S.size} recorded steps above" if above.size else
                            ", never above 2/eta"))
        lines.append(f"|a|^2: {self.a_norm2[0]:.4g} -> {self.a_norm2[-1]:.4g}")
        return "\n".join(lines)

    # ---- persistence -------------------------------------------------------------
    def save(self, path, *, data=None) -> None:
        """Write one ``.npz`` holding every array, the configuration and ``stopped``.

        ``data=(X, Y)`` stores the training data too (as extras "X", "Y"), so that
        ``python -m theory check`` can replay the run from the file alone."""
        arrays = {name: getattr(self, name) for name in _ARRAYS}
        extras = dict(self.extras)
        if data is not None:
            from ._backend import to_numpy
            extras["X"], extras["Y"] = (np.asarray(to_numpy(v), dtype=np.float64) for v in data)
        arrays.update({f"extra__{k}": v for k, v in extras.items()})
        np.savez(path, config=np.array(json.dumps(self.config)),
                 stopped=np.array("" if self.stopped is None else self.stopped), **arrays)

    @classmethod
    def load(cls, path) -> "Trajectory":
        """Read a file written by :meth:`save` (the round trip is exact)."""
        import os
        import zipfile
        if isinstance(path, (str, os.PathLike)):
            if not os.path.exists(path):
                raise FileNotFoundError(f"{path}: no such trajectory file")
            if not zipfile.is_zipfile(path):
                raise ValueError(f"{path} is not a linnet trajectory (not an .npz archive)")
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in _ARRAYS + ("config", "stopped") if k not in z.files]
            if missing:
                raise ValueError(f"{path} is not a linnet trajectory: it lacks {missing}")
            kw = {name: z[name] for name in _ARRAYS}
            extras = {k[len("extra__"):]: z[k] for k in z.files if k.startswith("extra__")}
            stopped = str(z["stopped"]) or None
            return cls(config=json.loads(str(z["config"])), stopped=stopped, extras=extras, **kw)


load_trajectory = Trajectory.load
