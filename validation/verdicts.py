"""Verdicts a researcher can trust: four of them, a comparability gate, and the scorecard object.

* "reproduced": the run is in the regime the claim is about, and the rule holds;
* "differs": the run is in that regime, and the rule fails;
* "not comparable": the run is outside that regime (PS too short, no EoS, too few oscillations,
  too few applicable steps): it says nothing about the claim, and ``reason`` says why;
* "not applicable": the claim was not evaluated (its experiment did not run, or the model has no
  such quantity).

The gate (:class:`Regime`) reads the regime off a trajectory: ηΛ(0), the step where ηΛ first
exceeds 2, the upward crossings of 2/η after it, whether the run diverged.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass

import numpy as np

from linnet.analysis import first_above, upward_crossings
from theory.claims import Claim

REPRODUCED, DIFFERS, NOT_COMPARABLE, NOT_APPLICABLE = (
    "reproduced",
    "differs",
    "not comparable",
    "not applicable",
)
VERDICTS = (REPRODUCED, DIFFERS, NOT_COMPARABLE, NOT_APPLICABLE)

# The regime the §3 claims are about (paper §2, App. B: "a selected step size such that the
# sharpness at initialization is smaller than 2/η", then PS to 2/η and oscillations around it).
MIN_PS_STEPS = 100  # PS is progressive: ≥ 100 steps from ηΛ(0) < 2 to the first crossing of 2/η
MIN_CROSSINGS = 3  # "several oscillations": ηΛ crosses 2 upwards at least 3 times
MIN_APPLICABLE = 50  # a rate over fewer steps than this is not evidence either way


@dataclass(frozen=True)
class Regime:
    """The regime of one run, read off its sharpness (at every step) and its stop.

    ``first_crossing``: the first step with ηΛ > 2 (None if there is none); ``crossings``: every
    upward crossing of 2/η (steps t with ηΛ(t−1) ≤ 2 < ηΛ(t)), the first included."""

    eta: float
    eta_lambda0: float
    steps: int
    first_crossing: int | None
    crossings: tuple[int, ...]
    stopped: str | None

    @classmethod
    def of(cls, traj) -> Regime:
        S = np.asarray(traj.sharpness, dtype=float)
        if traj.sharpness_step.size != traj.step.size:
            raise ValueError("the gate needs Λ at every step: train with sharpness_every=1")
        eta = traj.eta
        first = first_above(S, eta)
        return cls(
            eta=eta,
            eta_lambda0=float(eta * S[0]) if S.size else math.nan,  # nan: the run recorded no step
            steps=traj.steps,
            first_crossing=None if first >= S.size else int(first),
            crossings=tuple(int(t) for t in upward_crossings(S, eta)),
            stopped=traj.stopped,
        )

    @property
    def diverged(self) -> bool:
        return self.stopped is not None and self.stopped.startswith("diverged")

    def ps_gate(self) -> str | None:
        """Why the run's PS is not the paper's (None: it is): ηΛ(0) < 2, then ≥ MIN_PS_STEPS
        steps to the first crossing of 2/η, and no divergence."""
        if self.diverged:
            return f"the run diverged ({self.stopped})"
        if not math.isfinite(self.eta_lambda0):
            return f"the run recorded no step ({self.stopped or 'no sharpness measured'})"
        if self.eta_lambda0 >= 2:
            return f"ηΛ(0) = {self.eta_lambda0:.3g} ≥ 2: the run starts above 2/η, with no PS"
        if self.first_crossing is None:
            return (
                f"ηΛ never exceeded 2 in {self.steps} steps (max reached below 2/η): "
                "PS did not reach the edge of stability"
            )
        if self.first_crossing < MIN_PS_STEPS:
            return (
                f"PS lasted {self.first_crossing} steps (ηΛ {self.eta_lambda0:.3g} → 2), fewer "
                f"than the {MIN_PS_STEPS} a progressive sharpening needs"
            )
        return None

    def eos_gate(self, crossings: int = MIN_CROSSINGS) -> str | None:
        """:meth:`ps_gate`, then at least ``crossings`` upward crossings of 2/η (oscillations)."""
        why = self.ps_gate()
        if why is None and len(self.crossings) < crossings:
            why = (
                f"ηΛ crossed 2 upwards {len(self.crossings)} time(s) in {self.steps} steps, fewer "
                f"than the {crossings} oscillations the claim is about"
            )
        return why

    def as_dict(self) -> dict:
        return dict(
            eta=self.eta,
            eta_lambda0=self.eta_lambda0,
            steps=self.steps,
            first_crossing_step=self.first_crossing,
            crossings=list(self.crossings),
            stopped=self.stopped,
        )

    @classmethod
    def from_dict(cls, d: dict) -> Regime:
        return cls(
            eta=float(d["eta"]),
            eta_lambda0=float(d["eta_lambda0"]),
            steps=int(d["steps"]),
            first_crossing=d["first_crossing_step"],
            crossings=tuple(d["crossings"]),
            stopped=d["stopped"],
        )


# ηΛ(0) tried for a deep net, largest first (its Hessian at PyTorch's init exceeds Λ, so c = 1 can
# already leave the stable region at once; each halving roughly doubles PS in steps). A ReLU net at
# the paper's size sharpens fast from PyTorch's init: PS of 50 steps at 1/16, 151 at 1/64.
DEEP_NET_C = (0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625)


def choose_eta_lambda0(candidates, probe) -> tuple[float, list[tuple[float, int]]]:
    """The regime's step size: the first c of ``candidates`` (largest first) whose run from
    ηΛ(0) = c stays at or below 2/η for its first MIN_PS_STEPS steps — ``probe(c)`` trains those
    steps with Λ at every step and returns the trajectory — so that PS is progressive on the data
    at hand; the smallest when none does (the gate then says so). Returns (c, the dropped
    (c, crossing step) pairs)."""
    dropped: list[tuple[float, int]] = []
    for i, c in enumerate(candidates):
        step = Regime.of(probe(c)).first_crossing
        if step is None or step >= MIN_PS_STEPS or i == len(candidates) - 1:
            return float(c), dropped
        dropped.append((float(c), int(step)))
    raise ValueError("choose_eta_lambda0 needs at least one candidate")


@dataclass(frozen=True)
class Verdict:
    """One claim judged on one run (or on several seeds: ``seeds`` "k/N" reproduced)."""

    claim: str  # the claim's id in theory.claims
    title: str
    paper: str
    kind: str  # "reproduction" or "consistency"
    verdict: str  # one of VERDICTS
    number: object  # the measured value the verdict rests on (None when not comparable)
    rule: str  # what "reproduced" needs, in words
    reason: str  # why this verdict: the measurement against the rule, or the gate's reason
    paper_quote: str
    seeds: str = "1/1"
    network: str = ""  # the network judged: "linear", "fc-tanh", "cnn-relu", …
    # the rule on its control, where the phenomenon is absent: {what, number, verdict}; a rule that
    # says "reproduced" there cannot fail, and the row counts as consistency (validation.scorecard)
    control: dict | None = None

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict={self.verdict!r}: use one of {VERDICTS}")

    def as_dict(self) -> dict:
        return asdict(self)


def demoted(kind: str, reason: str, control: dict | None) -> tuple[str, str]:
    """(kind, reason) of a verdict whose rule said ``control["verdict"]`` on its control: a
    reproduction whose rule also holds where the phenomenon is absent cannot fail on its claim, so
    it is consistency, and the reason says so."""
    if kind != "reproduction" or control is None or control.get("verdict") != REPRODUCED:
        return kind, reason
    return "consistency", (f"{reason}; " if reason else "") + (
        f"consistency, not a reproduction: the rule also holds on its control ({control['what']})"
    )


def judge(
    claim: Claim,
    *,
    gate: str | None,
    ok: bool | None = None,
    number: object = None,
    rule: str,
    measured: str = "",
    control: dict | None = None,
) -> Verdict:
    """The verdict on ``claim``: "not comparable" with the gate's reason when ``gate`` is set,
    else reproduced/differs by ``ok`` with ``measured`` as the reason and ``control`` the rule on
    its control ({what, number, verdict})."""
    if gate is not None:
        return Verdict(
            claim.id, claim.title, claim.paper, claim.kind, NOT_COMPARABLE, None, rule, gate, claim.quote
        )
    if ok is None:
        raise ValueError("judge needs ok= when the gate passed")
    kind, reason = demoted(claim.kind, measured, control)
    return Verdict(
        claim.id,
        claim.title,
        claim.paper,
        kind,
        REPRODUCED if ok else DIFFERS,
        number,
        rule,
        reason,
        claim.quote,
        control=control,
    )


def not_applicable(claim: Claim, why: str, rule: str = "") -> Verdict:
    return Verdict(
        claim.id, claim.title, claim.paper, claim.kind, NOT_APPLICABLE, None, rule, why, claim.quote
    )


@dataclass(frozen=True)
class Scorecard:
    """The verdicts on one model and data set, with the run's regime and settings."""

    verdicts: tuple[Verdict, ...]
    regime: Regime
    model: str
    data: str
    settings: dict

    def __getitem__(self, claim_id: str) -> Verdict:
        for v in self.verdicts:
            if v.claim == claim_id:
                return v
        raise KeyError(f"no verdict on {claim_id!r}: have {[v.claim for v in self.verdicts]}")

    def counts(self) -> dict[str, int]:
        return {k: sum(v.verdict == k for v in self.verdicts) for k in VERDICTS}

    def as_dict(self) -> dict:
        return dict(
            model=self.model,
            data=self.data,
            settings=self.settings,
            counts=self.counts(),
            scorecard=[v.as_dict() for v in self.verdicts],
            experiments={"run": self.regime.as_dict()},
        )

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=1, default=_json_default)

    def markdown(self) -> str:
        """The scorecard as a Markdown table: claim, paper, verdict, number, why."""
        rows = [
            "| claim | paper | verdict | number | control | why | reproduced when |",
            "|---|---|---|---|---|---|---|",
        ]
        for v in self.verdicts:
            ctl = "—" if v.control is None else f"{v.control['verdict']}: {v.control['what']}"
            rows.append(
                f"| {v.title} | {v.paper} | **{v.verdict}** | {_fmt(v.number)} | {ctl} | {v.reason} "
                f"| {v.rule} |"
            )
        return "\n".join(rows)


def _fmt(x: object) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def _json_default(v):
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return str(v)
