"""A fixed sweep, serially and on the process pool: `python benchmarks/sweep.py [--jobs N]`.

Prints the wall-clock time of each, the speed-up and the parallel efficiency (speed-up ÷
workers), and checks that both gave the same numbers. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sim  # noqa: E402  (the project root must be importable first)
from sim.executors import make_runner  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    scenario = sim.load_scenario(ROOT / "scenarios" / "capacity.yaml", replications=30)
    cells = 1
    for values in scenario.sweep.values():
        cells *= len(values)
    print(f"capacity.yaml: {cells} cells x {scenario.replications} replications")
    timings = {}
    results = {}
    for jobs in (1, args.jobs):
        started = time.perf_counter()
        results[jobs] = sim.run(scenario, runner=make_runner(jobs=jobs))
        timings[jobs] = time.perf_counter() - started
        print(f"  {jobs} process{'es' if jobs > 1 else ''}: {timings[jobs]:.2f} s")
    same = results[1].replications.equals(results[args.jobs].replications)
    speedup = timings[1] / timings[args.jobs]
    print(
        f"speed-up {speedup:.2f} on {args.jobs} processes, efficiency "
        f"{speedup / args.jobs:.2f}; identical numbers: {same}"
    )
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
