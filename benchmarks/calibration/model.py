"""The same scenario through `sim`: replication r of the case's one design, traced, as an
`Outcome` (the record the real run gives too)."""

from __future__ import annotations

from benchmarks.calibration.compare import DONE, FAIL, START, Outcome
from sim.model import simulate
from sim.scenario import Scenario
from sim.world import draw_world

#: `sim`'s trace words for what the consumers log.
KINDS = {"start": START, "finish": DONE, "fail": FAIL}


def model_outcome(scenario: Scenario, replication: int) -> Outcome:
    """Run the scenario's only design on the world of `replication`."""
    (design,) = scenario.designs
    world = draw_world(scenario, replication)
    record = simulate(world, scenario.stores, design, trace=True)
    events, dead, lost = [], set(), set()
    for time, what, store, order in record.trace:
        if what in KINDS:
            events.append((time, KINDS[what], store, order))
        elif what == "dead_letter":
            dead.add(order)
        elif what == "lost":
            lost.add(order)
    crashes = [
        (store, start)
        for store, outages in enumerate(world.outages)
        for start, _ in outages
        if start < world.horizon
    ]
    return Outcome(world.size, events, crashes, dead, lost)
