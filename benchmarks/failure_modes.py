"""Cost of the failure modes: `python benchmarks/failure_modes.py [--stores 10,100,1000]`.

Lost poll answers are drawn per poll per store, but a poll round visits only the stores
whose answer can change a count: those whose answer is lost this round, and, while
anything is counted, the rest. This script runs a chain with lost answers and no crashes
for several chain sizes and prints the time per order, the rounds held, and the stores
read per round (counted by wrapping `Orchestrator._read`, outside any timed region's
logic: the count is exact, the timing is a separate run). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.model import simulate
from sim.model.orchestrator import Orchestrator
from sim.scenario import Scenario
from sim.world import draw_world


def chain(stores: int, poll_loss: float) -> Scenario:
    """`stores` stores, 0.2 orders per minute each, polled every minute for 2,000 min."""
    return Scenario.from_mapping(
        {
            "name": "lossy_chain",
            "seed": 1,
            "duration": 2000.0,
            "drain": 50.0,
            "stores": {"count": stores, "workers": 2},
            "orders": {
                "online": {"rate": 0.2 * stores},
                "prep_time": {"dist": "exponential", "mean": 5},
            },
            "network": {"poll_loss": poll_loss},
            "orchestrator": {"poll_interval": 1.0, "misses": 2},
            "designs": {"mq": {"queue": "db"}},
        }
    )


def measure(stores: int, poll_loss: float) -> dict:
    scenario = chain(stores, poll_loss)
    world = draw_world(scenario, 0)
    design = scenario.designs[0]
    started = time.perf_counter()
    simulate(world, scenario.stores, design)
    seconds = time.perf_counter() - started
    counts = {"rounds": 0, "reads": 0}
    read = Orchestrator._read

    def counting(self, visited, lost, now):
        counts["rounds"] += 1
        counts["reads"] += len(visited)
        return read(self, visited, lost, now)

    Orchestrator._read = counting
    try:
        record = simulate(world, scenario.stores, design)
    finally:
        Orchestrator._read = read
    falsely = sum(1 for event in record.timeline if event[1] == "false_detection")
    return {
        "orders": world.size,
        "us_per_order": seconds / world.size * 1e6,
        "rounds_read": counts["rounds"],
        "reads_per_round": counts["reads"] / max(1, counts["rounds"]),
        "false_detections": falsely,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="10,100,1000")
    parser.add_argument("--poll-loss", type=float, default=0.001)
    args = parser.parse_args()
    print(f"poll_loss {args.poll_loss}, misses 2, 2,050 polls per store, no crashes")
    print(f"{'stores':>7}{'orders':>10}{'us/order':>10}{'rounds read':>13}{'stores/round':>14}")
    for stores in (int(s) for s in args.stores.split(",")):
        row = measure(stores, args.poll_loss)
        print(
            f"{stores:>7}{row['orders']:>10,}{row['us_per_order']:>10.2f}"
            f"{row['rounds_read']:>13,}{row['reads_per_round']:>14.2f}"
        )


if __name__ == "__main__":
    main()
