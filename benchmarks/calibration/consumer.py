"""A store played by a real consumer process: `python consumer.py SETTINGS_JSON`.

It connects to the broker, takes one message at a time, "prepares" the order by sleeping
its preparation time, then acknowledges (RabbitMQ, ActiveMQ) or deletes (SQS) it; a
poison order fails instead (nack with requeue, STOMP NACK, or simply not deleted). Every
step is appended as one line to the events file (`epoch-seconds kind store order`),
written with a single `write` so that a SIGKILL never leaves half a line:

    ready   the consumer is connected and consuming (order -1)
    start   a message was handed to the application: preparation starts
    done    acknowledged or deleted after preparing
    fail    a poison order's attempt failed (nack / not deleted)

Only the standard library and the broker's client are imported, so that a restarted
consumer is back within a fraction of a second.
"""

from __future__ import annotations

import json
import os
import sys
import time

SQS_POLL = 0.05  # seconds between two empty receives


class Events:
    """The events file of one consumer incarnation."""

    def __init__(self, path: str, store: int):
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.store = store

    def log(self, kind: str, order: int) -> None:
        line = f"{time.time():.6f} {kind} {self.store} {order}\n"
        os.write(self.fd, line.encode())


def rabbitmq(settings: dict, events: Events) -> None:
    import pika

    params = pika.ConnectionParameters(
        settings["host"], settings["port"], heartbeat=settings["heartbeat"]
    )
    channel = pika.BlockingConnection(params).channel()
    auto = settings["ack"] == "auto"
    if settings["prefetch"] and not auto:
        channel.basic_qos(prefetch_count=settings["prefetch"])

    def prepare(channel, method, properties, body) -> None:
        order = json.loads(body)
        events.log("start", order["order"])
        time.sleep(order["prep"])
        if order["poison"]:
            if not auto:
                channel.basic_nack(method.delivery_tag, requeue=True)
            events.log("fail", order["order"])
            return
        if not auto:
            channel.basic_ack(method.delivery_tag)
        events.log("done", order["order"])

    channel.basic_consume(settings["queue"], prepare, auto_ack=auto)
    events.log("ready", -1)
    channel.start_consuming()


def activemq(settings: dict, events: Events) -> None:
    import queue

    import stomp

    inbox: queue.Queue = queue.Queue()

    class Listener(stomp.ConnectionListener):
        def on_message(self, frame) -> None:
            inbox.put(frame)

    beat = int(settings["heartbeat"] * 1000)
    connection = stomp.Connection([(settings["host"], settings["port"])], heartbeats=(beat, beat))
    connection.set_listener("", Listener())
    connection.connect(wait=True)
    headers = {"activemq.prefetchSize": str(settings["prefetch"])}
    connection.subscribe(settings["queue"], id="1", ack="client-individual", headers=headers)
    events.log("ready", -1)
    while True:
        frame = inbox.get()
        order = json.loads(frame.body)
        events.log("start", order["order"])
        time.sleep(order["prep"])
        message = frame.headers["message-id"]
        if order["poison"]:
            connection.nack(message, "1")
            events.log("fail", order["order"])
        else:
            connection.ack(message, "1")
            events.log("done", order["order"])


def sqs(settings: dict, events: Events) -> None:
    import boto3

    client = boto3.client(
        "sqs",
        endpoint_url=f"http://{settings['host']}:{settings['port']}",
        region_name="us-east-1",
        aws_access_key_id="calibration",
        aws_secret_access_key="calibration",
    )
    url = settings["queue"]
    events.log("ready", -1)
    while True:
        # Short polls every 50 ms rather than long polling: moto's long poll wakes only
        # for a new message, so a message whose lease ran out would wait for the end of
        # the poll, where SQS's long poll returns it as soon as it is visible.
        answer = client.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=0)
        if not answer.get("Messages"):
            time.sleep(SQS_POLL)
        for message in answer.get("Messages", []):
            order = json.loads(message["Body"])
            events.log("start", order["order"])
            _prepare_with_heartbeat(client, url, message, order["prep"], settings)
            if order["poison"]:
                events.log("fail", order["order"])  # not deleted: back when its lease ends
                continue
            client.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            events.log("done", order["order"])


def _prepare_with_heartbeat(client, url: str, message: dict, prep: float, settings: dict) -> None:
    """Sleep `prep`; with `extend_visibility`, call ChangeMessageVisibility every that often
    meanwhile, setting the visibility to the queue's timeout again (a lease heartbeat)."""
    period = settings.get("extend_visibility")
    end = time.monotonic() + prep
    while period:
        left = end - time.monotonic()
        if left <= period:
            break
        time.sleep(period)
        client.change_message_visibility(
            QueueUrl=url,
            ReceiptHandle=message["ReceiptHandle"],
            VisibilityTimeout=settings["visibility_timeout"],
        )
    time.sleep(max(0.0, end - time.monotonic()))


def main() -> None:
    settings = json.loads(sys.argv[1])
    events = Events(settings["events"], settings["store"])
    {"rabbitmq": rabbitmq, "activemq": activemq, "sqs": sqs}[settings["broker"]](settings, events)


if __name__ == "__main__":
    main()
