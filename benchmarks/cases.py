"""One benchmark case, run in a fresh process: `python benchmarks/cases.py CASE [ARGS]`.

Prints one JSON object: what the case measured. `benchmarks/run.py` runs every case a few
times and keeps medians. Timings are wall-clock seconds of the timed part only; peak RSS
is the whole process's (`ru_maxrss`), so the interpreter and imports are in it.
"""

from __future__ import annotations

import json
import random
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LAM, MU, SERVERS = 9.0, 1.0, 10


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def count_events(function, *args):
    """Run `function` with every event put on SimPy's queue counted (an untimed run): the
    calls of `Environment.schedule`, and the events `sim` puts there at exact instants."""
    import simpy

    original = simpy.Environment.schedule
    counter = [0]

    def schedule(self, event, priority=1, delay=0):
        counter[0] += 1
        original(self, event, priority, delay)

    simpy.Environment.schedule = schedule
    try:
        from sim.model import events

        pushed = events.heappush

        def heappush(queue, item):
            counter[0] += 1
            pushed(queue, item)

        events.heappush = heappush
        try:
            function(*args)
        finally:
            events.heappush = pushed
    finally:
        simpy.Environment.schedule = original
    return counter[0]


# --- M/M/10 ------------------------------------------------------------------------------


def mmc_scenario(customers: int, keep_orders: bool = False):
    from sim.scenario import Scenario

    return Scenario.from_mapping(
        {
            "name": "bench_mmc",
            "seed": 1,
            "duration": customers / LAM,
            "drain": 50.0,
            "replications": 1,
            "stores": {"count": 1, "workers": SERVERS},
            "orders": {
                "online": {"rate": LAM},
                "prep_time": {"dist": "exponential", "mean": 1 / MU},
            },
            "designs": {"ram_only": {"queue": "ram"}},
        }
    )


def case_mmc_sim(customers: int) -> dict:
    import sim

    scenario = mmc_scenario(customers)
    started = time.perf_counter()
    results = sim.run(scenario, keep_orders=True)
    elapsed = time.perf_counter() - started
    orders = results.orders
    wait = (orders["first_completion"] - orders["arrival"] - orders["prep_time"]).mean()
    events = count_events(sim.run, scenario)
    return {
        "customers": len(orders),
        "seconds": elapsed,
        "events": events,
        "mean_wait": float(wait),
        "peak_rss": peak_rss_bytes(),
    }


def reference_model(customers: int, seed: int = 1) -> tuple[int, float]:
    """The lean hand-written SimPy M/M/c: one arrival process feeding a `simpy.Store`,
    `SERVERS` looping worker processes, Python's `random`."""
    import simpy

    env = simpy.Environment()
    queue = simpy.Store(env)
    rng = random.Random(seed)
    served = [0, 0.0]  # customers served, total wait

    def arrivals():
        for _ in range(customers):
            yield env.timeout(rng.expovariate(LAM))
            queue.put(env.now)

    def worker():
        while True:
            arrived = yield queue.get()
            served[1] += env.now - arrived
            yield env.timeout(rng.expovariate(MU))
            served[0] += 1

    env.process(arrivals())
    for _ in range(SERVERS):
        env.process(worker())
    env.run()
    return served[0], served[1] / served[0]


def case_mmc_reference(customers: int) -> dict:
    started = time.perf_counter()
    served, wait = reference_model(customers)
    elapsed = time.perf_counter() - started
    events = count_events(reference_model, customers)
    return {
        "customers": served,
        "seconds": elapsed,
        "events": events,
        "mean_wait": wait,
        "peak_rss": peak_rss_bytes(),
    }


def case_mmc_ciw(customers: int) -> dict:
    import ciw

    ciw.seed(1)
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(LAM)],
        service_distributions=[ciw.dists.Exponential(MU)],
        number_of_servers=[SERVERS],
    )
    started = time.perf_counter()
    simulation = ciw.Simulation(network)
    simulation.simulate_until_max_customers(customers, method="Finish")
    elapsed = time.perf_counter() - started
    records = simulation.get_all_records()
    return {
        "customers": len(records),
        "seconds": elapsed,
        "events": None,
        "mean_wait": sum(r.waiting_time for r in records) / len(records),
        "peak_rss": peak_rss_bytes(),
    }


# --- dominoes, scale, parallel -------------------------------------------------------------


def dominoes(**changes):
    from sim.loading import load_scenario

    sets = [f"{key}={value}" for key, value in changes.items()]
    return load_scenario(ROOT / "scenarios" / "dominoes.yaml", sets)


def case_dominoes(design: str) -> dict:
    import sim
    from sim.scenario import Scenario

    scenario = dominoes(replications=1, duration=4800, drain=240)
    data = scenario.to_mapping()
    data["designs"] = {design: data["designs"][design]}
    scenario = Scenario.from_mapping(data)
    started = time.perf_counter()
    results = sim.run(scenario)
    elapsed = time.perf_counter() - started
    return {
        "customers": int(results.replications["arrived"].sum()),
        "seconds": elapsed,
        "peak_rss": peak_rss_bytes(),
    }


def case_brokers(design: str) -> dict:
    """One broker design of scenarios/brokers.yaml over 80 hours of orders: orders per
    second, and SimPy events per order (counted in a second, untimed run)."""
    import sim
    from sim.loading import load_scenario
    from sim.model import simulate
    from sim.scenario import Scenario
    from sim.world import draw_world

    scenario = load_scenario(
        ROOT / "scenarios" / "brokers.yaml", replications=1, duration="80h", drain="4h"
    )
    data = scenario.to_mapping()
    data["designs"] = {design: data["designs"][design]}
    scenario = Scenario.from_mapping(data)
    started = time.perf_counter()
    results = sim.run(scenario)
    elapsed = time.perf_counter() - started
    world = draw_world(scenario, 0)
    events = count_events(simulate, world, scenario.stores, scenario.designs[0])
    return {
        "customers": int(results.replications["arrived"].sum()),
        "seconds": elapsed,
        "events_per_order": events / world.size,
        "peak_rss": peak_rss_bytes(),
    }


def case_scale(factor: int, keep_orders: int) -> dict:
    import sim

    scenario = dominoes(replications=1, duration=2400 * factor, drain=240)
    started = time.perf_counter()
    results = sim.run(scenario, keep_orders=bool(keep_orders))
    elapsed = time.perf_counter() - started
    rows = len(results.orders) if results.orders is not None else 0
    return {
        "customers": int(results.replications["arrived"].sum()),
        "rows": rows,
        "seconds": elapsed,
        "peak_rss": peak_rss_bytes(),
    }


def case_parallel(jobs: int) -> dict:
    from concurrent.futures import ProcessPoolExecutor

    import sim

    scenario = dominoes(replications=8, duration=24_000)
    started = time.perf_counter()
    if jobs == 1:
        results = sim.run(scenario)
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            results = sim.run(scenario, executor=pool)
    elapsed = time.perf_counter() - started
    return {
        "customers": int(results.replications["arrived"].sum()),
        "seconds": elapsed,
        "peak_rss": peak_rss_bytes(),
    }


CASES = {
    "mmc_sim": case_mmc_sim,
    "mmc_reference": case_mmc_reference,
    "mmc_ciw": case_mmc_ciw,
    "dominoes": case_dominoes,
    "brokers": case_brokers,
    "scale": case_scale,
    "parallel": case_parallel,
}


if __name__ == "__main__":
    name, *arguments = sys.argv[1:]
    function = CASES[name]
    parsed = [int(a) if a.lstrip("-").isdigit() else a for a in arguments]
    print(json.dumps(function(*parsed)))
