"""A design in a few words, for the headings of the console table."""

from __future__ import annotations

from sim.sections import DesignSpec

BROKER_NAMES = {
    "sqs": "SQS",
    "rabbitmq": "RabbitMQ",
    "activemq": "ActiveMQ Classic",
    "kafka": "Kafka",
}


def design_words(spec: DesignSpec, unit: str) -> str:
    """What a design is, in a few words (the table's heading of a design)."""
    if spec.queue == "ram":
        return "RAM only"
    if spec.queue == "db":
        return (
            f"database, {spec.balancer.strategy} balancer, poll every "
            f"{spec.orchestrator.poll_interval:g} {unit}"
        )
    if spec.queue == "sqs":
        sqs = spec.sqs
        extend = (
            f", extended every {sqs.extend_visibility:g} {unit}"
            if sqs.extend_visibility is not None
            else ""
        )
        return f"SQS, visibility timeout {sqs.visibility_timeout:g} {unit}{extend}"
    if spec.queue == "rabbitmq":
        prefetch = spec.rabbitmq.prefetch
        limit = "unlimited" if prefetch is None else f"{prefetch}"
        return f"RabbitMQ, prefetch {limit}, {spec.rabbitmq.ack} ack"
    if spec.queue == "activemq":
        amq = spec.activemq
        plugin = ", broker redelivery" if amq.redelivery_plugin else ""
        return f"ActiveMQ Classic, prefetch {amq.prefetch}, {amq.ack} ack{plugin}"
    if spec.queue == "kafka":
        kafka = spec.kafka
        commits = "auto-commit" if kafka.enable_auto_commit else f"commit {kafka.commit}"
        static = ", static members" if kafka.static_membership else ""
        return f"Kafka, {kafka.partitions} partitions, {kafka.assignor}, {commits}{static}"
    return spec.queue
