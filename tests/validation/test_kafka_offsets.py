"""Kafka's duplicates per crash against the auto-commit window, and its detection time.

Duplicates: with auto-commit, a crashed consumer's records fetched after its last commit
are read again by the partitions' next owner; those it had finished become duplicates.
A consumer that is polling commits at the grid `join + k * auto_commit_interval`; a crash
independent of that grid comes a time A ~ Uniform(0, I) after the last commit, so on
each partition it owned, with records arriving at rate λ_p and each taking d (no
queueing at this load), the records fetched in (crash − A, crash − d] are duplicates:
λ_p (I − d)² / (2 I) per partition owned, i.e. the consumer's throughput times the mean
time since its last commit, less d. Records in preparation at the crash are redone, not
duplicated. Same rule as every validation test (tests/validation/tolerance.py).
"""

from __future__ import annotations

from tolerance import assert_close

import sim
from sim.scenario import Scenario


def kafka_world(replications: int) -> Scenario:
    """30 stores of 4 workers, 60 partitions read with cooperative-sticky (so that a
    rebalance stops only the partitions that move, and no backlog builds on the others),
    12 records/s (λ_p = 0.2 per partition), d = 0.01 s, crashes every 3000 s per store
    repaired in 60 s: a crash rarely comes within an interval of a rebalance, whose
    backlog would otherwise be fetched after the commit timer restarted."""
    return Scenario.from_mapping(
        {
            "name": "kafka_commits",
            "seed": 5,
            "time_unit": "s",
            "duration": 3600.0,
            "drain": 120.0,
            "replications": replications,
            "stores": {"count": 30, "workers": 4},
            "orders": {
                "online": {"rate": 12.0},
                "prep_time": {"dist": "deterministic", "mean": 0.01},
            },
            "failures": {"mtbf": 3000.0, "mttr": 60.0},
            "designs": {
                "kafka": {
                    "queue": "kafka",
                    "kafka": {"partitions": 60, "assignor": "cooperative-sticky"},
                }
            },
        }
    )


def test_duplicates_per_crash_match_throughput_times_the_time_since_the_last_commit():
    """λ_p (I − d)² / (2 I) = 0.2 × 4.99² / 10 = 0.499 duplicates per partition owned at
    a crash (I = 5 s). Per replication: duplicates over the partitions the crashed
    consumers owned (each session expiry's `orders`). A model committing only every other
    interval (twice the duplicates) would fail. Bias left in: commit timers restart at
    every rebalance (about every 36 s here), which shortens the mean time since the last
    commit by about I² / (12 × 36 s), 2%."""
    scenario = kafka_world(20)
    results = sim.run(scenario)
    rows = results.replications.set_index("replication")
    timeline = results.timeline
    expiries = timeline[timeline["event"] == "detected_down"]
    owned = expiries.groupby("replication")["orders"].sum()
    per_partition = rows["duplicates"] / owned
    rate, d, interval = 12.0 / 60, 0.01, 5.0
    theory = rate * (interval - d) ** 2 / (2 * interval)
    assert_close(per_partition, theory, "Kafka duplicates per partition per crash", [2 * theory])
    assert rows["lost"].sum() <= 0.01 * rows["duplicates"].sum()  # rare at-most-once losses


def busy(changes, store: int, expiry: float) -> bool:
    """Another store crashed within a session timeout before `expiry` (or during the
    rebalance), or recovered (joined) just before it."""
    others = changes[changes["store"] != store]
    crashes = others[(others["event"] == "crash") & others["time"].between(expiry - 48, expiry + 3)]
    joins = others[(others["event"] == "recover") & others["time"].between(expiry - 51, expiry)]
    return len(crashes) + len(joins) > 0


def test_detection_then_rebalance_take_the_session_timeout_plus_rebalance_time():
    """From each crash to the end of the rebalance that follows its session expiry:
    within [session_timeout − heartbeat_interval, session_timeout] + rebalance_time =
    [42, 45] + 3 s, when no other member's session is pending at the expiry (the
    rebalance would wait for it) and no other rebalance is under way (it would absorb
    this one)."""
    results = sim.run(kafka_world(3))
    checked = 0
    for _, timeline in results.timeline.groupby("replication"):
        changes = timeline[timeline["event"].isin(["crash", "recover"])]
        expiries = timeline[timeline["event"] == "detected_down"]
        rebalances = timeline.loc[timeline["event"] == "rebalance", "time"].to_numpy()
        for _, expiry in expiries.iterrows():
            crash = expiry["time"] - expiry["detection_delay"]
            mine = changes[
                (changes["store"] == expiry["store"]) & ((changes["time"] - crash).abs() < 1e-6)
            ]
            assert len(mine) == 1
            assert mine["event"].iloc[0] == "crash"
            assert 42.0 <= expiry["detection_delay"] <= 45.0
            if busy(changes, expiry["store"], expiry["time"]):
                continue
            after = rebalances[rebalances >= expiry["time"]]
            assert 45.0 <= after[0] - crash <= 48.0
            checked += 1
    assert checked > 30
