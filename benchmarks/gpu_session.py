"""``python -m benchmarks.gpu_session OUT``: the GPU measurements of issue 23 as one prepared session.

Meant for a short, scarce device session: every piece runs in its own process under its own time
limit, in order of value, and writes what it measured under ``OUT`` as soon as it ends (so a
session cut short still returns what it finished). Nothing here needs the network; CuPy and
PyTorch with CUDA must already be installed where it runs (a missing one skips its pieces, with
the reason in ``OUT/session.json``).

Pieces (each a command of this repository's own tools):

1. ``linear``: ``python -m benchmarks --quick --backend cupy``: the linear net at paper size, one
   run with Λ every step, on the device (CuPy), next to the same on the host's cores;
2. ``batch``: ``train_batch`` on the device at paper size for B = 32, 128, 512 (trajectory-steps/s,
   Λ every step, read-back every k steps);
3. ``fc``: FC-tanh at paper size on the device (CuPy), steps/s with Λ every step, float32;
4. ``resnet18``: Fig. 2 at the paper's size on CUDA (1,000 images 32×32, BatchNorm in train mode,
   Λ every step), through ``validation.experiments.torch_nets.resnet18(ctx, paper_size=True,
   device="cuda")``: its trajectory (``resnet18.npz``), figure and scorecard rows.

``--cpu`` runs the same code paths on the CPU at toy sizes (seconds), to check the script before a
session: ``python -m benchmarks.gpu_session /tmp/gpu-dry --cpu``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

PIECES = ("linear", "batch", "fc", "resnet18")


def _has(module: str) -> bool:
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def _cuda() -> str | None:
    """None if a CUDA device is usable from both CuPy and PyTorch, else why not."""
    why = []
    if not _has("cupy"):
        why.append("CuPy is not installed")
    else:
        import cupy

        try:
            cupy.cuda.runtime.getDeviceCount()
        except Exception as exc:  # noqa: BLE001 - any CUDA failure means: no device
            why.append(f"CuPy sees no device ({exc})")
    if not _has("torch"):
        why.append("PyTorch is not installed")
    else:
        import torch

        if not torch.cuda.is_available():
            why.append("torch.cuda is not available")
    return "; ".join(why) or None


BATCH_CODE = """
import json, sys
import numpy as np
from benchmarks.bench_batch import batch_rates
cpu = {cpu}
if cpu:
    rows = batch_rates(Bs=(2, 4), steps=20, n=40, d=60, m=8, reps=1)
else:
    rows = batch_rates(Bs=(32, 128, 512), steps=200, reps=1, xp=__import__("cupy"))
print(rows, flush=True)
json.dump(rows, open(sys.argv[1], "w"), indent=1)
"""

FC_CODE = """
import json, sys, time
import numpy as np
import linnet
cpu = {cpu}
backend = "numpy" if cpu else "cupy"
n, d, h, steps = (50, 30, 16, 5) if cpu else (1000, 3072, 200, 200)
X, Y = linnet.make_data("cifar-like", n=n, d=d, seed=0, column_norm=0.5 * np.sqrt(d))
model = linnet.MLP((d, h, h, h, h, 1), activation="tanh", init="torch", seed=0)
kw = dict(model=model, dtype="float32", backend=backend, progress=False, ga_every=0)
lam0 = float(linnet.train(X, Y, eta=1.0, steps=0, **kw).sharpness[0])
linnet.train(X, Y, eta=0.125 / lam0, steps=2, **kw)
t0 = time.perf_counter(); linnet.train(X, Y, eta=0.125 / lam0, steps=0, **kw)
fixed = time.perf_counter() - t0
t0 = time.perf_counter(); tr = linnet.train(X, Y, eta=0.125 / lam0, steps=steps, **kw)
t = time.perf_counter() - t0 - fixed
row = dict(n=n, d=d, width=h, steps=steps, steps_per_s=steps / t,
           max_eta_lambda=float(0.125 / lam0 * tr.sharpness.max()))
print(row, flush=True)
json.dump(row, open(sys.argv[1], "w"), indent=1)
"""

RESNET_CODE = """
import json, sys
from validation.experiments.context import Context
from validation.experiments.torch_nets import resnet18
cpu = {cpu}
ctx = Context(sys.argv[2], quick=cpu, tiny=cpu, seed=0, save_trajectories=True)
res = resnet18(ctx, paper_size=not cpu, device="cpu" if cpu else "cuda")
found = dict(metrics=res.metrics, notes=res.notes, figures=res.figures, trajectories=res.trajectories)
json.dump(found, open(sys.argv[1], "w"), indent=1, default=str)
"""


def _piece(name: str, out: str, cpu: bool) -> list[str]:
    py = sys.executable
    if name == "linear":
        if cpu:
            return [
                py,
                "-m",
                "benchmarks",
                "--quick",
                "--batch-only",
                "--json",
                os.path.join(out, "linear.json"),
            ]
        return [
            py,
            "-m",
            "benchmarks",
            "--quick",
            "--backend",
            "cupy",
            "--json",
            os.path.join(out, "linear.json"),
        ]
    code = dict(batch=BATCH_CODE, fc=FC_CODE, resnet18=RESNET_CODE)[name].format(cpu=cpu)
    return [py, "-c", code, os.path.join(out, f"{name}.json"), out]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu_session", description=__doc__)
    p.add_argument("out", help="folder for the results (on the device machine: $OUT)")
    p.add_argument("--cpu", action="store_true", help="dry run: the same code paths on the CPU, toy sizes")
    p.add_argument("--only", nargs="+", choices=PIECES, default=list(PIECES))
    p.add_argument("--limit", type=float, default=150.0, help="seconds allowed each piece (default 150)")
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    why = None if args.cpu else _cuda()
    log: dict = dict(cpu=args.cpu, no_device=why, pieces={})
    for name in args.only:
        entry: dict = {}
        if why is not None:
            entry = dict(status="skipped", reason=why)
        else:
            t0 = time.perf_counter()
            try:
                done = subprocess.run(
                    _piece(name, args.out, args.cpu), capture_output=True, text=True, timeout=args.limit
                )
                entry = dict(status="ok" if done.returncode == 0 else f"exit {done.returncode}")
                entry["output_tail"] = (done.stdout + done.stderr)[-3000:]
            except subprocess.TimeoutExpired:
                entry = dict(status=f"timed out after {args.limit:.0f} s")
            entry["seconds"] = round(time.perf_counter() - t0, 1)
        log["pieces"][name] = entry
        print(
            f"{name}: {entry['status']}" + (f" ({entry['seconds']} s)" if "seconds" in entry else ""),
            flush=True,
        )
        with open(os.path.join(args.out, "session.json"), "w") as fh:
            json.dump(log, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
