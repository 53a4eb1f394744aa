"""Chain scale: `python benchmarks/scale.py [--stores 6,60,...] [--quick]`.

Runs the dominoes world (`scenarios/dominoes.yaml`) scaled to a chain: `stores.count` set,
the online rate proportional to the stores (0.8 per minute per 6 stores), walk-ins per
store as in the file, one replication of 8 simulated hours of orders plus the drain, one
design at a time (`mq_ring` at every size; `ram_only` and `mq_modulo` at 600 stores).
Each case runs in a fresh process on one core (`sim.run`, no pool) and prints orders,
wall seconds of `sim.run` (drawing the world, simulating, metrics), microseconds per
order, the CPU seconds of `sim.run` (this process's, so other processes on a busy
machine inflate the wall time more than this) and microseconds of CPU per order, and the
process's peak resident memory per order (`ru_maxrss`, so the interpreter and imports are
in it). Measurements, not tests: run it on a quiet machine, and read the load averages
it prints beside the table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = (6, 60, 600, 6000, 20000)
OTHER_DESIGNS = (("ram_only", 600), ("mq_modulo", 600))


def chain(stores: int, design: str):
    """The dominoes scenario at `stores` stores, one replication, one design."""
    from sim.loading import load_scenario
    from sim.scenario import Scenario

    base = load_scenario(ROOT / "scenarios" / "dominoes.yaml")
    data = base.to_mapping()
    data["stores"]["count"] = stores
    data["orders"]["online"]["rate"] = data["orders"]["online"]["rate"] * stores / 6
    data["replications"] = 1
    data["designs"] = {design: data["designs"][design]}
    return Scenario.from_mapping(data)


def case(stores: int, design: str) -> dict:
    """One measurement, in this process."""
    import sim

    scenario = chain(stores, design)
    started, cpu = time.perf_counter(), time.process_time()
    results = sim.run(scenario)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    orders = int(results.replications["arrived"].sum())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "stores": stores,
        "design": design,
        "orders": orders,
        "seconds": seconds,
        "cpu": cpu,
        "rss": rss,
    }


def measure(stores: int, design: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--case", str(stores), design],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{stores} stores, {design} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default=",".join(map(str, SIZES)))
    parser.add_argument("--case", nargs=2, metavar=("STORES", "DESIGN"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(case(int(args.case[0]), args.case[1])))
        return 0
    sizes = [int(s) for s in args.stores.split(",")]
    plan = [(n, "mq_ring") for n in sizes] + [(n, d) for d, n in OTHER_DESIGNS if n in sizes]
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)", flush=True)
    print(
        f"{'stores':>7} {'design':<10}{'orders':>11}{'wall s':>9}{'us/order':>10}"
        f"{'CPU s':>8}{'CPU us/order':>14}{'peak RSS':>10}{'RSS/order':>11}"
    )
    rows = []
    for stores, design in plan:
        row = measure(stores, design)
        rows.append(row)
        print(
            f"{stores:>7,} {design:<10}{row['orders']:>11,}{row['seconds']:>9.1f}"
            f"{row['seconds'] / row['orders'] * 1e6:>10.1f}{row['cpu']:>8.1f}"
            f"{row['cpu'] / row['orders'] * 1e6:>14.1f}{row['rss'] / 2**20:>7.0f} MiB"
            f"{row['rss'] / row['orders'] / 1024:>7.2f} KiB",
            flush=True,
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    base = next(r for r in rows if r["design"] == "mq_ring")
    for row in rows[1:]:
        wall = row["seconds"] / row["orders"] / (base["seconds"] / base["orders"])
        cpu = row["cpu"] / row["orders"] / (base["cpu"] / base["orders"])
        print(
            f"  {row['stores']:>6,} {row['design']:<10} per order: wall {wall:.2f}x, "
            f"CPU {cpu:.2f}x {base['stores']:,} stores"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
