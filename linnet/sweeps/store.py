"""A sweep's records on disk: one JSON file per finished run (atomic, idempotent) and
``summary.csv``."""

from __future__ import annotations

import csv
import json
import os
import uuid

import numpy as np

# ---- storage -----------------------------------------------------------------------------------


def _unique() -> str:
    return f"{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _done_dir(out):
    return os.path.join(out, "done")


def finished(out) -> dict:
    """run id → row for every run recorded in ``out`` (one file per run id, ``<run id>.json``;
    temporary files and unreadable records are ignored, so such a run counts as missing)."""
    d = _done_dir(out)
    rows = {}
    if os.path.isdir(d):
        for f in sorted(os.listdir(d)):
            if not f.endswith(".json") or f.startswith("."):
                continue
            try:
                with open(os.path.join(d, f)) as fh:
                    row = json.load(fh)
            except (OSError, ValueError):
                continue
            if isinstance(row, dict) and row.get("run_id") == f[: -len(".json")]:
                rows[row["run_id"]] = row
    return rows


def _write_atomic(path, write, mode="w", **open_kw) -> None:
    """``write(fh)`` to a temporary file beside ``path``, then ``os.replace`` it onto ``path``."""
    d, base = os.path.split(path)
    tmp = os.path.join(d, f".{base}.{_unique()}.tmp")
    try:
        with open(tmp, mode, **open_kw) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def record(out, row) -> None:
    """Write one finished run atomically (a crash mid-write leaves no half file) and idempotently
    (the file is named by the run id: writing the same run again replaces its one record)."""
    d = _done_dir(out)
    os.makedirs(d, exist_ok=True)
    text = json.dumps(row, default=_json_default)
    _write_atomic(os.path.join(d, f"{row['run_id']}.json"), lambda fh: fh.write(text))


def _json_default(v):
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    return str(v)


def write_summary(out, rows) -> str:
    path = os.path.join(out, "summary.csv")
    cols = []
    for r in rows:
        cols += [k for k in r if k not in cols and k != "traceback"]

    def write(fh):
        w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)

    _write_atomic(path, write, newline="")
    return path
