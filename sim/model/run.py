"""Run one design on one world: build the components, start them, run to the horizon."""

from __future__ import annotations

import numpy as np
import simpy

from sim.designs import BROKERS, build_broker
from sim.model.attempts import attempt_outcomes
from sim.model.balancer import Balancer
from sim.model.database import Database
from sim.model.designs import RamOnly
from sim.model.failures import Failures
from sim.model.guarded import GuardedQueue
from sim.model.lease import Lease
from sim.model.network import Network
from sim.model.orchestrator import Orchestrator
from sim.model.orders import Arrivals, OrderBook
from sim.model.outages import Outages, Switch
from sim.model.patience import Patience
from sim.model.slowdown import Slowdown
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
        handler, consumers = build_broker(
            env, book, stores_spec, design, recorder, fails, world.crash
        )
        _broker_outages(env, world, handler, recorder)
        _slow_down(env, world, recorder, consumers)
        _run(env, book, world, recorder, consumers, handler)
        return recorder
    stores = [
        Store(env, i, stores_spec.workers_at(i), book.prep, recorder, fleet)
        for i in range(stores_spec.count)
    ]
    balancer = Balancer(design.balancer, stores_spec.count, lambda i: len(stores[i].held))
    if design.queue == "ram":
        handler: RamOnly = RamOnly(env, book, stores, balancer, recorder)
    else:
        handler = _database_queue(env, world, design, book, stores, balancer, recorder)
    _slow_down(env, world, recorder, stores)
    for store in stores:
        store.on_done = handler.completed
        store.on_failed = handler.failed
        store.fails = fails
    _run(env, book, world, recorder, stores, handler)
    return recorder


def _broker_outages(env: simpy.Environment, world: World, handler, recorder: Recorder) -> None:
    """`database.outages` is the schedule of whatever durably holds the orders: for a
    broker design, the broker (every design sees the same outages)."""
    outages = world.database_outages
    _switch(env, outages, recorder, "database", handler.broker_down, handler.broker_up)


def _switch(env: simpy.Environment, outages, recorder: Recorder, name: str, down, up) -> None:
    """Put `NAME_down` and `NAME_up` on the timeline at each outage's start and end, then
    call `down()` / `up()`."""

    def went_down() -> None:
        recorder.event(env.now, f"{name}_down")
        down()

    def came_up() -> None:
        recorder.event(env.now, f"{name}_up")
        up()

    Switch(env, outages, went_down, came_up).start()


def _slow_down(env: simpy.Environment, world: World, recorder: Recorder, stores) -> None:
    """Give each store (or broker consumer) its slowdowns, the same in every design."""
    for store, spells in zip(stores, world.slowdowns, strict=False):
        if spells:
            store.slow = Slowdown(spells)
            store.slow.start_timeline(env, recorder, store.index)


def _run(
    env: simpy.Environment, book: OrderBook, world: World, recorder: Recorder, stores, handler
):
    """Start arrivals and failures, run to the horizon, close the record."""
    Arrivals(env, book.arrival, handler.dispatch).start()
    Failures(env, stores, world.outages, handler.crash, handler.recover).start()
    if world.patience_end is not None:
        Patience(env, world.patience_end, handler.cancel, recorder).start()
    env.run(until=world.horizon)
    _close(recorder, stores, world.horizon)
    handler.end_of_run(world.horizon)


def _database_queue(
    env: simpy.Environment,
    world: World,
    design: DesignSpec,
    book: OrderBook,
    stores: list[Store],
    balancer: Balancer,
    recorder: Recorder,
) -> GuardedQueue:
    """The seed's design, its orchestrator, and the failures it meets (`sim.model.guarded`)."""
    spec = design.orchestrator
    database = Database(env, design.database.ack_delay, recorder)
    queue = GuardedQueue(
        env,
        book,
        stores,
        balancer,
        recorder,
        database,
        spec.redistribute,
        when_down=design.database.when_down,
        fencing=spec.fencing,
    )
    own, its_database = Outages(world.orchestrator_outages), Outages(world.database_outages)
    if spec.max_age is not None:
        queue.lease = Lease(
            env, spec.max_age, spec.poll_interval, database, queue.send_again, own, its_database
        )
    network = Network(env, len(stores), recorder, world.partitions, world.lost_polls)
    orchestrator = Orchestrator(
        env, spec, stores, recorder, queue.stores_down, queue.store_up, network, own, queue
    )
    orchestrator.on_restart = queue.restarted
    queue.wake = orchestrator.wake
    Switch(env, world.database_outages, queue.database_down, queue.database_up).start()
    _switch(env, world.orchestrator_outages, recorder, "orchestrator", _nothing, _nothing)
    network.start()
    orchestrator.start()
    return queue


def _nothing() -> None:
    """The orchestrator's outages act through its schedule (`Outages`), not on a switch."""


def _close(recorder: Recorder, stores: list[Store], horizon: float) -> None:
    recorder.peak_held = [store.peak for store in stores]
    for store in stores:
        for order, start in store.under_way():
            if recorder.completions[order] > 0:
                done = (
                    horizon - start if store.slow is None else store.slow.progress(start, horizon)
                )
                recorder.work[order] += done
        for order in store.held:
            recorder.held_at_end[order] = 1
    since = np.frombuffer(recorder.stranded_since, dtype=np.float64)
    for order in np.flatnonzero(~np.isnan(since)).tolist():  # still stranded at the end
        recorder.unstrand(order, horizon)
