"""The results folder, written whole or not at all.

Everything is written into a temporary folder beside the destination, which then replaces
the destination in two renames; a run that is killed part-way leaves the previous results
as they were and, at worst, a hidden temporary folder, never a half-written file in place.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import yaml

from sim import plots, report
from sim.experiment import Results
from sim.plan import evidence


def write_results(
    results: Results, out: Path, tables: bool = False, figures: bool = False
) -> list[Path]:
    """Write the results folder `out`; return the files written (inside `out`).

    `tables` adds orders.parquet and timeline.csv (`results.orders` is needed);
    `figures` adds the plots and report.md.
    """

    def write(folder: Path) -> list[str]:
        names = _write_files(results, folder, tables)
        if figures:
            names += _write_figures(results, folder)
        return names

    return _write_folder(out, write)


def write_study(frame: pd.DataFrame, out: Path) -> list[Path]:
    """Write the hashing study's `hashing.csv` and `hashing.png` into folder `out`."""

    def write(folder: Path) -> list[str]:
        frame.to_csv(folder / "hashing.csv", index=False)
        plots.hashing_study(frame, folder / "hashing.png")
        return ["hashing.csv", "hashing.png"]

    return _write_folder(out, write)


#: Every results folder holds this file: only a folder that has it is ever replaced.
MARKER = ".written-by-sim"


def replaceable(out: Path) -> str | None:
    """Why `out` may not become a results folder (None if it may): it must not exist, or
    be an empty folder, or be a results folder `sim` wrote; not be a symbolic link (the
    folder is replaced by renames, which would replace the link, not what it points to);
    and every folder above it that exists must be a folder."""
    out = Path(out)
    if out.is_symlink():
        return f"is a symbolic link (to {os.readlink(out)}): give the folder itself"
    for above in out.parents:
        if above.exists() or above.is_symlink():
            if not above.is_dir():
                return f"is under {above}, which is not a folder"
            break
    if not out.exists():
        return None
    if not out.is_dir():
        return "exists and is not a folder"
    if Path.cwd().resolve().is_relative_to(out.resolve()):
        return "is the current folder (or holds it)"
    if any(out.iterdir()) and not (out / MARKER).exists():
        return f"is a folder sim did not write (no {MARKER} in it): choose another --out"
    return None


def _write_folder(out: Path, write: Callable[[Path], list[str]]) -> list[Path]:
    out = Path(out)
    problem = replaceable(out)
    if problem is not None:
        raise FileExistsError(f"{out}: {problem}")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = _new_folder(out.parent, f".{out.name}.tmp-")
    try:
        names = write(staging)
        (staging / MARKER).write_text("results of sim; this folder is replaced by the next run\n")
        _replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [out / name for name in names]


def _write_files(results: Results, folder: Path, tables: bool) -> list[str]:
    with open(folder / "scenario.yaml", "w", encoding="utf-8") as file:
        yaml.safe_dump(results.scenario.to_mapping(), file, sort_keys=False)
    results.replications.to_csv(folder / "replications.csv", index=False)
    results.summary.to_csv(folder / "summary.csv", index=False)
    names = ["scenario.yaml", "replications.csv", "summary.csv"]
    if results.comparisons is not None and not results.comparisons.empty:
        results.comparisons.to_csv(folder / "comparisons.csv", index=False)
        names.append("comparisons.csv")
    if results.swept:
        results.summary.to_csv(folder / "sweep.csv", index=False)
        names.append("sweep.csv")
    if tables and results.orders is not None:
        results.orders.to_parquet(folder / "orders.parquet", compression="zstd", index=False)
        results.timeline.to_csv(folder / "timeline.csv", index=False)
        names += ["orders.parquet", "timeline.csv"]
    return names


def _write_figures(results: Results, folder: Path) -> list[str]:
    """The plots that the results allow, and report.md embedding them."""
    scenario, unit = results.scenario, results.scenario.time_unit
    if results.swept:
        plots.sweep(results.summary, results.swept, folder / "sweep.png", unit)
        figures = {"Across the sweep": "sweep.png"}
        text = report.render_sweep(results.summary, scenario, figures)
        (folder / "report.md").write_text(text, encoding="utf-8")
        return [*figures.values(), "report.md"]
    figures = {"Lost, duplicated and wasted, per design": "comparison.png"}
    plots.comparison(results.summary, folder / "comparison.png", unit)
    if results.orders is not None:
        figures["Latency of completed orders"] = "latency.png"
        plots.latency(
            results.orders, folder / "latency.png", scenario.orders.sla, scenario.warmup, unit
        )
    if results.trace is not None:
        figures["Replication 0, store by store"] = "timeline.png"
        plots.timeline(
            results.timeline,
            results.trace,
            folder / "timeline.png",
            scenario.stores.count,
            scenario.horizon,
            unit,
        )
        figures["Orders per store around the first redistribution"] = "load_after_crash.png"
        plots.load_after_crash(
            results.trace, results.timeline, folder / "load_after_crash.png", scenario.stores.count
        )
    text = report.render(results.summary, scenario, figures)
    (folder / "report.md").write_text(text, encoding="utf-8")
    return [*figures.values(), "report.md"]


def write_plan(scenario, evaluations: list, answer: int | None, out: Path) -> list[Path]:
    """The plan's evidence (plan.csv, plan.png) and the scenario as run, in folder `out`."""

    def write(folder: Path) -> list[str]:
        frame = evidence(scenario.plan.key, evaluations, answer)
        frame.to_csv(folder / "plan.csv", index=False)
        with open(folder / "scenario.yaml", "w", encoding="utf-8") as file:
            yaml.safe_dump(scenario.to_mapping(), file, sort_keys=False)
        plots.plan(frame, scenario.plan.key, answer, folder / "plan.png", scenario.time_unit)
        return ["plan.csv", "plan.png", "scenario.yaml"]

    return _write_folder(out, write)


def _new_folder(parent: Path, prefix: str) -> Path:
    """A new folder of a name no other process uses, with the permissions the umask
    gives (unlike `tempfile.mkdtemp`, which makes it private to its owner)."""
    while True:
        folder = parent / f"{prefix}{os.getpid()}-{secrets.token_hex(4)}"
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue


def _replace(staging: Path, out: Path) -> None:
    if not out.exists():
        staging.rename(out)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    retired.rmdir()
    out.rename(retired)
    staging.rename(out)
    shutil.rmtree(retired, ignore_errors=True)
