"""sim: what happens to orders when the servers processing them crash.

Python use::

    from sim import load_scenario, run
    results = run(load_scenario("scenarios/dominoes.yaml", sets=["replications=3"]))
    results.summary          # design, metric, mean, ci_low, ci_high, n
    sim.plots.timeline(results)   # a Figure; sim.save(results, "out") writes the folder
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import sim.interrupts  # noqa: F401 (first: a Ctrl-C while the heavy modules load is quiet)

__version__ = "0.2.0"  # sim.cache keys its files by it

if TYPE_CHECKING:
    from sim import executors, plots
    from sim.experiment import Results, run
    from sim.loading import load_scenario
    from sim.outputs import save
    from sim.scenario import Scenario, ScenarioError

# Imported when first used (PEP 562), so that `python -m sim --help` and a refused scenario
# do not pay for pandas and matplotlib.
_LAZY = {
    "executors": ("sim.executors", None),
    "plots": ("sim.plots", None),
    "Results": ("sim.experiment", "Results"),
    "run": ("sim.experiment", "run"),
    "load_scenario": ("sim.loading", "load_scenario"),
    "save": ("sim.outputs", "save"),
    "Scenario": ("sim.scenario", "Scenario"),
    "ScenarioError": ("sim.scenario", "ScenarioError"),
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "Results",
    "Scenario",
    "ScenarioError",
    "executors",
    "load_scenario",
    "plots",
    "run",
    "save",
]
