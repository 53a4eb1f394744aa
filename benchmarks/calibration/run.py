"""Hold `sim`'s broker models against the real brokers, on this machine:

    python benchmarks/calibration/run.py rabbitmq|activemq|sqs [--quick] [--repetitions N]
                                         [--case NAME ...] [--out DIR]

Starts the broker on 127.0.0.1 (RabbitMQ and ActiveMQ from their Debian packages, SQS as
moto's server), runs every case of `cases.py` on it `--repetitions` times with real
consumer processes, runs the same scenario through `sim`, prints the two side by side,
and writes `repetitions.csv`, `comparison.csv`, `comparison.png` and `tables.md` to
`results/calibration/<broker>/`. The broker is stopped at the end whatever happens.
Nothing is installed: a missing package is named with the command that installs it
(exit status 2). A study, not a test: timings depend on the machine's load, which is
printed with the results.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # run as a script: this checkout's `sim` and harness

from benchmarks.calibration import compare, report, servers  # noqa: E402
from benchmarks.calibration.cases import CASES, Case  # noqa: E402
from benchmarks.calibration.model import model_outcome  # noqa: E402
from benchmarks.calibration.real import Diagnostics, run_repetition  # noqa: E402
from benchmarks.calibration.schedule import schedule_of  # noqa: E402


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("broker", choices=sorted(CASES))
    parser.add_argument("--quick", action="store_true",
                        help="half the duration, one crash, two repetitions")
    parser.add_argument("--repetitions", type=int, default=None,
                        help="repetitions per case (default 5; 2 with --quick)")
    parser.add_argument("--case", action="append", default=[], help="run only these cases")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "calibration")
    parser.add_argument("--replay", action="store_true",
                        help="no broker: compare the recorded runs with the model as it is now")
    return parser.parse_args(argv)


def run_case(case: Case, server: dict, repetitions: int, quick: bool, folder: Path):
    """Both sides of one case; (rows of repetitions.csv, the comparison rows)."""
    scenario = case.scenario(repetitions, quick)
    broker, model, per_run = [], [], []
    for repetition in range(repetitions):
        schedule = schedule_of(scenario, repetition)
        place = folder / case.name / str(repetition)
        if server is None:  # --replay: the broker's side as it was recorded
            outcome, diagnostics = load_outcome(place)
        else:
            run = f"{case.name}-{repetition}-{int(time.time())}"
            outcome, diagnostics = run_repetition(server, case, schedule, place, run)
            save_outcome(place, outcome, diagnostics)
        real = compare.metrics(outcome)
        simulated = compare.metrics(model_outcome(scenario, repetition))
        broker.append(real)
        model.append(simulated)
        extra = {
            "load_average": max(diagnostics.load, default=os.getloadavg()[0]),
            "controller_late_max": max(diagnostics.late, default=0.0),
            "restart_ready_mean": _mean(diagnostics.restart_ready),
        }
        per_run.append({"case": case.name, "side": "broker", "repetition": repetition,
                        **real, **extra})
        per_run.append({"case": case.name, "side": "model", "repetition": repetition,
                        **simulated})
        print(f"  repetition {repetition}: load {extra['load_average']:.2f}, controller late "
              f"at most {extra['controller_late_max'] * 1000:.0f} ms, restarted consumer "
              f"ready after {extra['restart_ready_mean']:.2f} s", flush=True)
    return per_run, compare.side_by_side(broker, model)


def save_outcome(place: Path, outcome: compare.Outcome, diagnostics: Diagnostics) -> None:
    """Keep what the broker did, so that `--replay` can compare it with a changed model."""
    data = {**asdict(outcome), "dead_lettered": sorted(outcome.dead_lettered),
            "lost": sorted(outcome.lost), "diagnostics": asdict(diagnostics)}
    (place / "outcome.json").write_text(json.dumps(data))


def load_outcome(place: Path) -> tuple[compare.Outcome, Diagnostics]:
    path = place / "outcome.json"
    if not path.exists():
        raise SystemExit(f"calibration: nothing recorded at {path}: run without --replay first")
    data = json.loads(path.read_text())
    diagnostics = Diagnostics(**data.pop("diagnostics"))
    data["events"] = [tuple(event) for event in data["events"]]
    data["crashes"] = [tuple(crash) for crash in data["crashes"]]
    data["dead_lettered"], data["lost"] = set(data["dead_lettered"]), set(data["lost"])
    return compare.Outcome(**data), diagnostics


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _stop_on_signals() -> None:
    """SIGTERM and SIGHUP end the study as Ctrl-C does, through the `finally` blocks that
    stop the consumers and the broker (a background job ignores SIGINT: restore it)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda number, frame: sys.exit(128 + number))


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    repetitions = args.repetitions or (2 if args.quick else 5)
    chosen = [c for c in CASES[args.broker] if not args.case or c.name in args.case]
    try:
        if not args.replay:
            servers.check_installed(args.broker)
    except servers.Missing as missing:
        print(f"calibration: {args.broker} needs a package that is not installed; "
              f"install it with:\n    {missing}", file=sys.stderr)
        return 2
    _stop_on_signals()
    out = args.out / args.broker
    per_run, comparison, tables, by_case = [], [], [], {}
    started = time.time()
    broker = contextlib.nullcontext() if args.replay else servers.running(args.broker)
    with broker as server:
        where = "replayed" if server is None else f"on {server['host']}:{server['port']}"
        print(f"{args.broker} {where} (load average {os.getloadavg()[0]:.2f})", flush=True)
        for case in chosen:
            print(f"\n{case.name}: {case.what} ({repetitions} repetitions)", flush=True)
            runs, rows = run_case(case, server, repetitions, args.quick, out / "runs")
            per_run += runs
            comparison += [{"case": case.name, **asdict(row)} for row in rows]
            tables.append(report.markdown(case.name, rows))
            by_case[case.name] = rows
            print(report.table(rows), flush=True)
    report.write(out, per_run, comparison)
    (out / "tables.md").write_text("\n\n".join([report.summary(by_case), *tables]) + "\n")
    print(f"\n{len(chosen)} cases in {time.time() - started:.0f} s; wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
