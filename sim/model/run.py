"""Run one design on one world: build the components, start them, run to the horizon."""

from __future__ import annotations

import simpy

from sim.designs import BROKERS, build_broker
from sim.model.attempts import attempt_outcomes
from sim.model.balancer import Balancer
from sim.model.database import Database
from sim.model.designs import DatabaseQueue, RamOnly
from sim.model.failures import Failures
from sim.model.orchestrator import Orchestrator
from sim.model.orders import Arrivals, OrderBook
from sim.model.store import Fleet, Store
from sim.records import Recorder
from sim.scenario import DesignSpec, StoresSpec
from sim.world import World


def simulate(
    world: World, stores_spec: StoresSpec, design: DesignSpec, trace: bool = False
) -> Recorder:
    """Run `design` on `world` over [0, horizon) and return its record.

    With `trace`, the record also keeps every step of every order (`Recorder.trace`).

    Events at the horizon itself do not run. Preparations still under way then are
    counted as work (`Recorder.work`) only if their order was already completed elsewhere,
    since only then are they known to be wasted.
    """
    env = simpy.Environment()
    recorder = Recorder(world.size, trace)
    book = OrderBook.from_world(world)
    fleet = Fleet()
    fails = attempt_outcomes(world)
    if design.queue in BROKERS:
        handler, consumers = build_broker(env, book, stores_spec, design, recorder, fails)
        _run(env, book, world, recorder, consumers, handler)
        return recorder
    stores = [
        Store(env, i, stores_spec.workers, book.prep, recorder, fleet)
        for i in range(stores_spec.count)
    ]
    balancer = Balancer(design.balancer, stores_spec.count, lambda i: len(stores[i].held))
    if design.queue == "ram":
        handler: RamOnly = RamOnly(env, book, stores, balancer, recorder)
    else:
        database = Database(env, design.database.ack_delay, recorder)
        handler = queue = DatabaseQueue(
            env, book, stores, balancer, recorder, database, design.orchestrator.redistribute
        )
        Orchestrator(
            env, design.orchestrator, stores, recorder, queue.stores_down, queue.store_up
        ).start()
    for store in stores:
        store.on_done = handler.completed
        store.on_failed = handler.failed
        store.fails = fails
    _run(env, book, world, recorder, stores, handler)
    return recorder


def _run(
    env: simpy.Environment, book: OrderBook, world: World, recorder: Recorder, stores, handler
):
    """Start arrivals and failures, run to the horizon, close the record."""
    Arrivals(env, book.arrival, handler.dispatch).start()
    Failures(env, stores, world.outages, handler.crash, handler.recover).start()
    env.run(until=world.horizon)
    _close(recorder, stores, world.horizon)
    handler.end_of_run(world.horizon)


def _close(recorder: Recorder, stores, horizon: float) -> None:
    recorder.peak_held = [store.peak for store in stores]
    for store in stores:
        for order, start in store.under_way():
            if recorder.completions[order] > 0:
                recorder.work[order] += horizon - start
