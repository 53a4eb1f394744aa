"""The command line: parse arguments, run, print the tables, write the results folder.

python -m sim SCENARIO [options]        run every design (and every cell of a sweep)
python -m sim plan SCENARIO [options]   find the smallest value that meets the targets
python -m sim hashing [options]         the hashing study
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path

from sim.cache import Cache
from sim.executors import check_address, make_runner
from sim.experiment import run
from sim.hashing_study import format_study, study
from sim.loading import load_scenario
from sim.outputs import replaceable, write_plan, write_results, write_study
from sim.plan import plan
from sim.plan_outputs import format_cost_plan
from sim.scenario import Scenario, ScenarioError
from sim.table import format_comparisons, format_plan, format_summary, format_sweep

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def _common(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options every scenario command takes."""
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
        help="override a key, dotted (stores.count=8, "
        "designs.mq_ring.balancer.vnodes=40); repeatable",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="processes to run replications in (default: one per core; 1: this process)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on this Dask scheduler (or set DASK_SCHEDULER_ADDRESS)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def run_parser() -> argparse.ArgumentParser:
    parser = _common(
        argparse.ArgumentParser(
            prog="python -m sim",
            description="Simulate order processing when stores crash, and compare designs. "
            "Also: `python -m sim plan SCENARIO` and `python -m sim hashing`.",
        )
    )
    parser.add_argument(
        "--sweep",
        dest="sweeps",
        action="append",
        default=[],
        metavar="KEY=V1,V2,...",
        help="add a key to the sweep; repeatable",
    )
    parser.add_argument(
        "--precision",
        type=float,
        help="add replications until every interval's half-width is within "
        "this fraction of its mean (e.g. 0.05)",
    )
    parser.add_argument(
        "--max-replications", type=int, default=1000, help="cap for --precision (default 1000)"
    )
    parser.add_argument(
        "--orders", action="store_true", help="also write orders.parquet and timeline.csv"
    )
    parser.add_argument(
        "--no-plots", dest="plots", action="store_false", help="write no plots and no report.md"
    )
    return parser


def plan_parser() -> argparse.ArgumentParser:
    return _common(
        argparse.ArgumentParser(
            prog="python -m sim plan",
            description="Find the smallest value of the scenario's `plan.key` for which every "
            "target holds with 95%% confidence (bisection over the key).",
        )
    )


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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = {"hashing": hashing_main, "plan": plan_main}.get(argv[0] if argv else "")
    if command is not None:
        return command(argv[1:])
    return _guarded(run_main, run_parser().parse_args(argv))


def _guarded(command, args: argparse.Namespace) -> int:
    """Run a command with SIGTERM cleaning up like Ctrl-C, and interrupts reported."""
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if main_thread else None
    try:
        return command(args)
    except KeyboardInterrupt:
        print(
            "interrupted: no results written (finished replications are kept, and the "
            "same command resumes)",
            file=sys.stderr,
        )
        return 130
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _load(args: argparse.Namespace, sweeps: list[str] = ()) -> Scenario | None:
    sets = list(args.sets)
    if args.seed is not None:
        sets.append(f"seed={args.seed}")
    if args.replications is not None:
        sets.append(f"replications={args.replications}")
    if args.jobs is not None and args.jobs < 1:
        print("error: --jobs must be at least 1", file=sys.stderr)
        return None
    address = args.scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if address and check_address(address):
        source = "--scheduler" if args.scheduler else "DASK_SCHEDULER_ADDRESS"
        print(f"error: {source}: {check_address(address)}", file=sys.stderr)
        return None
    try:
        return load_scenario(args.scenario, sets, sweeps)
    except ScenarioError as error:
        for line in error.lines:
            print(f"error: {line}", file=sys.stderr)
        return None


def _out(args: argparse.Namespace, scenario: Scenario, suffix: str = "") -> Path | None:
    out = args.out if args.out is not None else Path("results") / (scenario.name + suffix)
    return _checked_out(out)


def _checked_out(out: Path) -> Path | None:
    problem = replaceable(out)
    if problem is not None:
        print(f"error: --out {out}: {problem}", file=sys.stderr)
        return None
    return out


def run_main(args: argparse.Namespace) -> int:
    """`python -m sim SCENARIO`: run, print, write."""
    if args.precision is not None and not 0 < args.precision < 1:
        print("error: --precision must be between 0 and 1 (e.g. 0.05)", file=sys.stderr)
        return EXIT_BAD_INPUT
    scenario = _load(args, args.sweeps)
    out = _out(args, scenario) if scenario is not None else None
    if scenario is None or out is None:
        return EXIT_BAD_INPUT
    cache = Cache(out.parent / f".{out.name}.partial")
    started = time.perf_counter()
    results = run(
        scenario,
        keep_orders=args.orders or (args.plots and not scenario.sweep),
        runner=make_runner(args.jobs, args.scheduler),
        progress=not args.quiet and sys.stderr.isatty(),
        trace=args.plots and not scenario.sweep,
        precision=args.precision,
        max_replications=args.max_replications,
        cache=cache,
    )
    if scenario.sweep:
        print(format_sweep(results.summary, scenario))
    else:
        print(format_summary(results.summary, scenario))
        print(format_comparisons(results.comparisons, scenario))
    for note in results.notes:
        print(note)
    written = write_results(results, out, tables=args.orders, figures=args.plots)
    if not results.errors:
        cache.clear()  # else keep it: the same command then redoes only the failed cells
    runs = len(results.replications)
    print(
        f"\n{runs} design runs in {time.perf_counter() - started:.1f} s; wrote "
        f"{', '.join(path.name for path in written)} to {out}/"
    )
    for cell, error in results.errors.items():
        print(f"error: cell {cell} failed: {error}", file=sys.stderr)
    return EXIT_FAILED if results.errors else EXIT_OK


def plan_main(argv: list[str]) -> int:
    """`python -m sim plan SCENARIO`: the capacity plan."""
    args = plan_parser().parse_args(argv)
    return _guarded(_plan, args)


def _plan(args: argparse.Namespace) -> int:
    scenario = _load(args)
    out = _out(args, scenario, "_plan") if scenario is not None else None
    if scenario is None or out is None:
        return EXIT_BAD_INPUT
    if scenario.plan is None:
        print(
            f"error: {args.scenario}: no `plan:` section (key, low, high, targets)", file=sys.stderr
        )
        return EXIT_BAD_INPUT
    runner = make_runner(args.jobs, args.scheduler)
    answer, evaluations = plan(scenario, runner, progress=not args.quiet)
    if scenario.plan.cost is not None:
        print(format_cost_plan(scenario, answer, evaluations))
    else:
        print(format_plan(scenario, answer, evaluations))
    written = write_plan(scenario, evaluations, answer, out)
    print(f"\nwrote {', '.join(path.name for path in written)} to {out}/")
    return EXIT_OK


def hashing_main(argv: list[str]) -> int:
    """`python -m sim hashing`: the hashing study."""
    return _guarded(_hashing, hashing_parser().parse_args(argv))


def _hashing(args: argparse.Namespace) -> int:
    if not 2 <= args.stores <= 1000 or not 1 <= args.keys <= 10_000_000:
        print("error: --stores must be 2 to 1000 and --keys 1 to 10,000,000", file=sys.stderr)
        return EXIT_BAD_INPUT
    if _checked_out(args.out) is None:
        return EXIT_BAD_INPUT
    frame = study(args.stores, args.keys)
    print(format_study(frame))
    written = write_study(frame, args.out)
    print(f"\nwrote {', '.join(path.name for path in written)} to {args.out}/")
    return EXIT_OK
