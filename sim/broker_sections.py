"""Settings of the brokers a design may use, one section each, named as the broker names
them and defaulting to the broker's documented default (README: "Brokers" cites each).

Durations are written with their unit (`30s`) in the broker's own terms and converted to
the scenario's `time_unit` (see `sim.durations`); a default below is that documented value
in seconds, converted the same way by `defaults_in`.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.durations import UNITS, NonNegativeDuration, PositiveDuration


class _BrokerSection(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    #: Duration fields whose default is given in seconds (the broker's documented value).
    SECONDS: ClassVar[dict[str, float]] = {}


class SqsSpec(_BrokerSection):
    """Amazon SQS: a shared queue with leases (visibility timeouts)."""

    SECONDS: ClassVar[dict[str, float]] = {"visibility_timeout": 30.0}

    visibility_timeout: PositiveDuration = 30.0  # seconds, converted by defaults_in
    batch: int = Field(default=1, ge=1, le=10)  # MaxNumberOfMessages
    max_receive_count: Annotated[int, Field(ge=1, le=1000)] | None = None
    extend_visibility: PositiveDuration | None = None
    delete_delay: NonNegativeDuration = 0.0
    fifo: bool = False
    idempotent: bool = False


class RabbitmqSpec(_BrokerSection):
    """RabbitMQ (AMQP 0-9-1, quorum queue): push with prefetch, acks, heartbeats."""

    SECONDS: ClassVar[dict[str, float]] = {"heartbeat": 60.0, "consumer_timeout": 1800.0}

    prefetch: Annotated[int, Field(ge=1, le=65535)] | None = None  # basic.qos; None: unlimited
    ack: Literal["manual", "auto"] = "manual"
    heartbeat: PositiveDuration = 60.0
    consumer_timeout: PositiveDuration = 1800.0
    durable: bool = True
    delivery_limit: int = Field(default=20, ge=0, le=1_000_000)
    ack_delay: NonNegativeDuration = 0.0


class ActivemqSpec(_BrokerSection):
    """ActiveMQ Classic (JMS over OpenWire): prefetch, acknowledgement, redelivery policy."""

    SECONDS: ClassVar[dict[str, float]] = {"max_inactivity": 30.0, "redelivery_delay": 1.0}

    prefetch: int = Field(default=1000, ge=1, le=32766)
    persistent: bool = True
    ack: Literal["client", "auto"] = "client"
    max_inactivity: PositiveDuration = 30.0
    max_redeliveries: int = Field(default=6, ge=-1, le=1_000_000)  # -1: unlimited
    redelivery_delay: NonNegativeDuration = 1.0
    backoff: float = Field(default=1.0, ge=1.0, le=100.0)
    redelivery_plugin: bool = False  # <redeliveryPlugin>: the broker redelivers, not the client

    @model_validator(mode="before")
    @classmethod
    def _lax_backoff(cls, data: Any) -> Any:
        # A whole number is a fine multiplier: `backoff: 2`.
        if isinstance(data, dict) and type(data.get("backoff")) is int:
            return {**data, "backoff": float(data["backoff"])}
        return data


class KafkaSpec(_BrokerSection):
    """Apache Kafka: one topic of `partitions`, the stores one consumer group."""

    SECONDS: ClassVar[dict[str, float]] = {
        "rebalance_time": 3.0,
        "session_timeout": 45.0,
        "heartbeat_interval": 3.0,
        "max_poll_interval": 300.0,
        "auto_commit_interval": 5.0,
    }

    partitions: int = Field(default=12, ge=1, le=10_000)
    assignor: Literal["range", "roundrobin", "sticky", "cooperative-sticky"] = "range"
    rebalance_time: NonNegativeDuration = 3.0  # join and sync (not a Kafka setting)
    session_timeout: PositiveDuration = 45.0  # session.timeout.ms
    heartbeat_interval: PositiveDuration = 3.0  # heartbeat.interval.ms
    static_membership: bool = False  # group.instance.id set
    max_poll_interval: PositiveDuration = 300.0  # max.poll.interval.ms
    enable_auto_commit: bool = True  # enable.auto.commit
    auto_commit_interval: PositiveDuration = 5.0  # auto.commit.interval.ms
    commit: Literal["none", "sync"] = "none"  # the application's own commitSync per record
    commit_delay: NonNegativeDuration = 0.0  # from a commit request to the offset landing


BROKER_SECTIONS: dict[str, type[_BrokerSection]] = {
    "sqs": SqsSpec,
    "rabbitmq": RabbitmqSpec,
    "activemq": ActivemqSpec,
    "kafka": KafkaSpec,
}


def defaults_in(section: str, raw: Any, time_unit: str) -> Any:
    """`raw` (a section as written) with each documented default duration that it leaves
    out filled in, in `time_unit`: the defaults are the brokers' values in seconds, so a
    scenario whose time_unit is not a real unit must give them itself."""
    model = BROKER_SECTIONS[section]
    if not isinstance(raw, dict) or time_unit not in UNITS:
        return raw
    filled = dict(raw)
    for key, seconds in model.SECONDS.items():
        filled.setdefault(key, seconds / UNITS[time_unit])
    return filled
