"""Sweeps from anywhere: a script without a main guard, a guarded script, ``python -c`` and a
script read from standard input (a ``__main__`` without a file, as in a notebook). The workers
never run the user's script: its top-level code runs once, in the driver."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# four tiny runs on two workers; the top level appends its pid to marker.txt (once per execution
# of the script) and the checker, defined in the script itself, reports the worker's pid
BODY = """
import json, os, linnet
here = {here!r}
with open(os.path.join(here, "marker.txt"), "a") as fh:
    fh.write(f"{{os.getpid()}}\\n")

def worker_pid(traj, X, Y):
    return {{"worker_pid": os.getpid()}}

{guard}rows = linnet.sweep({{"eta_lambda0": [0.5, 1.0, 1.5, 1.9]}},
                   fixed=dict(kind="cifar-like", n=8, d=10, m=6, steps=5),
                   out=os.path.join(here, "out"), workers=2, checker={checker}, progress=False)
{guard}print(json.dumps([[r["status"], r.get("worker_pid")] for r in rows]))
"""


def script(here, *, guard=False, checker="worker_pid"):
    body = BODY.format(here=str(here), guard="", checker=checker)
    if guard:  # the sweep under `if __name__ == "__main__":`
        head, _, tail = body.partition("rows = ")
        body = head + "if __name__ == '__main__':\n    rows = " + textwrap.indent(tail, "    ").lstrip()
    return body


def run(args, here, **kw):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, *args], cwd=here, env=env, capture_output=True, text=True,
                         timeout=180, **kw)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def check(here, rows):
    assert [r[0] for r in rows] == ["ok"] * 4, rows
    marks = (here / "marker.txt").read_text().split()
    assert len(marks) == 1, f"the script's top level ran {len(marks)} times (workers re-ran it)"
    assert int(marks[0]) not in {r[1] for r in rows}, "the runs ran in the driver"
    assert len({r[1] for r in rows}) == 2, "two workers were asked for"


@pytest.mark.parametrize("guard", [False, True], ids=["no-main-guard", "main-guard"])
def test_sweep_from_a_script_file(tmp_path, guard):
    path = tmp_path / "my_sweep.py"
    path.write_text(script(tmp_path, guard=guard))
    check(tmp_path, run([str(path)], tmp_path))


def test_sweep_from_python_c(tmp_path):
    check(tmp_path, run(["-c", script(tmp_path)], tmp_path))


def test_sweep_from_a_main_without_a_file(tmp_path):
    # what a notebook or an interactive session is: __main__ has no file to re-import
    check(tmp_path, run(["-"], tmp_path, input=script(tmp_path)))


def test_a_checker_from_a_module_beside_the_script(tmp_path):
    (tmp_path / "mychecks.py").write_text("import os\ndef pid(traj, X, Y):\n"
                                          "    return {'worker_pid': os.getpid()}\n")
    path = tmp_path / "s.py"
    path.write_text("import mychecks\n" + script(tmp_path, checker="'mychecks:pid'"))
    check(tmp_path, run([str(path)], tmp_path))
