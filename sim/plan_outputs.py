"""What a plan with a cost (or over a grid of two keys) shows: a table of every value run
with its cost, `cost.csv`, and figures: cost against the key (`cost.png`), or the
feasible region of the grid with the cheapest point marked (`feasible_region.png`)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap

from sim.plan import Evaluation
from sim.table import format_number

COST_COLUMNS = ("cost_low", "cost_mean", "cost_high")


def _values(value) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def cost_frame(keys: list[str], evaluations: list[Evaluation], answer) -> pd.DataFrame:
    """One row per value (grid point) run: the keys' values, whether every target held,
    the cost's mean, interval and replications, and whether it is the answer."""
    rows = []
    for evaluation in evaluations:
        cost = evaluation.cost or {}
        rows.append(
            {
                **dict(zip(keys, _values(evaluation.value), strict=True)),
                "feasible": evaluation.feasible,
                "cost_mean": cost.get("cost_mean", np.nan),
                "cost_low": cost.get("cost_low", np.nan),
                "cost_high": cost.get("cost_high", np.nan),
                "n": cost.get("n", 0),
                "cheapest": answer is not None and evaluation.value == answer,
            }
        )
    return pd.DataFrame(rows)


def write_cost(keys: list[str], evaluations: list[Evaluation], answer, folder: Path) -> list[str]:
    """cost.csv and its figure (cost.png for one key, feasible_region.png for two)."""
    frame = cost_frame(keys, evaluations, answer)
    frame.to_csv(folder / "cost.csv", index=False)
    if len(keys) == 1:
        cost_figure(frame, keys[0], folder / "cost.png")
        return ["cost.csv", "cost.png"]
    feasible_region(frame, keys, folder / "feasible_region.png")
    return ["cost.csv", "feasible_region.png"]


def format_cost_plan(scenario, answer, evaluations: list[Evaluation]) -> str:
    """Every value run: its targets, its cost; then the cheapest value meeting them."""
    spec = scenario.plan
    keys = spec.keys
    ranges = ", ".join(
        f"{k} in [{lo}, {hi}]" for k, (lo, hi) in zip(keys, spec.ranges, strict=True)
    )
    lines = [
        f"{scenario.name}: cheapest {' x '.join(keys)} ({ranges}) meeting every target with "
        f"{spec.confidence:.0%} confidence",
        "",
    ]
    for evaluation in evaluations:
        lines += _evaluation_lines(keys, evaluation)
    lines.append("")
    if answer is None:
        lines.append("No value meets every target.")
    else:
        best = next(e for e in evaluations if e.value == answer)
        lines.append(
            f"Answer: {_shown(keys, answer)}, the cheapest meeting every target "
            f"(cost {format_number(best.cost['cost_mean'])} per run)."
        )
    return "\n".join(lines)


def _evaluation_lines(keys: list[str], evaluation: Evaluation) -> list[str]:
    """One value: met or not, its cost and interval, and the targets it missed."""
    verdict = "meets" if evaluation.feasible else "misses"
    cost = evaluation.cost or {}
    low, mean, high = (format_number(cost.get(k, np.nan)) for k in COST_COLUMNS)
    lines = [f"  {_shown(keys, evaluation.value)}: {verdict}; cost {mean}, 95% CI [{low}, {high}]"]
    missed = [row["target"] for row in evaluation.rows if not row["met"]]
    if missed:
        lines.append(f"      missed: {'; '.join(missed)}")
    return lines


def _shown(keys: list[str], value) -> str:
    return ", ".join(f"{k} = {v}" for k, v in zip(keys, _values(value), strict=True))


def cost_figure(frame: pd.DataFrame, key: str, path: Path) -> Path:
    """Mean cost and 95% interval against one key; green where every target held, the
    cheapest feasible value ringed."""
    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    low = (frame["cost_mean"] - frame["cost_low"]).fillna(0).clip(lower=0)
    high = (frame["cost_high"] - frame["cost_mean"]).fillna(0).clip(lower=0)
    ax.errorbar(
        frame[key], frame["cost_mean"], yerr=[low, high], fmt="none", color="0.4", capsize=3
    )
    colors = np.where(frame["feasible"], "tab:green", "tab:red")
    ax.scatter(frame[key], frame["cost_mean"], c=colors, zorder=3)
    best = frame[frame["cheapest"]]
    ax.scatter(best[key], best["cost_mean"], s=260, facecolors="none", edgecolors="black", zorder=4)
    ax.set(xlabel=key, ylabel="cost per run (mean, 95% CI)")
    title = "green: meets every target; ringed: cheapest of those"
    ax.set_title(title if len(best) else "no value meets every target", fontsize="medium")
    return _save(fig, path)


def feasible_region(frame: pd.DataFrame, keys: list[str], path: Path) -> Path:
    """The grid of two keys: cells meeting every target in green (others red), each
    labelled with its mean cost; the cheapest feasible point starred."""
    x_key, y_key = keys
    xs, ys = sorted(frame[x_key].unique()), sorted(frame[y_key].unique())
    rows = frame.to_dict("records")
    grid = np.full((len(ys), len(xs)), np.nan)
    for row in rows:
        grid[ys.index(row[y_key]), xs.index(row[x_key])] = float(row["feasible"])
    size = (1.1 * len(xs) + 3, 0.7 * len(ys) + 2.5)
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    colors = ListedColormap(["#f4b6b6", "#b9e3b9"])
    ax.imshow(grid, origin="lower", cmap=colors, vmin=0, vmax=1, aspect="auto")
    for row in rows:
        x, y = xs.index(row[x_key]), ys.index(row[y_key])
        shift = 0.22 if row["cheapest"] else 0.0  # the label below the star
        label = format_number(row["cost_mean"])
        ax.text(x, y - shift, label, ha="center", va="center", fontsize=8)
        if row["cheapest"]:
            ax.scatter([x], [y + 0.12], marker="*", s=400, color="gold", edgecolors="black")
    ax.set_xticks(range(len(xs)), [str(v) for v in xs])
    ax.set_yticks(range(len(ys)), [str(v) for v in ys])
    ax.set(xlabel=x_key, ylabel=y_key)
    ax.set_title("Green: meets every target; mean cost per run; star: cheapest", fontsize="medium")
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
