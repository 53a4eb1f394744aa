"""sim: what happens to orders when the servers processing them crash.

Python use::

    from sim import load_scenario, run
    results = run(load_scenario("scenarios/dominoes.yaml", sets=["replications=3"]))
    results.summary          # design, metric, mean, ci_low, ci_high, n
"""

from sim.interrupts import quiet_until_ready

quiet_until_ready()  # first of all: a Ctrl-C while the imports below run exits quietly

__version__ = "0.1.0"  # before the imports: sim.cache keys its files by it

from sim import executors, plots  # noqa: E402 (after the quiet start above, on purpose)
from sim.experiment import Results, run  # noqa: E402
from sim.loading import load_scenario  # noqa: E402
from sim.scenario import Scenario, ScenarioError  # noqa: E402

__all__ = [
    "Results",
    "Scenario",
    "ScenarioError",
    "executors",
    "load_scenario",
    "plots",
    "run",
]
