"""The benchmark suite: `python benchmarks/run.py [--repeats N] [--quick] [--out FILE]`.

Runs every case of `benchmarks/cases.py` in a fresh process, `--repeats` times (median
kept), prints a table with the targets, and writes the medians as JSON (default
`results/benchmarks.json`). Ciw is measured only if it is installed
(`pip install -e '.[bench]'`). Not part of the test suite: timings are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = Path(__file__).with_name("cases.py")
sys.path.insert(0, str(ROOT))


def measure(case: str, *args, repeats: int) -> dict:
    """Median of each numeric field over `repeats` fresh processes."""
    runs = []
    for _ in range(repeats):
        started, children = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(
            [sys.executable, str(CASES), case, *map(str, args)],
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
        )
        if done.returncode != 0:
            raise RuntimeError(f"case {case} {args} failed:\n{done.stderr}")
        row = json.loads(done.stdout.strip().splitlines()[-1])
        # The whole process, imports and start-up included (and the case's untimed
        # second run, when it counts events): wall seconds and CPU seconds.
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        row["process_seconds"] = time.perf_counter() - started
        row["process_cpu"] = (after.ru_utime + after.ru_stime) - (
            children.ru_utime + children.ru_stime
        )
        runs.append(row)
    return {
        key: statistics.median(r[key] for r in runs) if runs[0][key] is not None else None
        for key in runs[0]
    }


def have_ciw() -> bool:
    try:
        import ciw  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, one repeat")
    parser.add_argument(
        "--customers", type=int, default=None, help="M/M/10 customers (default 200,000)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "benchmarks.json")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    customers = args.customers or (20_000 if args.quick else 200_000)
    from sim.theory import mmc_wait

    report: dict = {"repeats": repeats, "customers": customers, "cores": os.cpu_count()}
    print(f"M/M/10, arrival rate 9, service rate 1, {customers:,} customers, median of {repeats}")
    mmc = {"sim": measure("mmc_sim", customers, repeats=repeats)}
    mmc["simpy_reference"] = measure("mmc_reference", customers, repeats=repeats)
    if have_ciw():
        mmc["ciw"] = measure("mmc_ciw", customers, repeats=repeats)
    theory = mmc_wait(9.0, 1.0, 10)
    print(
        f"  {'model':<18}{'orders/s':>12}{'events/s':>12}{'peak RSS MB':>13}"
        f"{'mean wait':>11}{'Erlang C':>10}"
    )
    for name, row in mmc.items():
        row["orders_per_s"] = row["customers"] / row["seconds"]
        row["events_per_s"] = row["events"] / row["seconds"] if row["events"] else None
        events = f"{row['events_per_s']:>12,.0f}" if row["events_per_s"] else f"{'-':>12}"
        print(
            f"  {name:<18}{row['orders_per_s']:>12,.0f}{events}"
            f"{row['peak_rss'] / 1e6:>13.0f}{row['mean_wait']:>11.4f}{theory:>10.4f}"
        )
    reference = mmc["simpy_reference"]["orders_per_s"]
    ratios = {"mmc_vs_reference": mmc["sim"]["orders_per_s"] / reference}
    # Whole processes, per order (both run their model twice: timed, then counting events).
    for kind in ("seconds", "cpu"):
        ratios[f"mmc_process_{kind}_vs_reference"] = (
            mmc["simpy_reference"][f"process_{kind}"] / mmc["simpy_reference"]["customers"]
        ) / (mmc["sim"][f"process_{kind}"] / mmc["sim"]["customers"])
    print(
        f"  whole process, sim over the SimPy reference: "
        f"{ratios['mmc_process_seconds_vs_reference']:.2f}x wall, "
        f"{ratios['mmc_process_cpu_vs_reference']:.2f}x CPU"
    )
    if "ciw" in mmc:
        ratios["mmc_vs_ciw"] = mmc["sim"]["orders_per_s"] / mmc["ciw"]["orders_per_s"]
    report["mmc"] = mmc

    print("\nDominoes, one replication of 80 hours of orders, one design at a time")
    dominoes = {}
    for design in ("ram_only", "mq_ring", "mq_modulo"):
        row = measure("dominoes", design, repeats=repeats)
        row["orders_per_s"] = row["customers"] / row["seconds"]
        dominoes[design] = row
        print(
            f"  {design:<18}{row['orders_per_s']:>12,.0f} orders/s"
            f"  ({row['orders_per_s'] / reference:.2f}x the SimPy reference)"
        )
    ratios["dominoes_db_vs_reference"] = (
        min(dominoes[d]["orders_per_s"] for d in ("mq_ring", "mq_modulo")) / reference
    )
    report["dominoes"] = dominoes

    print("\nBrokers, one replication of 80 hours of orders (scenarios/brokers.yaml)")
    brokers = {}
    for design in (
        "sqs_default",
        "sqs_extended",
        "rabbitmq_default",
        "rabbitmq_prefetch1",
        "activemq_default",
        "activemq_prefetch1",
        "kafka_default",
        "kafka_long_poll",
    ):
        row = measure("brokers", design, repeats=repeats)
        row["orders_per_s"] = row["customers"] / row["seconds"]
        brokers[design] = row
        print(
            f"  {design:<20}{row['orders_per_s']:>12,.0f} orders/s"
            f"  {row['events_per_order']:>6.1f} events/order"
        )
    report["brokers"] = brokers

    print("\nScale: dominoes (3 designs), orders x1, x4, x16")
    scale = {}
    factors = (1, 2, 4) if args.quick else (1, 4, 16)
    for keep in (0, 1):
        for factor in factors:
            row = measure("scale", factor, keep, repeats=repeats)
            row["seconds_per_order"] = row["seconds"] / row["customers"]
            scale[f"x{factor}_{'orders' if keep else 'no_orders'}"] = row
            print(
                f"  x{factor:<3} per-order table {'on ' if keep else 'off'}"
                f"{row['customers']:>10,} orders{row['seconds']:>8.2f} s"
                f"{row['seconds_per_order'] * 1e6:>8.2f} us/order"
                f"{row['peak_rss'] / 1e6:>8.0f} MB peak"
            )
    small, large = (f"x{factors[0]}", f"x{factors[-1]}")
    ratios["scale_time_per_order"] = (
        scale[f"{large}_no_orders"]["seconds_per_order"]
        / scale[f"{small}_no_orders"]["seconds_per_order"]
    )
    for keep in ("orders", "no_orders"):
        extra = scale[f"{large}_{keep}"]["peak_rss"] - scale[f"{small}_{keep}"]["peak_rss"]
        grown = scale[f"{large}_{keep}"]["customers"] - scale[f"{small}_{keep}"]["customers"]
        ratios[f"bytes_per_order_{keep}"] = extra / grown
    rows = scale[f"{large}_orders"]["rows"] - scale[f"{small}_orders"]["rows"]
    ratios["bytes_per_table_row"] = (
        scale[f"{large}_orders"]["peak_rss"] - scale[f"{large}_no_orders"]["peak_rss"]
    ) / scale[f"{large}_orders"]["rows"]
    print(
        f"  marginal resident bytes per order: {ratios['bytes_per_order_no_orders']:.0f} "
        f"(table off), {ratios['bytes_per_order_orders']:.0f} (table on, 3 rows an order); "
        f"per table row held: {ratios['bytes_per_table_row']:.0f}"
    )
    del rows
    report["scale"] = scale

    print("\nParallel: 8 replications of dominoes (400 hours each)")
    cores = os.cpu_count() or 1
    serial = measure("parallel", 1, repeats=repeats)
    pooled = measure("parallel", cores, repeats=repeats)
    speedup = serial["seconds"] / pooled["seconds"]
    ratios["parallel_efficiency"] = speedup / cores
    print(
        f"  1 process {serial['seconds']:.2f} s, {cores} processes {pooled['seconds']:.2f} s:"
        f" speed-up {speedup:.2f}, efficiency {speedup / cores:.2f}"
    )
    report["parallel"] = {"serial": serial, "pooled": pooled, "speedup": speedup}

    targets = [
        ("M/M/10: sim / SimPy reference orders/s", "mmc_vs_reference", ">=", 1.0),
        (
            "M/M/10 whole process: sim / reference, wall",
            "mmc_process_seconds_vs_reference",
            ">=",
            1.5,
        ),
        ("M/M/10 whole process: sim / reference, CPU", "mmc_process_cpu_vs_reference", ">=", 1.5),
        ("M/M/10: sim / Ciw orders/s", "mmc_vs_ciw", ">=", 4.0),
        ("dominoes db designs / reference orders/s", "dominoes_db_vs_reference", ">=", 1.0),
        ("time per order, largest / x1", "scale_time_per_order", "<=", 1.15),
        ("resident bytes per per-order table row", "bytes_per_table_row", "<=", 150),
        ("parallel efficiency", "parallel_efficiency", ">=", 0.8),
    ]
    print("\nTargets")
    for label, key, op, bound in targets:
        if key not in ratios:
            print(f"  {label:<44} not measured")
            continue
        value = ratios[key]
        ok = value >= bound if op == ">=" else value <= bound
        print(f"  {label:<44}{value:>10.2f}  {op} {bound:<6} {'ok' if ok else 'MISSED'}")
    report["ratios"] = ratios
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
