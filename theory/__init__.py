"""theory: the paper's assumptions, lemmas and theorems as honest checks on GD trajectories.

    table = theory.check_all(traj, X, Y)   # replay the run, check every statement
    print(table.format())
"""
from .checks import check_all, check_record
from .constants import Constants
from .phases import phase_fractions, phase_intervals, phase_labels
from .record import TheoryRecord, record_params, record_run
from .results import CheckResult, CheckTable

__all__ = ["check_all", "check_record", "Constants", "phase_labels", "phase_intervals",
           "phase_fractions", "TheoryRecord", "record_run", "record_params", "CheckResult", "CheckTable"]
