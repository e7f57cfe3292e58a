"""The sweep's grid: its keys and defaults, the run specs a config expands to, their ids, and
the config file (TOML)."""

from __future__ import annotations

import hashlib
import itertools
import json
import sys

from ..families import SWEEP_MODELS

GRID_KEYS = (
    "eta",
    "eta_lambda0",
    "m",
    "scale",
    "n",
    "d",
    "seed",
    "init",
    "alpha",
    "steps",
    "kind",
    "labels",
    "column_norm",
    "model",
    "activation",
    "depth",
)
DEFAULTS = dict(
    kind="cifar-like",
    n=200,
    d=768,
    labels="class",
    column_norm=None,
    init="symmetric",
    alpha=None,
    scale=1.0,
    seed=0,
    steps=500,
    m=100,
)
# model = "mlp": a bias-free fully connected net with `depth` layers of width m (hidden) and this
# activation, from PyTorch's init (the keys join a spec only then, so the ids of linear-net runs,
# and with them resumed sweeps, are unchanged)
# model = "paper_cnn" (App. A.2, Table 3; `activation`) or "resnet18": PyTorch modules built by
# linnet.torch from torch.manual_seed(seed), on the data as d = 3·s² images of s×s pixels (needs
# the torch extra)
# (each family declares the models it builds: linnet.families.SWEEP_MODELS)
MODELS = tuple(SWEEP_MODELS)
MLP_DEFAULTS = SWEEP_MODELS["mlp"].defaults
MODEL_DEFAULTS = {name: s.defaults for name, s in SWEEP_MODELS.items() if s.defaults}
MODEL_KEYS = {name: s.keys for name, s in SWEEP_MODELS.items() if s.defaults}
DEFAULT_MODEL = MODELS[0]  # the two-layer linear net's
OUTCOMES = ("monotone", "eos", "catapult", "diverged")


def expand_grid(config: dict) -> list[dict]:
    """Run specs: the defaults, then ``config["fixed"]``, then each point of ``config["grid"]``."""
    grid = dict(config.get("grid", {}))
    fixed = dict(config.get("fixed", {}))
    for k in list(grid) + list(fixed):
        if k not in GRID_KEYS:
            raise ValueError(f"unknown sweep parameter {k!r}: use {GRID_KEYS}")
    if "eta" in {**grid, **fixed} and "eta_lambda0" in {**grid, **fixed}:
        raise ValueError("give eta or eta_lambda0 (η as a multiple of 1/Λ(0)), not both")
    if "eta" not in {**grid, **fixed} and "eta_lambda0" not in {**grid, **fixed}:
        raise ValueError("the sweep needs eta or eta_lambda0 in [grid] or [fixed]")
    keys = list(grid)
    for k in keys:
        if not isinstance(grid[k], list) or not grid[k]:
            raise ValueError(f"grid.{k} must be a non-empty list, got {grid[k]!r}")
    specs = []
    for values in itertools.product(*(grid[k] for k in keys)):
        spec = {**DEFAULTS, **fixed, **dict(zip(keys, values, strict=True))}
        model = spec.get("model", DEFAULT_MODEL)
        if model not in MODELS:
            raise ValueError(f"model={model!r} is unknown: use one of {MODELS}")
        allowed = MODEL_KEYS.get(model, ())
        for k in ("activation", "depth"):
            if k in spec and k not in allowed:
                users = [name for name, ks in MODEL_KEYS.items() if k in ks]
                raise ValueError(
                    f"{k!r} is a key of model = {' or '.join(map(repr, users))} runs, not "
                    f"{model!r}: set model or drop {k!r}"
                )
        if model in MODEL_DEFAULTS:
            chosen = {**fixed, **dict(zip(keys, values, strict=True))}
            spec = {**spec, **{k: chosen.get(k, v) for k, v in MODEL_DEFAULTS[model].items()}}
        else:
            spec.pop("model", None)
        specs.append(spec)
    return specs


def run_id(spec: dict) -> str:
    return hashlib.sha1(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:12]


def load_config(path) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10: the same parser, as the tomli package
        import tomli as tomllib
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the sweep config ({exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from exc
