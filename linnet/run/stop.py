"""Why a run stopped early: one typed value, and the one stop protocol every loop applies.

A :class:`Stop` has a ``kind`` (one of :data:`KINDS`), the ``step`` it names and the ``message``
shown to people (``Trajectory.stopped``, unchanged from before stops were typed). The loops —
the Python loop (:mod:`linnet.run.loop`), the batched loop (:mod:`linnet.families.linear2.batch`)
and the compiled one (:mod:`linnet.jit`) — apply the same rules through :class:`StopRule`:

* a state whose loss or ‖A‖² is not finite ends the run before it is recorded
  (``"loss_overflow"``, at that state's step t; rows end at t − 1);
* a state whose loss exceeds ``max_loss`` (default 1e10 × the first loss) is recorded, then ends
  the run (``"max_loss"``, at step t);
* a GD step t → t + 1 whose update is not finite leaves the state at t and ends the run
  (``"update_overflow"``, at step t + 1; rows end at t);
* gradient flow whose integrator failed (``"flow_failed"``, no step).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

KINDS = ("loss_overflow", "max_loss", "update_overflow", "flow_failed", "diverged", "other")
# "diverged": a text "diverged at step N: …" of no other known form (read from a file or given)
DIVERGED = ("loss_overflow", "max_loss", "update_overflow", "diverged")


@dataclass(frozen=True)
class Stop:
    """``kind``: one of :data:`KINDS`; ``step``: the step it names (None: none); ``message``: the
    text for display."""

    kind: str
    step: int | None
    message: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"stop kind {self.kind!r} is unknown: use one of {KINDS}")

    @property
    def diverged(self) -> bool:
        """The run diverged (the loss or the update overflowed, or the loss passed max_loss)."""
        return self.kind in DIVERGED

    def __str__(self) -> str:
        return self.message


def loss_overflow(t: int) -> Stop:
    """State t has a non-finite loss or ‖A‖² (rows end at t − 1)."""
    return Stop(
        "loss_overflow",
        int(t),
        f"diverged at step {t}: the loss overflowed (rows end at step {t - 1}; "
        f"the final parameters are those of step {t})",
    )


def over_max_loss(t: int, loss: float, max_loss: float) -> Stop:
    """State t (recorded) has a loss above ``max_loss``."""
    return Stop("max_loss", int(t), f"diverged at step {t}: loss {loss:.3g} exceeds max_loss {max_loss:.3g}")


def update_overflow(t: int) -> Stop:
    """The GD step t → t + 1 was not finite (rows end at t, state left there)."""
    return Stop(
        "update_overflow",
        int(t) + 1,
        f"diverged at step {t + 1}: the GD update overflowed (rows end at step {t})",
    )


def flow_failed(time: float, why: str) -> Stop:
    """The gradient-flow integrator gave up at flow time ``time``."""
    return Stop("flow_failed", None, f"gradient flow integration failed at t = {time:.6g}: {why}")


def default_max_loss(first_loss: float) -> float:
    """max_loss when none is given: 1e10 × the initial loss."""
    return 1e10 * max(first_loss, 1e-300)


_PATTERNS = (
    ("loss_overflow", re.compile(r"diverged at step (-?\d+): the loss overflowed")),
    ("max_loss", re.compile(r"diverged at step (-?\d+): loss .* exceeds max_loss")),
    ("update_overflow", re.compile(r"diverged at step (-?\d+): the GD update overflowed")),
    ("flow_failed", re.compile(r"gradient flow integration failed")),
    ("diverged", re.compile(r"diverged at step (-?\d+)")),
)


def parse(message: str | None) -> Stop | None:
    """The :class:`Stop` a message names (files written before stops were typed keep only the
    text); a text "diverged at step N: …" of no other known form is kind ``"diverged"``, any other
    ``"other"`` (step: the first "step N" in it, if any)."""
    if message is None or message == "":
        return None
    for kind, pat in _PATTERNS:
        m = pat.match(message)
        if m:
            return Stop(kind, int(m.group(1)) if m.groups() else None, message)
    m = re.search(r"step (-?\d+)", message)
    return Stop("other", int(m.group(1)) if m else None, message)


class StopRule:
    """The stop tests of one run, in the loops' order: :meth:`before_record` on each state (a
    non-finite loss or ‖A‖² stops it unrecorded; the first finite loss fixes the default
    ``max_loss``), :meth:`after_record` once it is recorded (loss above ``max_loss``), and
    :meth:`update_failed` when a GD step did not come out finite."""

    def __init__(self, max_loss: float | None = None):
        self.max_loss = max_loss

    def before_record(self, t: int, loss: float, a_norm2: float) -> Stop | None:
        if not (math.isfinite(loss) and math.isfinite(a_norm2)):
            return loss_overflow(t)
        if self.max_loss is None:
            self.max_loss = default_max_loss(float(loss))
        return None

    def after_record(self, t: int, loss: float) -> Stop | None:
        assert self.max_loss is not None
        if loss > self.max_loss:
            return over_max_loss(t, loss, self.max_loss)
        return None

    @staticmethod
    def update_failed(t: int) -> Stop:
        return update_overflow(t)
