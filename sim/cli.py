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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sim import __version__
from sim.executors import (
    DEFAULT_CLUSTER_TIMEOUT,
    MAX_CLUSTER_TIMEOUT,
    ClusterError,
    check_address,
    check_jobs,
)
from sim.interrupts import EXIT_INTERRUPTED
from sim.lock import Busy, lock_path, locked
from sim.terminal import EXIT_BROKEN_PIPE, say, silence_stdout

if TYPE_CHECKING:
    from sim.scenario import Scenario

# The modules behind each command (numpy, pandas, pydantic, matplotlib) are imported in
# the command that needs them, so that `--help` and argument errors answer at once.

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
#: The most replications `--precision` may add up to (the scenario's own limit).
MAX_REPLICATIONS = 100_000


def _common(
    parser: argparse.ArgumentParser, out: str = "results/<name>"
) -> argparse.ArgumentParser:
    """The options every scenario command takes (`out`: the default results folder, as
    help says it; <name> is the scenario's name)."""
    parser.add_argument("scenario", type=Path, help="the scenario YAML file")
    parser.add_argument("--out", type=Path, help=f"results folder (default: {out})")
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
    parser.add_argument(
        "--cluster-timeout",
        type=float,
        default=DEFAULT_CLUSTER_TIMEOUT,
        metavar="SECONDS",
        help="with --scheduler: give up when the scheduler does not answer, or has no "
        f"workers, for this long (default {DEFAULT_CLUSTER_TIMEOUT:g})",
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
    parser.add_argument("--version", action="version", version=f"sim {__version__}")
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
        "this fraction of its mean (e.g. 0.05); if --max-replications comes first, a "
        "warning names every interval still too wide",
    )
    parser.add_argument(
        "--max-replications",
        type=int,
        default=1000,
        help=f"cap for --precision (default 1000, at most {MAX_REPLICATIONS:,})",
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
            "target holds with 95% confidence (bisection over the key).",
        ),
        out="results/<name>_plan",
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
        default=Path("results") / "hashing_study",
        help="folder for hashing.csv and hashing.png (default results/hashing_study; "
        "results/hashing is scenarios/hashing.yaml's)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # The command line writes figures to files and never shows one; set before matplotlib
    # is imported (lazily, by the command that draws), so no GUI backend is tried.
    os.environ["MPLBACKEND"] = "Agg"
    commands = {"hashing": hashing_main, "plan": plan_main}
    command = commands.get(argv[0] if argv else "")
    if command is not None:
        return command(argv[1:])
    if argv and _mistyped_command(argv[0], commands):
        return EXIT_BAD_INPUT
    return _guarded(run_main, run_parser().parse_args(argv))


def _mistyped_command(word: str, commands) -> bool:
    """Say "did you mean" for a first argument that is no file but near a subcommand."""
    if word.startswith("-") or Path(word).exists():
        return False
    from sim.suggest import closest

    match = closest(word, commands)
    if match is None:
        return False
    say(
        f"error: {word}: no such scenario file, and no command {word!r} "
        f"(did you mean `python -m sim {match}`?)",
        sys.stderr,
    )
    return True


def _guarded(command, args: argparse.Namespace) -> int:
    """Run a command with Ctrl-C and SIGTERM cleaning up (both raise KeyboardInterrupt),
    and interrupts, broken pipes and cluster failures reported in a line, not a traceback."""
    global _signalled
    _signalled = False
    main_thread = threading.current_thread() is threading.main_thread()
    if main_thread:
        previous = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGINT, _interrupt)
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        status = command(args)
        sys.stdout.flush()  # now, so that a reader gone away is seen here, not at exit
        return status
    except KeyboardInterrupt:
        return _interrupted()
    except BrokenPipeError:
        silence_stdout()  # the reader went away: the results are written, nothing to say
        return EXIT_BROKEN_PIPE
    except _NotPrinted as error:
        say(f"error: {error}", sys.stderr)
        return error.status
    except (Busy, ClusterError) as error:
        say(f"error: {error}", sys.stderr)
        return EXIT_FAILED
    except OSError as error:
        if _signalled:
            return _interrupted()
        silence_stdout()  # it may be stdout that failed (a full disk): not again at exit
        say(f"error: {error}", sys.stderr)
        return EXIT_FAILED
    except Exception:
        # A KeyboardInterrupt raised inside an extension module's initialisation comes
        # out as another error ("ImportError: initialization failed"): still Ctrl-C's.
        if _signalled:
            return _interrupted()
        raise
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous[0])
            signal.signal(signal.SIGTERM, previous[1])


_signalled = False  # Ctrl-C or SIGTERM arrived during the command


def _interrupt(signum: int, frame: object) -> None:
    global _signalled
    _signalled = True
    raise KeyboardInterrupt


def _interrupted() -> int:
    say(
        "interrupted: no results written (finished replications are kept, and the "
        "same command resumes)",
        sys.stderr,
    )
    return EXIT_INTERRUPTED


def _load(args: argparse.Namespace, sweeps: list[str] = ()) -> Scenario | None:
    """The scenario with the command line's overrides, or None after saying what is wrong
    with it or with the other options."""
    from sim.loading import load_scenario
    from sim.scenario import ScenarioError

    sets = list(args.sets)
    if args.seed is not None:
        sets.append(f"seed={args.seed}")
    if args.replications is not None:
        sets.append(f"replications={args.replications}")
    problems = [problem for problem in _option_problems(args) if problem]
    if not problems:
        try:
            return load_scenario(args.scenario, sets, sweeps)
        except ScenarioError as error:
            problems = error.lines
    for line in problems:
        say(f"error: {line}", sys.stderr)
    return None


def _option_problems(args: argparse.Namespace) -> Iterator[str | None]:
    """What is wrong with the options that are not keys of the scenario."""
    if args.jobs is not None:
        yield check_jobs(args.jobs)
    address = args.scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if address and check_address(address):
        source = "--scheduler" if args.scheduler else "DASK_SCHEDULER_ADDRESS"
        yield f"{source}: {check_address(address)}"
    if not 0 < args.cluster_timeout <= MAX_CLUSTER_TIMEOUT:
        yield f"--cluster-timeout must be more than 0 and at most {MAX_CLUSTER_TIMEOUT:g} s"
    maximum = getattr(args, "max_replications", None)
    if maximum is not None and not 1 <= maximum <= MAX_REPLICATIONS:
        yield f"--max-replications must be 1 to {MAX_REPLICATIONS:,} (got {maximum})"
    precision = getattr(args, "precision", None)
    if precision is not None and not 0 < precision < 1:
        yield "--precision must be between 0 and 1 (e.g. 0.05)"


def _out(args: argparse.Namespace, scenario: Scenario, suffix: str = "") -> Path | None:
    out = args.out if args.out is not None else Path("results") / (scenario.name + suffix)
    return _checked_out(out)


def _checked_out(out: Path) -> Path | None:
    from sim.outputs import replaceable

    problem = replaceable(out)
    if problem is not None:
        say(f"error: --out {out}: {problem}", sys.stderr)
        return None
    return out


@contextmanager
def _only_run_on(out: Path) -> Iterator[None]:
    """Hold the lock of results folder `out`: a second run on it is refused."""
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with locked(lock_path(out)):
            yield
    except Busy as error:
        raise Busy(f"--out {out}: {error}; wait for it, or choose another --out") from None


class _NotPrinted(Exception):
    """The results are written but could not be printed; `status` is the exit status."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


@contextmanager
def _printing(out: Path) -> Iterator[None]:
    """Print the results of a run already written to `out`: a reader that went away
    (BrokenPipeError) ends it quietly; any other failure says where the results are."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except KeyboardInterrupt:
        raise _NotPrinted(
            f"interrupted while printing; the results are in {out}/", EXIT_INTERRUPTED
        ) from None
    except OSError as error:
        silence_stdout()  # else flushing at exit fails again
        message = error.strerror or str(error)
        raise _NotPrinted(
            f"could not print the results ({message}); they are in {out}/", EXIT_FAILED
        ) from None


def run_main(args: argparse.Namespace) -> int:
    """`python -m sim SCENARIO`: run, write, then print."""
    from sim.cache import Cache
    from sim.executors import make_runner
    from sim.experiment import run
    from sim.outputs import write_results

    scenario = _load(args, args.sweeps)
    out = _out(args, scenario) if scenario is not None else None
    if scenario is None or out is None:
        return EXIT_BAD_INPUT
    started = time.perf_counter()
    with _only_run_on(out):
        cache = Cache(out.parent / f".{out.name}.partial")
        results = run(
            scenario,
            keep_orders=args.orders or (args.plots and not scenario.sweep),
            runner=make_runner(args.jobs, args.scheduler, args.cluster_timeout),
            progress=not args.quiet and sys.stderr.isatty(),
            trace=args.plots and not scenario.sweep,
            precision=args.precision,
            max_replications=args.max_replications,
            cache=cache,
        )
        written = write_results(results, out, tables=args.orders, figures=args.plots)
        if not results.errors:
            cache.clear()  # else keep it: the same command then redoes only the failed cells
    with _printing(out):
        _print_results(results, scenario)
        say(
            f"\n{len(results.replications)} design runs in "
            f"{time.perf_counter() - started:.1f} s; "
            f"wrote {', '.join(path.name for path in written)} to {out}/"
        )
    for cell, error in results.errors.items():
        say(f"error: cell {cell} failed: {error}", sys.stderr)
    return EXIT_FAILED if results.errors else EXIT_OK


def _print_results(results, scenario: Scenario) -> None:
    """The tables, then the notes (written already: printing can fail without loss)."""
    from sim.table import format_comparisons, format_summary, format_sweep

    if scenario.sweep:
        say(format_sweep(results.summary, scenario))
    else:
        say(format_summary(results.summary, scenario))
        say(format_comparisons(results.comparisons, scenario))
    for note in results.notes:
        say(note, sys.stderr if note.startswith("note:") else sys.stdout)
    for warning in results.warnings:
        say(f"warning: {warning}", sys.stderr)


def plan_main(argv: list[str]) -> int:
    """`python -m sim plan SCENARIO`: the capacity plan."""
    args = plan_parser().parse_args(argv)
    return _guarded(_plan, args)


def _plan(args: argparse.Namespace) -> int:
    from sim.executors import make_runner
    from sim.outputs import write_plan
    from sim.plan import plan
    from sim.plan_outputs import format_cost_plan
    from sim.table import format_plan

    scenario = _load(args)
    out = _out(args, scenario, "_plan") if scenario is not None else None
    if scenario is None or out is None:
        return EXIT_BAD_INPUT
    if scenario.plan is None:
        say(f"error: {args.scenario}: no `plan:` section (key, low, high, targets)", sys.stderr)
        return EXIT_BAD_INPUT
    runner = make_runner(args.jobs, args.scheduler, args.cluster_timeout)
    with _only_run_on(out):
        found = plan(scenario, runner, progress=not args.quiet)
        written = write_plan(found, out)
    with _printing(out):
        if scenario.plan.cost is not None:
            say(format_cost_plan(scenario, found.answer, found.evaluations))
        else:
            say(format_plan(scenario, found.answer, found.evaluations))
        say(f"\nwrote {', '.join(path.name for path in written)} to {out}/")
    return EXIT_OK


def hashing_main(argv: list[str]) -> int:
    """`python -m sim hashing`: the hashing study."""
    return _guarded(_hashing, hashing_parser().parse_args(argv))


def _hashing(args: argparse.Namespace) -> int:
    from sim.hashing_study import format_study, study
    from sim.outputs import write_study

    if not 2 <= args.stores <= 1000 or not 1 <= args.keys <= 10_000_000:
        say("error: --stores must be 2 to 1000 and --keys 1 to 10,000,000", sys.stderr)
        return EXIT_BAD_INPUT
    if _checked_out(args.out) is None:
        return EXIT_BAD_INPUT
    with _only_run_on(args.out):
        frame = study(args.stores, args.keys)
        written = write_study(frame, args.out)
    with _printing(args.out):
        say(format_study(frame))
        say(f"\nwrote {', '.join(path.name for path in written)} to {args.out}/")
    return EXIT_OK
