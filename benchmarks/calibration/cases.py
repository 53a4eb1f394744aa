"""The calibration cases: one world (in seconds), one broker setting, run on the real broker
and through `sim` with the same settings.

Time is scaled so that a repetition takes half a minute: preparations of 100–500 ms,
heartbeats of 2 s, leases of 1 s. Two consumers (stores) of one worker each; three
scripted crashes that alternate between them, so that every repetition has work in
preparation when a store goes down.

`crash` says how a store goes down on the real side: `kill` is SIGKILL (the process dies,
the kernel closes its sockets at once: the broker sees the connection close); `freeze`
is SIGSTOP until the restart (the process and its sockets stay, silent: only heartbeats
or the inactivity monitor tell the broker), then SIGKILL and a new process. The model
runs a kill as `failures.crash: process` and a freeze as `failures.crash: host` (a host
that stops, whose connections fall silent).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from sim.scenario import Scenario

HEARTBEAT = 2.0  # seconds (RabbitMQ heartbeat, STOMP heart-beat)
STOMP_GRACE = 1.5  # ActiveMQ's transport.hbGracePeriodMultiplier default
#: ActiveMQ's broker-side redelivery policy of these runs (servers.ACTIVEMQ_REDELIVERY).
ACTIVEMQ_MAX_REDELIVERIES, ACTIVEMQ_REDELIVERY_DELAY = 2, 1.5

WORLD = {
    "seed": 15,
    "time_unit": "s",
    "duration": 24,
    "drain": 8,
    "stores": {"count": 2, "workers": 1},
    "orders": {
        "online": {"rate": 4.0},
        "prep_time": {"dist": "uniform", "low": 0.1, "high": 0.5},
    },
    "failures": {
        "scripted": [
            {"store": 0, "at": 5.0, "down_for": 3.0},
            {"store": 1, "at": 11.0, "down_for": 3.0},
            {"store": 0, "at": 17.0, "down_for": 3.0},
        ]
    },
}



def _lasting(world: dict, down_for: float) -> dict:
    """`world` with each of its scripted crashes lasting `down_for`."""
    crashes = [{**crash, "down_for": down_for} for crash in world["failures"]["scripted"]]
    return {**world, "failures": {"scripted": crashes}}


#: A frozen consumer stays silent for 6 s, three heartbeat timeouts: RabbitMQ notices
#: the silence two to three timeouts after the last frame it read (4.6-5.1 s after the
#: freeze, measured), before the controller kills and restarts the consumer.
FREEZE_WORLD = _lasting(WORLD, 6.0)

#: SQS: preparations longer than the 1 s lease, so that a lease runs out mid-preparation;
#: three stores and a slower stream to keep the load below one.
SQS_WORLD = {
    **WORLD,
    "duration": 40,
    "drain": 10,
    "stores": {"count": 3, "workers": 1},
    "orders": {
        "online": {"rate": 0.6},
        "prep_time": {"dist": "uniform", "low": 1.2, "high": 2.0},
    },
    "failures": {
        "scripted": [
            {"store": 0, "at": 6.0, "down_for": 4.0},
            {"store": 1, "at": 14.0, "down_for": 4.0},
            {"store": 2, "at": 22.0, "down_for": 4.0},
        ]
    },
}


#: The model's `failures.crash` for each way the harness stops a consumer.
MODEL_CRASH = {"kill": "process", "freeze": "host"}


@dataclass(frozen=True)
class Case:
    """One comparison: `settings` are the design's section for `sim` (and what the real
    consumers and queue are set up with); `real` adds what only the real side needs."""

    name: str
    broker: str
    what: str
    settings: dict
    real: dict = field(default_factory=dict)
    world: dict = field(default_factory=lambda: WORLD)
    poison: float = 0.0
    crash: str = "kill"

    def scenario(self, replications: int, quick: bool = False) -> Scenario:
        """The case as a `sim` scenario in seconds, with its one design."""
        data = copy.deepcopy(self.world)
        data["name"] = f"calibration_{self.name}"
        data["replications"] = replications
        data["orders"]["poison"] = self.poison
        if quick:
            data["duration"] = data["duration"] / 2
            data["failures"]["scripted"] = data["failures"]["scripted"][:1]
        data["failures"]["crash"] = MODEL_CRASH[self.crash]
        data["designs"] = {self.name: {"queue": self.broker, self.broker: dict(self.settings)}}
        return Scenario.from_mapping(data)


RABBITMQ_BASE = {"heartbeat": HEARTBEAT, "prefetch": 1, "ack": "manual"}
ACTIVEMQ_BASE = {
    # Over STOMP the broker's inactivity monitor reads every heart-beat × 1.5 (its grace
    # period multiplier): that is the model's max_inactivity.
    "max_inactivity": HEARTBEAT * STOMP_GRACE,
    "max_redeliveries": ACTIVEMQ_MAX_REDELIVERIES,
    "redelivery_delay": ACTIVEMQ_REDELIVERY_DELAY,
}

CASES = {
    "rabbitmq": [
        Case("rabbitmq_kill", "rabbitmq", "manual ack, prefetch 1, consumer SIGKILLed "
             "mid-preparation", RABBITMQ_BASE, {"queue_type": "quorum"}),
        Case("rabbitmq_freeze", "rabbitmq", "manual ack, prefetch 1, consumer frozen "
             "(SIGSTOP): only heartbeats notice", RABBITMQ_BASE, {"queue_type": "quorum"},
             world=FREEZE_WORLD, crash="freeze"),
        Case("rabbitmq_unlimited", "rabbitmq", "manual ack, no prefetch limit, SIGKILL",
             {**RABBITMQ_BASE, "prefetch": None}, {"queue_type": "quorum"}),
        Case("rabbitmq_auto_ack", "rabbitmq", "auto ack, SIGKILL: what the consumer held "
             "is lost", {**RABBITMQ_BASE, "ack": "auto"}, {"queue_type": "quorum"}),
        Case("rabbitmq_poison_quorum", "rabbitmq", "poison orders (10%), quorum queue, "
             "x-delivery-limit 2, to a dead-letter exchange", {**RABBITMQ_BASE,
             "delivery_limit": 2}, {"queue_type": "quorum"}, poison=0.1),
        Case("rabbitmq_poison_classic", "rabbitmq", "poison orders (10%), classic queue: "
             "requeued for ever (model: delivery_limit 1000000)", {**RABBITMQ_BASE,
             "delivery_limit": 1_000_000}, {"queue_type": "classic"}, poison=0.1),
    ],
    "activemq": [
        Case("activemq_prefetch_1000", "activemq", "client ack, prefetch 1000, SIGKILL",
             {**ACTIVEMQ_BASE, "prefetch": 1000}),
        Case("activemq_prefetch_1", "activemq", "client ack, prefetch 1, SIGKILL",
             {**ACTIVEMQ_BASE, "prefetch": 1}),
        Case("activemq_freeze", "activemq", "client ack, prefetch 1, consumer frozen "
             "(SIGSTOP)", {**ACTIVEMQ_BASE, "prefetch": 1}, world=FREEZE_WORLD, crash="freeze"),
        # The broker runs with its redeliveryPlugin (servers.ACTIVEMQ_REDELIVERY), and a
        # STOMP NACK is a poison ack: the broker, not the client, redelivers.
        Case("activemq_poison_dlq", "activemq", "poison orders (10%), redeliveryPlugin: "
             f"maximumRedeliveries {ACTIVEMQ_MAX_REDELIVERIES} then ActiveMQ.DLQ",
             {**ACTIVEMQ_BASE, "prefetch": 1, "redelivery_plugin": True}, poison=0.1),
    ],
    "sqs": [
        Case("sqs_short_lease", "sqs", "visibility timeout 1 s, preparation 1.2–2 s: "
             "leases run out mid-preparation", {"visibility_timeout": 1.0}, world=SQS_WORLD),
        Case("sqs_heartbeat", "sqs", "visibility timeout 1 s extended every 0.5 s while "
             "preparing", {"visibility_timeout": 1.0, "extend_visibility": 0.5},
             world=SQS_WORLD),
        Case("sqs_redrive", "sqs", "poison orders (15%), leases extended, maxReceiveCount 3 "
             "to a DLQ", {"visibility_timeout": 1.0, "extend_visibility": 0.5,
                          "max_receive_count": 3}, world=SQS_WORLD, poison=0.15),
    ],
}
