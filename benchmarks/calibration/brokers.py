"""The producer's and the auditor's side of each real broker: declare the case's queue and
its dead-letter queue, publish orders, and at the end read what is left in each.

Each repetition gets queues of its own (named after the run), so nothing carries over
from one repetition to the next. What the consumers need to connect is `consumer_settings`.
"""

from __future__ import annotations

import json
import queue
import time

from benchmarks.calibration.cases import HEARTBEAT, Case
from benchmarks.calibration.schedule import Order

QUIET = 1.5  # seconds without a message after which a queue being read is taken as empty


def body(order: Order, run: str) -> str:
    """The message of `order`, tagged with the run (ActiveMQ's DLQ is shared)."""
    return json.dumps(
        {"order": order.order, "prep": order.prep, "poison": order.poison, "run": run}
    )


def orders_of(bodies, run: str) -> set[int]:
    """The orders of `run` among message bodies."""
    found = set()
    for text in bodies:
        message = json.loads(text)
        if message.get("run") == run:
            found.add(message["order"])
    return found


class Rabbitmq:
    """A quorum or classic queue with a dead-letter exchange; basic.get to audit."""

    def __init__(self, server: dict, case: Case, run: str):
        import pika

        self.pika = pika
        self.case, self.run, self.server = case, run, server
        params = pika.ConnectionParameters(server["host"], server["port"], heartbeat=0)
        self.connection = pika.BlockingConnection(params)
        self.channel = self.connection.channel()
        self.queue, self.dlq = run, f"{run}.dlq"
        self.channel.exchange_declare(f"{run}.dlx", "fanout")
        self.channel.queue_declare(self.dlq, durable=True)
        self.channel.queue_bind(self.dlq, f"{run}.dlx")
        arguments = {
            "x-queue-type": case.real["queue_type"],
            "x-dead-letter-exchange": f"{run}.dlx",
        }
        if case.real["queue_type"] == "quorum":
            arguments["x-delivery-limit"] = case.settings.get("delivery_limit", 20)
        self.channel.queue_declare(self.queue, durable=True, arguments=arguments)

    def consumer_settings(self) -> dict:
        settings = self.case.settings
        return {
            "queue": self.queue, "prefetch": settings["prefetch"], "ack": settings["ack"],
            "heartbeat": int(settings["heartbeat"]),
        }

    def publish(self, order: Order) -> None:
        properties = self.pika.BasicProperties(delivery_mode=2)
        self.channel.basic_publish("", self.queue, body(order, self.run), properties)

    def _read(self, name: str) -> set[int]:
        bodies = []
        while True:
            method, _, content = self.channel.basic_get(name, auto_ack=True)
            if method is None:
                return orders_of(bodies, self.run)
            bodies.append(content)

    def dead_lettered(self) -> set[int]:
        return self._read(self.dlq)

    def remaining(self) -> set[int]:
        time.sleep(0.5)  # the killed consumers' unacknowledged messages go back
        return self._read(self.queue)

    def close(self) -> None:
        for name in (self.queue, self.dlq):
            self.channel.queue_delete(name)
        self.channel.exchange_delete(f"{self.run}.dlx")
        self.connection.close()


class Activemq:
    """A queue over STOMP; dead letters go to the broker's shared ActiveMQ.DLQ."""

    def __init__(self, server: dict, case: Case, run: str):
        import stomp

        self.case, self.run = case, run
        self.connection = stomp.Connection([(server["host"], server["port"])])
        self.inbox: queue.Queue = queue.Queue()
        inbox = self.inbox

        class Listener(stomp.ConnectionListener):
            def on_message(self, frame) -> None:
                inbox.put(frame)

        self.connection.set_listener("", Listener())
        self.connection.connect(wait=True)
        self.queue = f"/queue/{run}"
        self.subscriptions = 0

    def consumer_settings(self) -> dict:
        return {"queue": self.queue, "prefetch": self.case.settings["prefetch"],
                "heartbeat": HEARTBEAT}

    def publish(self, order: Order) -> None:
        self.connection.send(self.queue, body(order, self.run), headers={"persistent": "true"})

    def _read(self, destination: str) -> set[int]:
        self.subscriptions += 1
        tag = str(self.subscriptions)
        self.connection.subscribe(destination, id=tag, ack="auto",
                                  headers={"activemq.prefetchSize": "1000"})
        bodies = []
        while True:
            try:
                bodies.append(self.inbox.get(timeout=QUIET).body)
            except queue.Empty:
                break
        self.connection.unsubscribe(tag)
        return orders_of(bodies, self.run)

    def dead_lettered(self) -> set[int]:
        return self._read("/queue/ActiveMQ.DLQ")

    def remaining(self) -> set[int]:
        return self._read(self.queue)

    def close(self) -> None:
        self.connection.disconnect()


class Sqs:
    """A standard queue on moto, with a redrive policy to a DLQ when the case has one."""

    def __init__(self, server: dict, case: Case, run: str):
        import boto3

        self.case, self.run = case, run
        self.client = boto3.client(
            "sqs", endpoint_url=f"http://{server['host']}:{server['port']}",
            region_name="us-east-1", aws_access_key_id="calibration",
            aws_secret_access_key="calibration",
        )
        self.dlq = self.client.create_queue(QueueName=f"{run}-dlq")["QueueUrl"]
        arn = self.client.get_queue_attributes(
            QueueUrl=self.dlq, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        attributes = {"VisibilityTimeout": str(self.lease)}
        limit = case.settings.get("max_receive_count")
        if limit is not None:
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": arn, "maxReceiveCount": str(limit)}
            )
        self.queue = self.client.create_queue(QueueName=run, Attributes=attributes)["QueueUrl"]

    @property
    def lease(self) -> int:
        # SQS takes whole seconds for a visibility timeout.
        return int(self.case.settings["visibility_timeout"])

    def consumer_settings(self) -> dict:
        return {"queue": self.queue, "visibility_timeout": self.lease,
                "extend_visibility": self.case.settings.get("extend_visibility")}

    def publish(self, order: Order) -> None:
        self.client.send_message(QueueUrl=self.queue, MessageBody=body(order, self.run))

    def _read(self, url: str) -> set[int]:
        bodies, empty = [], 0
        while empty < 2:
            answer = self.client.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600
            )
            messages = answer.get("Messages", [])
            empty = 0 if messages else empty + 1
            bodies += [m["Body"] for m in messages]
        return orders_of(bodies, self.run)

    def dead_lettered(self) -> set[int]:
        return self._read(self.dlq)

    def remaining(self) -> set[int]:
        time.sleep(self.lease + 0.5)  # leases of the killed consumers run out
        return self._read(self.queue)

    def close(self) -> None:
        for url in (self.queue, self.dlq):
            self.client.delete_queue(QueueUrl=url)


ADMINS = {"rabbitmq": Rabbitmq, "activemq": Activemq, "sqs": Sqs}
