"""Broker designs, one module per broker, named as the broker is, on a shared core.

`broker.Broker` is the queue (messages, returns, DLQ, outages, cancellation);
`consumer.Consumer` a store as a consumer; `base.BrokerDesign` what every broker design
does with walk-ins, crashes and recoveries; `push.PushDesign` what push brokers share.
`build_broker` builds the design a `DesignSpec` names.

Adding a broker (Kafka, say): its settings model in `sim.broker_sections` (in
`BROKER_SECTIONS`, with its documented default durations in `SECONDS`), a field of that
name on `DesignSpec`, `_DesignEntry` and `_ScenarioFile`, its name in `sections.Queue`, and
a `BrokerDesign` subclass here in `BROKERS`. It gets for free: walk-ins, crash and recovery
accounting, consumers that prepare each delivery on its own (`Consumer`), failed attempts
and poison orders (`Consumer.on_failed`), dead letters and redelivery counts
(`Broker.dead_letter`, `Recorder.deliveries`), outages (`broker_down`/`broker_up`),
cancellation, silence detection (`connection.silence_detected`), the property invariants
(add a design to `DESIGNS` in tests/property/test_invariants.py) and the report's table.
"""

from __future__ import annotations

from simpy import Environment

from sim.designs.activemq import Activemq
from sim.designs.base import BrokerDesign
from sim.designs.broker import Broker
from sim.designs.consumer import Consumer
from sim.designs.kafka import Kafka
from sim.designs.rabbitmq import Rabbitmq
from sim.designs.sqs import Sqs
from sim.model.attempts import Fails
from sim.model.orders import OrderBook
from sim.records import Recorder
from sim.sections import DesignSpec, StoresSpec

BROKERS: dict[str, type[BrokerDesign]] = {
    "sqs": Sqs,
    "rabbitmq": Rabbitmq,
    "activemq": Activemq,
    "kafka": Kafka,
}


def build_broker(
    env: Environment,
    book: OrderBook,
    stores: StoresSpec,
    design: DesignSpec,
    recorder: Recorder,
    fails: Fails,
    crash: str = "host",
) -> tuple[BrokerDesign, list[Consumer]]:
    """The broker design `design.queue` with its consumers, started; `crash` is the
    world's kind of crash (`failures.crash`)."""
    spec = getattr(design, design.queue)
    consumers = [
        Consumer(env, i, stores.workers_at(i), book.prep, recorder, fails)
        for i in range(stores.count)
    ]
    durable = getattr(spec, "durable", getattr(spec, "persistent", True))
    batch = getattr(spec, "batch", 1)
    retry = design.database.when_down == "retry"
    broker = Broker(env, recorder, durable=durable, batch=batch, retry=retry)
    handler = BROKERS[design.queue](env, book, consumers, recorder, broker, spec=spec)
    handler.crash_closes = crash == "process"
    handler.start()
    return handler, consumers


__all__ = ["BROKERS", "Broker", "BrokerDesign", "Consumer", "build_broker"]
