"""What demand profiles, patience and traces cost per order: `python benchmarks/capacity.py`.

Times `run_replication` of the dominoes world with its online rate times `--scale`, as it
is, with a dinner profile, with impatient customers, and replaying a log of the same
orders (written to a temporary CSV). Prints microseconds per order and design (best of
`--repeats`). A measurement, not a test.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sim  # noqa: E402
from sim.experiment import run_replication  # noqa: E402
from sim.world import ONLINE, draw_world  # noqa: E402

PROFILE = {0: 0.35, 60: 0.55, 120: 0.8, 150: 2.5, 240: 0.65, 300: 0.3}


def cases(scale: float, folder: Path) -> dict:
    base = {"replications": 1, "orders__online__rate": 0.8 * scale}
    plain = sim.load_scenario(ROOT / "scenarios" / "dominoes.yaml", **base)
    world = draw_world(plain, 0)
    log = folder / "log.csv"
    with open(log, "w") as file:
        file.write("time,kind,store,prep_time\n")
        rows = zip(world.arrival.tolist(), world.prep.tolist(), world.pinned.tolist(), strict=True)
        for t, p, s in rows:
            file.write(
                f"{t!r},{'online' if s == ONLINE else 'offline'},{'' if s == ONLINE else s},{p!r}\n"
            )
    return {
        "plain": base,
        "profile": {**base, "orders__online__profile": PROFILE, "orders__offline__profile": "same"},
        "patience": {**base, "orders__patience": {"dist": "exponential", "mean": 20}},
        "trace": {
            "replications": 1,
            "orders__online__rate": 0,
            "orders__offline__rate": 0,
            "orders__trace": str(log),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=8.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for name, overrides in cases(args.scale, Path(folder)).items():
            scenario = sim.load_scenario(ROOT / "scenarios" / "dominoes.yaml", **overrides)
            orders = draw_world(scenario, 0).size * len(scenario.designs)
            best = min(_time(scenario) for _ in range(args.repeats))
            print(
                f"{name:10s} {orders / len(scenario.designs):8.0f} orders  "
                f"{best / orders * 1e6:6.2f} us per order and design"
            )


def _time(scenario) -> float:
    start = time.perf_counter()
    run_replication(scenario, 0, keep_orders=False)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
