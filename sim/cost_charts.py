"""Figures of a plan with a cost, in the plots API (`sim.plots.plan_cost`,
`sim.plots.feasible_region`): each takes the `PlanResults` of `sim.plan.plan`, then an
optional `ax` or `fig`, and returns the Figure; it writes a PNG only when given `path`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure, SubFigure

from sim.figure import canvas, finish, title
from sim.table import format_number


def _values(value) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def cost_frame(results) -> pd.DataFrame:
    """One row per value (grid point) run: the keys' values, whether every target held,
    the cost's mean, interval and replications, and whether it is the answer."""
    keys, answer = results.scenario.plan.keys, results.answer
    rows = []
    for evaluation in results.evaluations:
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


def plan_cost(
    results,
    ax: Axes | None = None,
    fig: Figure | SubFigure | None = None,
    path: str | Path | None = None,
) -> Figure:
    """Mean cost and 95% interval against the plan's key; green where every target held,
    the cheapest feasible value ringed."""
    frame, key = cost_frame(results), results.scenario.plan.keys[0]
    fig, axes = canvas(ax, fig, 1, 1, (6, 4))
    panel = axes[0, 0]
    low = (frame["cost_mean"] - frame["cost_low"]).fillna(0).clip(lower=0)
    high = (frame["cost_high"] - frame["cost_mean"]).fillna(0).clip(lower=0)
    panel.errorbar(
        frame[key], frame["cost_mean"], yerr=[low, high], fmt="none", color="0.4", capsize=3
    )
    colors = np.where(frame["feasible"], "tab:green", "tab:red")
    panel.scatter(frame[key], frame["cost_mean"], c=colors, zorder=3)
    best = frame[frame["cheapest"]]
    panel.scatter(
        best[key], best["cost_mean"], s=260, facecolors="none", edgecolors="black", zorder=4
    )
    panel.set(xlabel=key, ylabel="cost per run (mean, 95% CI)")
    text = "green: meets every target; ringed: cheapest of those"
    title(fig, ax, text if len(best) else "no value meets every target")
    return finish(fig, path)


def feasible_region(
    results,
    ax: Axes | None = None,
    fig: Figure | SubFigure | None = None,
    path: str | Path | None = None,
) -> Figure:
    """The grid of a two-key plan: cells meeting every target in green (others red), each
    labelled with its mean cost; the cheapest feasible point starred."""
    frame = cost_frame(results)
    x_key, y_key = results.scenario.plan.keys
    xs, ys = sorted(frame[x_key].unique()), sorted(frame[y_key].unique())
    rows = frame.to_dict("records")
    grid = np.full((len(ys), len(xs)), np.nan)
    for row in rows:
        grid[ys.index(row[y_key]), xs.index(row[x_key])] = float(row["feasible"])
    fig, axes = canvas(ax, fig, 1, 1, (1.1 * len(xs) + 3, 0.7 * len(ys) + 2.5))
    panel = axes[0, 0]
    colors = ListedColormap(["#f4b6b6", "#b9e3b9"])
    panel.imshow(grid, origin="lower", cmap=colors, vmin=0, vmax=1, aspect="auto")
    for row in rows:
        x, y = xs.index(row[x_key]), ys.index(row[y_key])
        shift = 0.22 if row["cheapest"] else 0.0  # the label below the star
        panel.text(x, y - shift, format_number(row["cost_mean"]), ha="center", va="center")
        if row["cheapest"]:
            panel.scatter([x], [y + 0.12], marker="*", s=400, color="gold", edgecolors="black")
    panel.set_xticks(range(len(xs)), [str(v) for v in xs])
    panel.set_yticks(range(len(ys)), [str(v) for v in ys])
    panel.set(xlabel=x_key, ylabel=y_key)
    title(fig, ax, "Green: meets every target; mean cost per run; star: cheapest")
    return finish(fig, path)
