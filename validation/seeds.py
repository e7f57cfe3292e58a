"""Verdicts across seeds: the main run's scorecard beside those of other seeds.

The full suite judges every claim on its main seed at full size and again on further seeds (at the
quick sizes, to keep the time budget: the report says so). Each reproduction row then says how many
seeds gave its headline verdict (``seeds``: "3/3" when all agree) and, where they do not, which
seed said what: a verdict that flips with the seed is reported as such, never hidden behind the
main seed's.
"""

from __future__ import annotations

import dataclasses

from .verdicts import DIFFERS, NOT_APPLICABLE, REPRODUCED


def combine(card, extra: dict, *, main_seed: int, extra_size: str = "quick sizes"):
    """``card`` (the main seed's entries) with each entry's ``seeds`` set to "k/N" — k of the N
    seeds on which the claim was judged gave the headline verdict — and the reason extended with
    the other seeds' verdicts where they differ. A verdict FLIPS when two seeds in the claim's
    regime disagree (one reproduced, one differs); a seed whose run was outside the regime ("not
    comparable") says nothing either way and is named as such. ``extra``: seed → that seed's
    entries (same claims). Seeds on which the claim was not applicable (did not run) are not
    counted."""
    out = []
    for e in card:
        verdicts = {main_seed: e.verdict}
        sizes = {main_seed: e.sizes}
        for s, other in sorted(extra.items()):
            o = next(
                (x for x in other if (x.claim, x.anchor, x.network) == (e.claim, e.anchor, e.network)), None
            )
            if o is not None and o.verdict != NOT_APPLICABLE:
                verdicts[s] = o.verdict
                sizes[s] = o.sizes
        if e.verdict == NOT_APPLICABLE:
            out.append(e)
            continue
        same = sum(v == e.verdict for v in verdicts.values())
        reason = e.reason

        def name(s, sizes=sizes):
            return f"seed {s}" + ("" if sizes[s] == "paper" else f" ({extra_size})")

        judged = {v for v in verdicts.values() if v in (REPRODUCED, DIFFERS)}
        if len(judged) > 1:
            reason = (
                (f"{reason}; " if reason else "")
                + "FLIPS across seeds: "
                + ", ".join(f"{name(s)} {v}" for s, v in verdicts.items())
            )
        elif same < len(verdicts):
            reason = (
                (f"{reason}; " if reason else "")
                + "other seeds: "
                + ", ".join(f"{name(s)} {v}" for s, v in verdicts.items() if v != e.verdict)
            )
        out.append(dataclasses.replace(e, seeds=f"{same}/{len(verdicts)}", reason=reason))
    return out


def flips(card) -> list:
    """The entries whose verdict flips: seeds in the claim's regime that disagree."""
    return [e for e in card if "FLIPS across seeds" in e.reason]
