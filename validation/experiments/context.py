"""The suite's shared state: the result of an experiment, and the context that sizes runs, keeps
trajectories and computes the runs several figures share (the Fig. 1 run, its replay, the
theory-scaling run) once."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

import numpy as np

import linnet
from linnet import save_data, to_numpy
from theory.record import record_run

from .. import data as vdata
from ..section3 import Evidence, FirstOrderObserver
from ..verdicts import MIN_PS_STEPS, choose_eta_lambda0
from .common import checked_lambda0, eos_stats

# The Fig. 1 run's ηΛ(0) (App. B: "a selected step size such that the sharpness at initialization is
# smaller than 2/η"): the first of these whose PS lasts ≥ MIN_PS_STEPS steps on the data at hand.
# The two-layer linear net's Λ grows by a factor of about 2–3 over PS from PyTorch's init at pixel
# scale, so its EoS needs ηΛ(0) near 1; the built-in data take 1.0 at the full size (PS of ~200
# steps at seeds 0–2) and 0.8 or 0.6 at the quick size.
MAIN_C = (1.0, 0.8, 0.6)


# The exact replays (G's eigenpairs at every step, ~40× a step) cover a window of a fixed budget
# of steps that holds PS's end and the first crossings of 2/η wherever they fall: at least this share
# of the budget from the first crossing on (the rest before it), starting at step 0 whenever that
# fits (then phase I is replayed whole, as Lemma 3.1 and A3.3 need).
REPLAY_AFTER_CROSSING = 0.5


def replay_window(tr, budget):
    """``(lo, hi)``: the steps the exact replay of ``tr`` covers (rows lo … hi), ``budget`` steps
    holding PS's end and the first crossings (REPLAY_AFTER_CROSSING); (0, budget) if ηΛ never
    exceeds 2."""
    budget = min(budget, tr.steps)
    S = np.asarray(tr.sharpness, dtype=float)
    above = np.flatnonzero(tr.eta * S > 2)
    if not above.size:
        return 0, budget
    first = int(tr.sharpness_step[above[0]])
    lo = max(0, min(first - int(budget * (1 - REPLAY_AFTER_CROSSING)), tr.steps - budget))
    return lo, lo + budget


def replay_span(rec):
    """The run's steps an exact replay covers, in words (for table titles)."""
    return f"steps {rec.start:,}–{rec.start + rec.T:,}"


# The theory's own scaling (App. C.1: symmetric init, α = 1/√m, samples of norm 1) from a small
# ηΛ(0), so that phase I is long (Lemma 3.1, Theorem 1) and GD can be compared with the flow over
# a PS of several hundred steps (A3.3): PS of ~360 steps at the full size, then the EoS.
THEORY_C = 0.5


@dataclass
class ExperimentResult:
    name: str
    title: str
    paper: str
    config: dict
    figures: list
    metrics: dict
    tables: dict = field(default_factory=dict)  # title → theory.CheckTable
    notes: str = ""
    seconds: float = 0.0
    trajectories: list = field(default_factory=list)  # .npz files (basenames) beside the report
    reduced: str = ""  # why its runs are below the paper's sizes ("" at the paper's sizes)

    def __post_init__(self):
        self.trajectories = [f for f in self.trajectories if f]  # None: not saved (--no-trajectories)

    def failures(self):
        return [(t, r) for t, tab in self.tables.items() for r in tab.failures()]


class Context:
    """Shared state of one suite run. ``tiny`` shrinks the quick sizes 4× (for the tests);
    ``deep_nets_full`` runs the deep FC nets at the paper's size in a quick context (the full
    suite's extra seeds: those runs take seconds)."""

    def __init__(
        self,
        out,
        *,
        quick=False,
        seed=0,
        backend="numpy",
        loader=None,
        progress=print,
        tiny=False,
        save_trajectories=True,
        deep_nets_full=False,
    ):
        self.out, self.quick, self.seed, self.backend = out, quick or tiny, seed, backend
        self.save_trajectories = save_trajectories
        self.loader = loader
        self.progress = progress
        self.tiny = tiny
        self.deep_nets_full = deep_nets_full
        self._cache = {}

    def cached(self, key, compute):
        """``compute()`` once per suite run under ``key`` (runs several experiments share)."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def size(self, quick, full):
        if not self.quick:
            return full
        return shrink(quick) if self.tiny else quick

    def fig(self, name):
        return os.path.join(self.out, f"{name}.png")

    def keep(self, name, tr, X, Y):
        """Save a trajectory beside the report as ``name.npz`` with its labels, X once per input
        matrix as ``data/<digest>.npz`` (``linnet.load_trajectory`` reads it back, so ``python -m
        theory check name.npz`` needs nothing else); returns the basename."""
        fname = f"{name}.npz"
        if not self.save_trajectories:
            return None
        if fname not in self._cache.setdefault("saved", set()):
            X, Y = np.asarray(to_numpy(X), dtype=np.float64), np.asarray(to_numpy(Y), dtype=np.float64)
            digest = hashlib.sha1(X.tobytes()).hexdigest()[:12]
            x_file = os.path.join("data", f"X_{digest}.npz")
            if not os.path.exists(os.path.join(self.out, x_file)):
                os.makedirs(os.path.join(self.out, "data"), exist_ok=True)
                save_data(os.path.join(self.out, x_file), X)
            tr.save(os.path.join(self.out, fname), data=(X, Y), x_file=x_file)
            self._cache["saved"].add(fname)
        return fname

    def unit_images(self, *, n=None, d=None):
        """The images with every sample scaled to norm 1: the theory's setting (App. C.1)."""
        return vdata.normalise_columns(self.images(n=n, d=d), 1.0)

    def images(self, *, n=None, d=None, mean_subtract=False):
        """The Fig. 1 data at the paper's scale (App. A.1: two classes, pixels in [0, 1], not
        centred unless ``mean_subtract``): the real images as loaded when --data was given, else
        the built-in photographs (:func:`validation.data.photographs`; at the quick sizes their
        patches averaged down to d = 768, 16×16)."""
        n = n or self.size(200, 1000)
        d = d or self.size(768, 3072)
        if self.loader is not None:
            return self.loader(per_class=n // 2, mean_subtract=mean_subtract)
        return vdata.photographs(per_class=n // 2, side=vdata.side_of(d), mean_subtract=mean_subtract)

    def train(self, X, Y, **kw):
        kw.setdefault("backend", self.backend)
        kw.setdefault("progress", False)
        return linnet.train(X, Y, **kw)

    def main_run(self):
        """Fig. 1: PyTorch's init, α = 1, the images at pixel scale, η = c/Λ(0) with c the first of
        MAIN_C giving a progressive PS, run into the EoS regime with Λ and ‖G_A‖ at every step and the
        first-order ratios of A3.2 alongside.

        Returns (ds, cfg, tr, rec): ``tr`` the whole run, ``rec`` the exact replay of a window of
        ``record_steps`` steps holding PS's end and the first crossings of 2/η (:func:`replay_window`;
        ``rec.start`` is its first step, ``cfg["record_window"]`` both ends), on which the check
        tables are computed (a replay costs ~40× a step); ``rec.extras["run"]`` holds Λ̃ and the
        loss of the whole run for the whole-run statements."""
        if "main" not in self._cache:
            import time

            ds = self.images()
            m, steps, rsteps = self.size(100, 200), self.size(6000, 20000), self.size(600, 1000)
            W, a = linnet.init_params(m, ds.X, scheme="torch", seed=self.seed, alpha=1.0)
            sp = linnet.spectrum(ds.X, ds.Y)
            lam0 = checked_lambda0(linnet.sharpness(W, a, ds.X, alpha=1.0), "the Fig. 1 run")
            common = dict(W0=W, a0=a, alpha=1.0, spectrum=sp, e_hat_every=0)

            def probe(c):
                return self.train(ds.X, ds.Y, eta=c / lam0, steps=MIN_PS_STEPS, **common)

            c, dropped = choose_eta_lambda0(MAIN_C, probe)
            eta = c / lam0
            cfg = dict(
                data=ds.name,
                n=ds.X.shape[1],
                d=ds.X.shape[0],
                m=m,
                init="torch",
                alpha=1.0,
                eta_lambda0=c,
                eta=eta,
                eta_lambda0_dropped=[dict(eta_lambda0=x, first_crossing_step=t) for x, t in dropped],
                steps=steps,
                record_steps=rsteps,
                seed=self.seed,
            )
            fo = FirstOrderObserver(eta)
            t0 = time.perf_counter()
            tr = self.train(
                ds.X,
                ds.Y,
                eta=eta,
                steps=steps,
                hessian_every=max(10, steps // 20),
                ga_every=1,
                observers=[fo],
                **common,
            )
            cfg["train_seconds"] = round(time.perf_counter() - t0, 1)
            lo, hi = replay_window(tr, rsteps)
            cfg["record_window"] = [lo, hi]
            rec = record_run(ds.X, ds.Y, tr, start=lo, steps=hi - lo, flow=True)
            self._cache["main"] = (ds, cfg, tr, rec)
            self._cache["main_first_order"] = fo
        return self._cache["main"]

    def main_evidence(self):
        """The Fig. 1 run as :mod:`validation.section3` judges it."""
        _, _, tr, _ = self.main_run()
        return Evidence.of(tr, self._cache["main_first_order"])

    def eos_window(self):
        """Exact replay of one catapult of the Fig. 1 run in the EoS (the first loss spike after ηΛ
        settles at 2), for the figures that need G's top eigenvector at every step (Fig. 3): GD is
        re-run without eigensolves up to the window's start (bit-identical to the run) and replayed
        from there. Returns (first step, record)."""
        if "eos" not in self._cache:
            ds, cfg, tr, rec = self.main_run()
            _, _, (cross, spans, spikes, hover) = eos_stats(tr.sharpness, tr.loss, tr.eta)
            late = [s_ for s_ in spikes if s_[0] >= (hover or 0) and s_[1] < tr.steps] or spikes
            if late:
                s0, s1 = late[0]
                half = max(50, (s1 - s0) // 2)
                lo, hi = max(0, s0 - half), min(tr.steps, s1 + half)
                if hi - lo > 300:  # at most 300 replayed steps, centred on the spike
                    mid = (s0 + s1) // 2
                    lo, hi = max(0, mid - 150), min(tr.steps, mid + 150)
            else:
                lo, hi = max(0, tr.steps - 300), tr.steps
            pre = self.train(
                ds.X,
                ds.Y,
                eta=tr.eta,
                steps=lo,
                W0=tr.W0,
                a0=tr.a0,
                alpha=tr.config["alpha"],
                sharpness_every=0,
                e_hat_every=0,
            )
            self._cache["eos"] = (
                lo,
                record_run(
                    ds.X,
                    ds.Y,
                    W0=pre.W_final,
                    a0=pre.a_final,
                    eta=tr.eta,
                    steps=hi - lo,
                    alpha=tr.config["alpha"],
                ),
            )
        return self._cache["eos"]

    def e7(self):
        """Lemma E.7's window: G's full eigenbasis over the first steps of the theory-scaling run."""
        if "e7" not in self._cache:
            from theory.lemmas import e7_window

            ds, cfg, tr, rec = self.theory_run()
            w = min(self.size(60, 100), tr.steps)  # "the first hundred iterations" (App. E.2.3)
            self._cache["e7"] = e7_window(
                ds.X, ds.Y, tr.W0, tr.a0, eta=tr.eta, steps=w, alpha=tr.config["alpha"]
            )
        return self._cache["e7"]

    def theory_run(self):
        """A run in the theory's own scaling (App. C.1): the images at norm 1, symmetric init
        (F(0) = 0), α = 1/√m, ηΛ(0) = THEORY_C — a long phase I, then the EoS."""
        if "theory" not in self._cache:
            ds = self.unit_images()
            m, steps = self.size(60, 100), self.size(1500, 2500)
            W, a = linnet.init_params(m, ds.X, scheme="symmetric", scale=0.5, seed=self.seed)
            eta = THEORY_C / checked_lambda0(linnet.sharpness(W, a, ds.X), "the theory-scaling run")
            cfg = dict(
                data=ds.name + ", samples scaled to norm 1",
                m=m,
                init="symmetric",
                scale=0.5,
                alpha="1/sqrt(m)",
                eta_lambda0=THEORY_C,
                eta=eta,
                steps=steps,
                seed=self.seed,
            )
            tr = self.train(ds.X, ds.Y, eta=eta, steps=steps, W0=W, a0=a)
            # the exact replay (G's eigendecomposition at every step) covers PS's end and the entry
            # into the EoS (replay_window; from step 0 where that fits): ~0.15 s a step at full size
            lo, hi = replay_window(tr, self.size(600, 1000))
            cfg["record_window"] = [lo, hi]
            rec = record_run(ds.X, ds.Y, tr, start=lo, steps=hi - lo, flow=True)
            self._cache["theory"] = (ds, cfg, tr, rec)
        return self._cache["theory"]


def shrink(v):
    if isinstance(v, tuple):
        return tuple(shrink(x) for x in v)
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return max(8, 2 * round(v / 8))  # a quarter, kept even (symmetric inits pair neurons)
    return v


# ---- experiments ---------------------------------------------------------------------------
