"""How a run goes: the stop protocol (:mod:`linnet.run.stop`)."""
