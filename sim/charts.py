"""Figures that compare numbers: designs side by side, latency, sweeps, plans, hashing.

The calling convention is `sim.plots`'s (results first, options, `ax` or `fig`, `path`);
`sim.plots` is where users find them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure

from sim.figure import (
    canvas,
    design_colors,
    finish,
    key_label,
    legend_below,
    metric_label,
    series_colors,
    title,
)
from sim.table import format_number

COMPARED = ("lost", "duplicates", "wasted_work", "sla_missed")
SWEPT = ("lost", "duplicates", "latency_p95", "sla_missed")


def _designs(results) -> list[str]:
    return [d.name for d in results.scenario.designs]


def comparison(
    results,
    metrics: tuple[str, ...] = COMPARED,
    ax: Axes | None = None,
    fig: Figure | SubFigure | None = None,
    path: str | Path | None = None,
) -> Figure:
    """Per design, a bar per metric: the mean per run with its 95% interval (cut to the
    metric's range, as in summary.csv)."""
    designs, unit = _designs(results), results.scenario.time_unit
    summary = results.summary
    colors = design_colors(designs)
    fig, axes = canvas(ax, fig, 1, len(metrics), (3.3 * len(metrics), 3.8))
    for panel, metric in zip(axes[0], metrics, strict=True):
        rows = summary[summary["metric"] == metric].set_index("design").reindex(designs)
        means = rows["mean"].to_numpy(dtype=float)
        # at least 0: a mean a rounding error below its cut interval (wasted work summed
        # in another order than the preparations it subtracts) has no negative error bar
        low = np.maximum(np.nan_to_num(means - rows["ci_low"].to_numpy(dtype=float)), 0.0)
        high = np.maximum(np.nan_to_num(rows["ci_high"].to_numpy(dtype=float) - means), 0.0)
        panel.bar(
            range(len(designs)),
            np.nan_to_num(means),
            yerr=[low, high],
            capsize=4,
            color=[colors[d] for d in designs],
        )
        # each mean under its design: a bar of 0 is otherwise no bar at all
        labels = [f"{d}: {_short(m)}" for d, m in zip(designs, means, strict=True)]
        panel.set_xticks(range(len(designs)), labels, rotation=30, ha="right", fontsize="small")
        panel.set_title(metric_label(metric, unit), fontsize="medium")
        panel.set_ylim(bottom=0)
        if not np.nanmax(np.append(means + high, 0.0)) > 0:
            panel.set_ylim(0, 1)
            panel.text(0.5, 0.5, "0 in every design", ha="center", transform=panel.transAxes)
    title(
        fig,
        ax,
        "Per run: mean and 95% interval across replications, each design on its own "
        "(paired differences between designs are tighter: see the comparisons)",
    )
    return finish(fig, path)


def _short(value: float) -> str:
    return "-" if np.isnan(value) else format_number(float(f"{value:.3g}"))


def latency(
    results,
    ax: Axes | None = None,
    fig: Figure | SubFigure | None = None,
    path: str | Path | None = None,
) -> Figure:
    """Empirical CDF of latency (first completion − arrival) per design, over every
    replication, SLA marked. The x-axis stops at the larger of the slowest design's 99th
    percentile and twice the SLA; the share of orders beyond it is said."""
    if results.orders is None:
        raise ValueError("the latency figure needs the orders: sim.run(..., keep_orders=True)")
    scenario, orders = results.scenario, results.orders
    designs, unit, sla = _designs(results), scenario.time_unit, scenario.orders.sla
    fig, axes = canvas(ax, fig, 1, 1, (8, 4.6))
    panel, colors = axes[0, 0], design_colors(designs)
    kept = orders[(orders["arrival"] >= scenario.warmup) & orders["first_completion"].notna()]
    waits = (kept["first_completion"] - kept["arrival"]).to_numpy(dtype=float)
    labels = kept["design"].astype(str).to_numpy()
    p99 = [np.percentile(waits[labels == d], 99) for d in designs if (labels == d).any()]
    right = max([*p99, 2 * sla if sla is not None else 0.0, 1e-9]) * 1.05
    for design in designs:
        values = np.sort(waits[labels == design])
        if len(values):
            beyond = float((values > right).mean())
            label = design + (f" ({beyond:.1%} beyond the axis)" if beyond > 0 else "")
            cdf = np.arange(1, len(values) + 1) / len(values)
            panel.step(values, cdf, where="post", label=label, color=colors[design])
    if sla is not None:
        panel.axvline(sla, color="black", linestyle="--", label=f"SLA ({sla:g} {unit})")
    panel.set(
        xlabel=f"latency: first completion − arrival ({unit}), axis cut at {right:.3g}",
        ylabel="share of completed orders",
        ylim=(0, 1.01),
        xlim=(0, right),
        title="Latency of completed orders (lost ones are not here), all replications",
    )
    panel.legend(loc="lower right", fontsize="small")
    return finish(fig, path)


def sweep(
    results,
    metrics: tuple[str, ...] = SWEPT,
    ax: Axes | None = None,
    fig: Figure | SubFigure | None = None,
    path: str | Path | None = None,
) -> Figure:
    """The metrics against the first swept key: a line per design and value of the other
    swept keys, each its own colour, with 95% intervals as bars (nudged sideways so that
    none hides another)."""
    scenario = results.scenario
    swept = list(scenario.sweep)
    if not swept:
        raise ValueError("the sweep figure needs the results of a sweep (a `sweep:` section)")
    key, unit = swept[0], scenario.time_unit
    frame, values, numeric = _positions(results.summary, key, swept[1:], unit)
    series = list(dict.fromkeys(zip(frame["design"], frame["_group"], strict=True)))
    gaps = np.diff(np.unique(frame["_x"]))
    nudge = (gaps.min() if len(gaps) else 1.0) * 0.3 / max(1, len(series))
    cols = min(4, len(metrics))
    rows = -(-len(metrics) // cols)
    fig, axes = canvas(ax, fig, rows, cols, (4.3 * cols, 3.6 * rows + 1.2))
    for panel, metric in zip(axes.flat, metrics, strict=False):
        _sweep_panel(panel, frame[frame["metric"] == metric], series, nudge)
        panel.set(xlabel=key_label(key, unit), ylabel=metric_label(metric, unit))
        panel.set_ylim(bottom=0)
        if numeric:  # ticks at the values run, not at 5.5 stores
            panel.set_xticks(np.unique(frame["_x"]), [f"{v:g}" for v in np.unique(frame["_x"])])
        else:
            panel.set_xticks(range(len(values)), values, rotation=20, ha="right", fontsize="small")
    for panel in axes.flat[len(metrics) :]:
        panel.set_visible(False)
    legend_below(fig, axes.flat[0].get_legend_handles_labels()[0])
    title(fig, ax, f"Per run, mean and 95% interval, against {key}")
    return finish(fig, path)


def _positions(summary: pd.DataFrame, key: str, others: list[str], unit: str):
    """The summary with `_group` (the other swept values) and `_x` (where on the axis:
    the value itself, or its rank for values that are not numbers); the values as
    labels; whether they are numbers."""
    values = list(dict.fromkeys(summary[key].astype(str)))
    numeric = pd.api.types.is_numeric_dtype(summary[key])
    x = summary[key].astype(float) if numeric else summary[key].astype(str).map(values.index)
    frame = summary.assign(_group=_groups(summary, others, unit), _x=x.to_numpy(dtype=float))
    return frame, values, numeric


def _sweep_panel(panel: Axes, rows: pd.DataFrame, series: list, nudge: float) -> None:
    """A line per series (design, other swept values), each its own colour, nudged."""
    for index, ((design, group), color) in enumerate(
        zip(series, series_colors(len(series)), strict=True)
    ):
        line = rows[(rows["design"] == design) & (rows["_group"] == group)]
        x = line["_x"].to_numpy() + (index - (len(series) - 1) / 2) * nudge
        mean = line["mean"].to_numpy(dtype=float)
        err = [mean - line["ci_low"].to_numpy(float), line["ci_high"].to_numpy(float) - mean]
        label = design + (f" ({group})" if group else "")
        panel.errorbar(
            x, mean, yerr=np.nan_to_num(err), marker="o", ms=3, capsize=2,
            color=color, label=label, linewidth=1.2,
        )  # fmt: skip


def _groups(summary: pd.DataFrame, others: list[str], unit: str) -> pd.Series | str:
    """Per row, the values of the other swept keys, as a legend says them."""
    if not others:
        return ""

    def say(value) -> str:
        return f"{value:g}" if isinstance(value, float) else str(value)

    columns = [
        summary[key].map(lambda v, k=key: f"{key_label(k, unit)} = {say(v)}") for key in others
    ]
    return pd.concat(columns, axis=1).agg(", ".join, axis=1)


def plan(
    results,
    ax: Axes | None = None,
    fig: Figure | SubFigure | None = None,
    path: str | Path | None = None,
) -> Figure:
    """A panel per target: the metric's mean and 95% interval at every value tried, the
    target's bound dashed, each point green where that target held and red where it did
    not, the answer as a vertical line. The y-range shows the bound and the values
    around the answer (where the decision is made); points beyond it are said."""
    frame, key = results.evidence, results.scenario.plan.keys[0]
    answer, unit = results.answer, results.scenario.time_unit
    targets = list(dict.fromkeys(frame["target"]))
    cols = min(4, len(targets))
    rows = -(-len(targets) // cols)
    fig, axes = canvas(ax, fig, rows, cols, (4.3 * cols, 3.8 * rows + 0.6))
    for panel, target in zip(axes.flat, targets, strict=False):
        _plan_panel(panel, frame[frame["target"] == target].sort_values("value"), answer)
        metric = target.split()[0]
        panel.set(xlabel=key_label(key, unit), ylabel=metric_label(metric, unit), title=target)
    for panel in axes.flat[len(targets) :]:
        panel.set_visible(False)
    verdict = f"answer: {key} = {answer}" if answer is not None else "no value meets them all"
    title(
        fig,
        ax,
        f"Plan: green where a target held with 95% confidence, red where not; {verdict}",
    )
    return finish(fig, path)


def _plan_panel(panel: Axes, rows: pd.DataFrame, answer: int | None) -> None:
    bound = float(rows["target"].iloc[0].split()[-1])
    low = (rows["mean"] - rows["ci_low"]).fillna(0).clip(lower=0)
    high = (rows["ci_high"] - rows["mean"]).fillna(0).clip(lower=0)
    met = rows["met"].astype(bool).to_numpy()
    panel.errorbar(
        rows["value"], rows["mean"], yerr=[low, high], fmt="none", color="0.4", capsize=3
    )
    panel.scatter(rows["value"], rows["mean"], c=np.where(met, "tab:green", "tab:red"), zorder=3)
    panel.axhline(bound, color="black", linestyle="--", linewidth=1)
    if answer is not None:
        panel.axvline(answer, color="tab:green", linewidth=1)
        near = rows[(rows["value"] - answer).abs() <= 1]
        ends = pd.concat([near["ci_low"], near["ci_high"], near["mean"]]).dropna()
        span = [bound, *ends.tolist()]
        bottom, top = min(span), max(span)
        pad = 0.3 * (max(top - bottom, abs(bound) * 0.1, abs(top) * 0.1) or 1.0)
        bottom, top = max(0.0, bottom - pad), top + pad
        # a margin below 0 only so that points at 0 are not cut in half by the axis
        panel.set_ylim(bottom - 0.04 * (top - bottom) if bottom == 0 else bottom, top)
        off = rows.loc[(rows["mean"] < bottom) | (rows["mean"] > top), "value"]
        if len(off):
            panel.annotate(
                f"off the axis at {', '.join(map(str, off))} (far from the bound)",
                (0.02, 0.98), xycoords="axes fraction", va="top", fontsize="small",
            )  # fmt: skip


def hashing(
    frame: pd.DataFrame,
    ax: Axes | None = None,
    fig: Figure | SubFigure | None = None,
    path: str | Path | None = None,
) -> Figure:
    """The hashing study: keys moved when one store leaves (against the ideal), and the
    busiest store's load over the mean, per strategy; every bar starts at 0."""
    fig, axes = canvas(ax, fig, 1, 2, (11, 4.4))
    _moved_panel(axes[0, 0], frame)
    _balance_panel(axes[0, 1], frame)
    title(fig, ax, f"Hash strategies on {int(frame['keys'].iloc[0]):,} keys")
    return finish(fig, path)


def _moved_panel(moved: Axes, frame: pd.DataFrame) -> None:
    y = np.arange(len(frame))
    bars = [
        moved.barh(y - 0.2, frame["moved"], height=0.4, color="tab:blue", label="of all keys"),
        moved.barh(
            y + 0.2,
            frame["survivors_moved"],
            height=0.4,
            color="tab:red",
            label="of the keys of stores that stayed up",
        ),
    ]
    for container in bars:  # a share of 0 draws no bar: say it
        moved.bar_label(container, fmt="%.3f", fontsize="x-small", padding=2)
    moved.axvline(
        frame["ideal_moved"].iloc[0], color="black", linestyle="--", label="ideal: 1 / stores"
    )
    moved.set(
        yticks=list(y),
        yticklabels=frame["strategy"],
        xlabel="share of keys that change store",
        xlim=(0, 1.08),
        title=f"One store of {int(frame['stores'].iloc[0])} leaves",
    )
    moved.invert_yaxis()
    moved.legend(loc="lower right", fontsize="small")


def _balance_panel(balance: Axes, frame: pd.DataFrame) -> None:
    y = np.arange(len(frame))
    balance.bar_label(
        balance.barh(y, frame["max_over_mean"], color="tab:green"),
        fmt="%.2f",
        fontsize="x-small",
        padding=2,
    )
    balance.axvline(1.0, color="black", linestyle="--", label="perfect balance")
    balance.set(
        yticks=list(y),
        yticklabels=[],
        xlabel="busiest store's keys / mean (1 = perfect)",
        title="Balance, every store up",
        xlim=(0, max(1.5, frame["max_over_mean"].max() * 1.05)),
    )
    balance.invert_yaxis()
    balance.legend(loc="lower right", fontsize="small")
