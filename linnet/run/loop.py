"""The one GD loop every model family runs through (``train`` calls it).

An *engine* holds one family's exact GD state on fixed data (:mod:`linnet.families.linear2.engines`,
:mod:`linnet.families.mlp.engine`, :mod:`linnet.torch`). The loop needs of it:

* ``observe()`` → an observation with at least ``loss``, ``a_norm2``, ``fd``, ``D``, ``F``,
  ``carried`` (a dict);
* ``step(eta, obs, carry)`` → False, state untouched, when the update is not finite;
* ``CARRY``: how many probe vectors it can carry through a step (0: none);
* ``set_state(z)`` where gradient-flow states are replayed instead of stepped.

What is measured at each state is up to the observers (:mod:`linnet.run.observers`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..progress import Progress
from .stop import (  # noqa: F401 - the stop messages' former home
    Stop,
    StopRule,
    default_max_loss,
    loss_overflow,
    over_max_loss,
    update_overflow,
)


@dataclass(frozen=True)
class LoopResult:
    """``rows``: states recorded (t = 0 … rows − 1); ``stopped``: None, or why the run stopped
    (:class:`linnet.run.stop.Stop`)."""

    rows: int
    stopped: Stop | None


def run(
    engine: Any,
    *,
    eta: float,
    steps: int,
    observers: Sequence[Any],
    on_row: Callable[[int, Any], None],
    max_loss: float | None = None,
    states: Sequence[Any] | None = None,
    progress: bool | None = None,
    label: str = "train",
    status: Callable[[Any], str] | None = None,
) -> LoopResult:
    """Observe, then step, ``steps`` times; ``on_row(t, obs)`` records each state.

    A state whose loss or ‖A‖² is not finite ends the run before it is recorded; one whose loss
    exceeds ``max_loss`` (default 1e10 × the first loss) is recorded, then ends it (the stop
    protocol of :class:`linnet.run.stop.StopRule`, shared with the batched and compiled loops). ``states``
    (gradient flow, sampled at t = ηk) replaces the GD steps: ``engine.set_state(states[t])``.
    """
    for o in observers:
        o.start(engine)
    n_rows = steps + 1 if states is None else len(states)
    prog = Progress(steps, label, enabled=progress)
    rule = StopRule(max_loss)
    stopped = None
    rows = 0
    for t in range(n_rows):
        if states is not None:
            engine.set_state(states[t])
        obs = engine.observe()
        stopped = rule.before_record(t, obs.loss, obs.a_norm2)
        if stopped is not None:
            break
        on_row(t, obs)
        for o in observers:
            o.observe(t, obs, engine)
        rows = t + 1
        stopped = rule.after_record(t, obs.loss)
        if stopped is not None:
            break
        if t == n_rows - 1:
            break
        if states is None:
            carry = [p for p in (o.probe(t + 1) for o in observers) if p is not None]
            if not engine.step(eta, obs, carry[: engine.CARRY]):
                stopped = rule.update_failed(t)
                break
            for o in observers:
                o.stepped(engine)
        if status is not None:
            prog.update(t + 1, partial(status, obs))
        else:
            prog.update(t + 1)
    prog.close()
    return LoopResult(rows, stopped)
