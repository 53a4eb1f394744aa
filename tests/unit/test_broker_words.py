"""The words the report and the notebooks use for ActiveMQ designs name the redelivery
that the design runs: the JMS client's, or the broker's redeliveryPlugin."""

from __future__ import annotations

import pandas as pd

from sim.broker_report import broker_findings
from sim.design_words import design_words
from sim.scenario import Scenario

PLUGIN = {"prefetch": 1, "redelivery_plugin": True, "redelivery_delay": "2s"}


def scenario(poison: float = 0.0) -> Scenario:
    return Scenario.from_mapping(
        {
            "name": "words",
            "time_unit": "s",
            "duration": 10,
            "stores": {"count": 1, "workers": 1},
            "orders": {
                "online": {"rate": 1.0},
                "poison": poison,
                "prep_time": {"dist": "deterministic", "mean": 1},
            },
            "designs": {
                "client": {"queue": "activemq", "activemq": {"prefetch": 1}},
                "plugin": {"queue": "activemq", "activemq": PLUGIN},
            },
        }
    )


def test_design_words_say_when_the_broker_redelivers():
    client, plugin = scenario().designs
    assert design_words(client, "s") == "ActiveMQ Classic, prefetch 1, client ack"
    assert design_words(plugin, "s") == (
        "ActiveMQ Classic, prefetch 1, client ack, broker redelivery"
    )


def test_the_report_names_the_plugin_for_poison_orders():
    summary = pd.DataFrame(
        [
            {"design": design, "metric": metric, "mean": 1.0}
            for design in ("client", "plugin")
            for metric in ("redeliveries", "dead_lettered", "unfinished", "latency_p95")
        ]
    )
    client, plugin = broker_findings(summary, scenario(poison=0.1))
    assert client.endswith("after 6 redeliveries (ActiveMQ.DLQ).")
    assert "6 redeliveries scheduled by the broker's redeliveryPlugin" in plugin
    assert plugin.endswith("during each 2 s delay.")
