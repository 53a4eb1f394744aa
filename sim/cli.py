"""The command line: parse arguments, run, print the table, write the results folder."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from sim.experiment import run
from sim.hashing_study import format_study, study
from sim.loading import load_scenario
from sim.outputs import write_results, write_study
from sim.scenario import ScenarioError
from sim.table import format_summary

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sim",
        description="Simulate order processing when stores crash, and compare designs. "
        "(`python -m sim hashing --help`: the hashing study.)",
    )
    parser.add_argument("scenario", type=Path, help="the scenario YAML file")
    parser.add_argument("--out", type=Path, help="results folder (default: results/<name>)")
    parser.add_argument("--seed", type=int, help="override the scenario's seed")
    parser.add_argument("--replications", type=int, help="override the number of replications")
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a key, dotted (stores.count=8, designs.mq_ring.balancer.vnodes=40)",
    )
    parser.add_argument(
        "--orders", action="store_true", help="also write orders.parquet and timeline.csv"
    )
    parser.add_argument(
        "--jobs", type=int, default=1, help="replications run in parallel processes (default 1)"
    )
    parser.add_argument(
        "--no-plots", dest="plots", action="store_false", help="write no plots and no report.md"
    )
    parser.add_argument("--quiet", action="store_true", help="print no progress bar")
    return parser


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def hashing_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sim hashing",
        description="Measure every hash strategy: keys moved when a store leaves, balance, speed.",
    )
    parser.add_argument("--stores", type=int, default=10, help="number of stores (default 10)")
    parser.add_argument("--keys", type=int, default=20_000, help="number of keys (default 20000)")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("results") / "hashing",
        help="folder for hashing.csv and hashing.png (default results/hashing)",
    )
    return parser


def hashing_main(argv: list[str]) -> int:
    """`python -m sim hashing`: the hashing study."""
    args = hashing_parser().parse_args(argv)
    if not 2 <= args.stores <= 1000 or not 1 <= args.keys <= 10_000_000:
        print("error: --stores must be 2 to 1000 and --keys 1 to 10,000,000", file=sys.stderr)
        return EXIT_BAD_INPUT
    frame = study(args.stores, args.keys)
    print(format_study(frame))
    written = write_study(frame, args.out)
    print(f"\nwrote {', '.join(path.name for path in written)} to {args.out}/")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["hashing"]:
        return hashing_main(argv[1:])
    args = build_parser().parse_args(argv)
    if threading.current_thread() is not threading.main_thread():
        return _run(args)
    previous = signal.signal(signal.SIGTERM, _interrupt)  # clean up like Ctrl-C
    try:
        return _run(args)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    sets = list(args.sets)
    if args.seed is not None:
        sets.append(f"seed={args.seed}")
    if args.replications is not None:
        sets.append(f"replications={args.replications}")
    if args.jobs < 1:
        print("error: --jobs must be at least 1", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        scenario = load_scenario(args.scenario, sets)
    except ScenarioError as error:
        for line in error.lines:
            print(f"error: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    out = args.out if args.out is not None else Path("results") / scenario.name
    if out.exists() and not out.is_dir():
        print(f"error: --out {out}: exists and is not a folder", file=sys.stderr)
        return EXIT_BAD_INPUT
    progress = not args.quiet and sys.stderr.isatty()
    options = {
        "keep_orders": args.orders or args.plots,  # the latency plot reads the orders
        "trace": args.plots,
        "progress": progress,
    }
    try:
        if args.jobs > 1:
            with ProcessPoolExecutor(max_workers=min(args.jobs, os.cpu_count() or 1)) as pool:
                results = run(scenario, executor=pool, **options)
        else:
            results = run(scenario, **options)
        print(format_summary(results.summary, scenario))
        written = write_results(results, out, tables=args.orders, figures=args.plots)
    except KeyboardInterrupt:
        print("interrupted: no results written", file=sys.stderr)
        return 130
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(f"\nwrote {', '.join(path.name for path in written)} to {out}/")
    return EXIT_OK
