"""sim: what happens to orders when the servers processing them crash.

Python use::

    from sim import load_scenario, run
    results = run(load_scenario("scenarios/dominoes.yaml", sets=["replications=3"]))
    results.summary          # design, metric, mean, ci_low, ci_high, n
"""

import sim.interrupts  # noqa: F401 (first of all: a Ctrl-C during the imports below is quiet)

__version__ = "0.1.0"  # before the imports: sim.cache keys its files by it

from sim import executors, plots
from sim.experiment import Results, run
from sim.loading import load_scenario
from sim.scenario import Scenario, ScenarioError

__all__ = [
    "Results",
    "Scenario",
    "ScenarioError",
    "executors",
    "load_scenario",
    "plots",
    "run",
]
