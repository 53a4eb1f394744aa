"""The report's words about broker designs: why each one's numbers came out as they did,
from the broker's semantics and the run's numbers."""

from __future__ import annotations

import math

import pandas as pd

from sim.design_words import BROKER_NAMES
from sim.scenario import DesignSpec, Scenario
from sim.table import format_number


def broker_findings(summary: pd.DataFrame, scenario: Scenario) -> list[str]:
    """A sentence per broker design: its redeliveries, dead letters and duplicates, and
    the semantics behind them."""
    lines = []
    for design in scenario.designs:
        explain = _EXPLAIN.get(design.queue)
        if explain is None:
            continue
        value = _values(summary, design.name)
        counts = (
            f"**{design.name}** ({BROKER_NAMES[design.queue]}) redelivered "
            f"{format_number(value('redeliveries'))} messages per run, dead-lettered "
            f"{format_number(value('dead_lettered'))} and left "
            f"{format_number(value('unfinished'))} unfinished"
        )
        lines.append(counts + ": " + explain(design, scenario, value) + ".")
    return lines


def _values(summary: pd.DataFrame, design: str):
    rows = summary[summary["design"] == design].set_index("metric")["mean"]
    return lambda metric: float(rows.get(metric, math.nan))


def _poison(design_limit: str, scenario: Scenario, limited: bool) -> str:
    if scenario.orders.poison == 0:
        return ""
    if limited:
        return f"; poison orders reach the dead-letter queue after {design_limit}"
    return (
        "; with no redrive policy, poison orders come back forever, each time holding a "
        "worker for a whole preparation"
    )


def _sqs(design: DesignSpec, scenario: Scenario, value) -> str:
    sqs, unit = design.sqs, scenario.time_unit
    mean = scenario.orders.prep_time.mean
    if sqs.extend_visibility is None and sqs.visibility_timeout < mean:
        words = (
            f"its visibility timeout ({sqs.visibility_timeout:g} {unit}) is shorter than a "
            f"preparation ({mean:g} {unit} on average), so leases lapse while stores are "
            f"still preparing: each order is received again about every "
            f"{sqs.visibility_timeout:g} {unit} and prepared again "
            f"({format_number(value('duplicates'))} duplicates), and those copies queue "
            f"for the workers (95th percentile latency {format_number(value('latency_p95'))} "
            f"{unit})"
        )
    elif sqs.extend_visibility is not None and sqs.extend_visibility < sqs.visibility_timeout:
        words = (
            f"extending the visibility every {sqs.extend_visibility:g} {unit} keeps a lease "
            "alive while its order is prepared, so a message comes back only when its store "
            f"crashed (after at most {sqs.visibility_timeout:g} {unit}, with no detection) "
            f"or a delete was still in flight ({format_number(value('duplicates'))} "
            "duplicates)"
        )
    else:
        words = (
            "a crashed store's messages come back when their leases expire, with no "
            "orchestrator and no detection delay"
        )
    limit = f"{sqs.max_receive_count} receives"
    return words + _poison(limit, scenario, sqs.max_receive_count is not None)


def _rabbitmq(design: DesignSpec, scenario: Scenario, value) -> str:
    rabbit, unit = design.rabbitmq, scenario.time_unit
    if rabbit.ack == "auto":
        words = (
            "with automatic acks the broker forgets a message once it pushes it, so a crash "
            f"loses what the store held ({format_number(value('lost_online'))} online orders "
            "lost)"
        )
    elif rabbit.prefetch is None:
        words = (
            "with no prefetch limit the broker pushes every message at once, round robin, "
            "whatever the store's backlog, and keeps pushing to a crashed store until two "
            f"heartbeats are missed ({rabbit.heartbeat / 2:g} to {rabbit.heartbeat:g} {unit} "
            "after the crash); then its unacknowledged messages go to the others"
        )
    else:
        words = (
            f"with a prefetch of {rabbit.prefetch} per worker a store holds few messages: the "
            "rest wait at the broker for the first store with room, so a crash strands little "
            "and nothing waits behind a dead store"
        )
    if rabbit.ack == "manual" and value("duplicates") > 0:
        words += (
            f"; its {format_number(value('duplicates'))} duplicates are orders finished whose "
            f"ack had not landed (ack_delay {rabbit.ack_delay:g} {unit}) when the store "
            f"crashed, or deliveries unacknowledged for longer than consumer_timeout "
            f"({rabbit.consumer_timeout:g} {unit}), whose channel was closed"
        )
    return words + _poison(f"{rabbit.delivery_limit} returns", scenario, True)


def _activemq(design: DesignSpec, scenario: Scenario, value) -> str:
    amq, unit = design.activemq, scenario.time_unit
    words = (
        f"with a prefetch of {amq.prefetch} per worker, a crashed store held up to "
        f"{amq.prefetch * scenario.stores.workers} orders, redelivered only when the "
        f"inactivity monitor closed its connection (nothing read for {amq.max_inactivity:g} "
        f"{unit}); 95th percentile latency {format_number(value('latency_p95'))} {unit}"
    )
    if amq.ack == "auto":
        words += "; automatic acks lose the orders in preparation at a crash"
    limit = f"{amq.max_redeliveries} redeliveries (ActiveMQ.DLQ)"
    if amq.redelivery_plugin:
        limit = (
            f"{amq.max_redeliveries} redeliveries scheduled by the broker's redeliveryPlugin "
            f"(ActiveMQ.DLQ), the store taking its next order during each "
            f"{format_number(amq.redelivery_delay)} {unit} delay"
        )
    return words + _poison(limit, scenario, amq.max_redeliveries >= 0)


def _kafka(design: DesignSpec, scenario: Scenario, value) -> str:
    kafka, unit = design.kafka, scenario.time_unit
    mean = scenario.orders.prep_time.mean
    workers = scenario.stores.workers * scenario.stores.count
    words = (
        f"its {format_number(value('rebalances'))} rebalances per run stopped partitions for "
        f"{format_number(value('paused_time'))} {unit} in all, and up to "
        f"{format_number(value('max_lag'))} records waited in one partition"
    )
    if kafka.max_poll_interval < mean:
        words += (
            f"; a preparation ({mean:g} {unit} on average) is longer than max_poll_interval "
            f"({kafka.max_poll_interval:g} {unit}), so a consumer busy on every partition it "
            "owns stops polling and leaves the group, and its records are prepared again by "
            f"the next owner: a rebalance storm ({format_number(value('duplicates'))} "
            "duplicates)"
        )
    elif kafka.enable_auto_commit:
        every = format_number(kafka.auto_commit_interval)
        words += (
            f"; auto-commit every {every} {unit} commits records still in preparation, so "
            f"a crash loses those ({format_number(value('lost_online'))} online orders lost) "
            "and prepares again those finished since the last commit "
            f"({format_number(value('duplicates'))} duplicates)"
        )
    if kafka.partitions < workers:
        words += (
            f"; {kafka.partitions} partitions, read one record at a time, keep at most "
            f"{kafka.partitions} of the {workers} workers on online orders"
        )
    if scenario.orders.poison > 0:
        words += "; a poison record is retried in place and blocks its partition for good"
    return words


_EXPLAIN = {"sqs": _sqs, "rabbitmq": _rabbitmq, "activemq": _activemq, "kafka": _kafka}
