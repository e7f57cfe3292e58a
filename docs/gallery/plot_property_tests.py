"""
Property tests with the exported strategies
===========================================

:mod:`theory.strategies` draws whole problems for the linear net — data with a prescribed kernel
spectrum, labels, a symmetric initialisation and η from ηΛ(0) — so that a Hypothesis test can
claim "for every such problem, this statement holds at every step" and search for a
counterexample.
"""

import numpy as np
from hypothesis import find, given, settings, strategies as st

import linnet
import theory
from theory import record_run
from theory.strategies import problems

RIGOROUS = ("Lemma 3.3", "Corollary C.1", "I2 / Lemma C.1", "I3")
seen = []


@settings(max_examples=4, deadline=None, database=None)
@given(problems(m=st.sampled_from([16, 32]), eta_lambda0=st.floats(1.2, 1.95), isometric=False))
def test_rigorous_statements_hold_at_every_step(p):
    traj = linnet.train(p.X, p.Y, eta=p.eta, steps=60, W0=p.W0, a0=p.a0, progress=False)
    table = theory.check_all(record_run(p.X, p.Y, traj))
    seen.append((p.X.shape, round(p.eta_lambda0, 3)))
    for name in RIGOROUS:
        assert table[name].status in ("held", "not applicable"), (name, table[name].worst_step)


# %%
# Calling the decorated function runs the property on the drawn problems (pytest does the same).
test_rigorous_statements_hold_at_every_step()
for shape, el in seen:
    print(f"X {shape[0]}×{shape[1]}, ηΛ(0) = {el}: every statement held where applicable")

# %%
# The strategies keep their promises: K = XᵀX/n has the drawn spectrum.
p = find(problems(), lambda p: True)
lam = np.linalg.eigvalsh(linnet.data_kernel(p.X))[::-1][: p.lam.size]
print("prescribed", np.round(p.lam, 4))
print("measured  ", np.round(lam, 4))
