"""The four phases of §3.1 — re-exported from :mod:`linnet.analysis`, where they live so that
``linnet`` itself (sweeps, bench) needs no import of ``theory``."""
from linnet.analysis import (
                             PHASES,
                             PhaseInterval,
                             excursions,
                             first_above,
                             phase_fractions,
                             phase_intervals,
                             phase_labels,
                             phase_two_starts,
                             upward_crossings,
)

__all__ = ["PHASES", "PhaseInterval", "phase_labels", "phase_intervals", "phase_fractions",
           "first_above", "upward_crossings", "phase_two_starts", "excursions"]
