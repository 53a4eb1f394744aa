"""Figures of a run, a plan or the hashing study.

Every function takes the results first (`Results` of `sim.run`, the `PlanResults` of
`sim.plan.plan`, or the frame of `sim.hashing_study.study`), then options, then an
optional `ax` (drawn into its space) or `fig` (a Figure or SubFigure), and returns the
`Figure`; it writes a PNG only when given `path`. In a notebook the figure shows inline.
Each design has the same colour in every figure; marks that are not designs are black
or grey.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from sim.charts import comparison, hashing, latency, plan, sweep
from sim.cost_charts import feasible_region, plan_cost
from sim.figure import canvas, design_colors, finish, legend_below, title

__all__ = [
    "comparison",
    "design_colors",
    "feasible_region",
    "hashing",
    "held_over_time",
    "latency",
    "load_after_crash",
    "plan",
    "plan_cost",
    "sweep",
    "timeline",
]

#: Step kinds that add an order to a store's RAM, or take one out.
INTO_STORE = ("sent",)
OUT_OF_STORE = ("finish", "fail", "abandon", "drop", "discard", "withdrawn")

#: Marks at an instant on a store's band, one line per kind of event: `offset` is where in
#: the band (crash above the middle, detection below, so that they never merge); `delay`
#: names a column whose value draws a line back to when the thing began.
EVENT_MARKS: dict[str, dict] = {
    "crash": {"marker": "x", "offset": 0.25, "color": "black", "label": "crash"},
    "detected_down": {
        "marker": "v",
        "offset": -0.25,
        "color": "black",
        "fill": "white",
        "delay": "detection_delay",
        "label": "declared down (line back to the crash: detection delay)",
    },
    "false_detection": {  # filled, where a true detection is hollow; black, never a design's
        "marker": "v",
        "offset": -0.25,
        "color": "black",
        "label": "declared down while up (false detection)",
    },
}
#: Spans on a store's band, from an event to the next event of another kind (drawn in
#: this order, see-through where `alpha` says so, so that spans that overlap both show).
EVENT_SPANS: dict[tuple[str, str], dict] = {
    ("crash", "recover"): {"color": "0.85", "label": "store down"},
    ("partition", "partition_end"): {
        "color": "tab:blue",
        "alpha": 0.25,
        "label": "cut off the orchestrator (partition)",
    },
    ("slowdown", "slowdown_end"): {"color": "gold", "alpha": 0.35, "label": "slow store"},
    ("fenced", "unfenced"): {"color": "tab:brown", "alpha": 0.2, "label": "fenced"},
}
#: Chain-wide spans (events with no store), shaded across a whole panel.
EVENT_PERIODS: dict[tuple[str, str], dict] = {
    ("database_down", "database_up"): {"color": "tab:red", "label": "database down"},
    ("orchestrator_down", "orchestrator_up"): {
        "color": "tab:purple",
        "label": "orchestrator down",
    },
}
#: Chain-wide instants, drawn as verticals across a panel.
EVENT_LINES: dict[str, dict] = {
    "redistribute": {"color": "0.3", "linestyle": ":", "label": "redistribution"},
    "rebalance": {"color": "0.3", "linestyle": "--", "label": "Kafka rebalance"},
}
#: A run with more crashes than this in one panel is zoomed on its busiest quarter.
ZOOM_CRASHES = 30


def held_over_time(trace: pd.DataFrame) -> pd.DataFrame:
    """Orders each store holds (queued or in preparation) after each step of a trace:
    `design, store, time, held`."""
    steps = trace[trace["what"].isin(INTO_STORE + OUT_OF_STORE) & (trace["store"] >= 0)]
    change = np.where(steps["what"].isin(INTO_STORE), 1, -1)
    frame = steps[["design", "store", "time"]].assign(change=change)
    frame["held"] = frame.groupby(["design", "store"], observed=True)["change"].cumsum()
    return frame.drop(columns="change")


def _needs_trace(results) -> pd.DataFrame:
    if results.trace is None:
        raise ValueError("this figure needs the trace of a run: sim.run(..., trace=True)")
    return results.trace


#: Per-store figures draw at most this many stores (the first ones): a band or a bar for
#: each of a chain's thousands of stores would be unreadable and slow to draw.
MAX_STORES_DRAWN = 40


def _first_stores(trace: pd.DataFrame, stores: int) -> tuple[pd.DataFrame, int, str]:
    """The trace of the stores drawn, how many, and a note for the title when clipped."""
    if stores <= MAX_STORES_DRAWN:
        return trace, stores, ""
    kept = trace[trace["store"] < MAX_STORES_DRAWN]
    return kept, MAX_STORES_DRAWN, f" (stores 0 to {MAX_STORES_DRAWN - 1} of {stores:,})"


def timeline(
    results,
    replication: int = 0,
    window: tuple[float, float] | str | None = "auto",
    ax: Axes | None = None,
    fig: Figure | SubFigure | None = None,
    path: str | Path | None = None,
) -> Figure:
    """One replication (the traced one): a panel per design, a band per store. Grey where
    the store is down, blue where it is cut off the orchestrator (partition), yellow
    where it is slow, brown where it is fenced, x at crashes, triangles where the
    orchestrator declared it down (the line back to the crash is the detection delay;
    orange: a false detection, the store was up), red and purple shading across the panel
    while the database or the orchestrator is down, dotted verticals at
    redistributions, and in each band a line: the orders the store holds, from 0 at the
    band's bottom to the peak at its top. `window` (start, end) shows part of the run;
    "auto" zooms on the busiest quarter when a panel has too many crashes to read."""
    scenario, trace = results.scenario, _needs_trace(results)
    events = results.timeline[results.timeline["replication"] == replication]
    designs = list(trace["design"].cat.categories)
    stores, horizon, unit = scenario.stores.count, scenario.horizon, scenario.time_unit
    trace, stores, clipped = _first_stores(trace, stores)
    # keep chain-wide events: their store is missing, and NA >= n is NA, not False
    events = events[~(events["store"] >= stores).fillna(False).astype(bool)]
    start, end, zoomed = _window(events, horizon, window)  # busy where the drawn stores are
    held = held_over_time(trace)
    peak = max(1, int(held["held"].max()) if len(held) else 1)
    cols = 1 if len(designs) <= 3 else 2
    rows = math.ceil(len(designs) / cols)
    height = min(18.0, rows * (0.9 + 0.32 * stores) + 1.4)
    fig, axes = canvas(ax, fig, rows, cols, (12 if cols == 1 else 15, height), sharex=True)
    colors = design_colors(designs)
    for panel, design in zip(axes.flat, designs, strict=False):
        _design_panel(panel, events[events["design"] == design], held, design, stores, horizon)
        panel.set_title(f"{design}", loc="left", fontsize="medium", color=colors[design])
    for panel in axes.flat[len(designs) :]:
        panel.set_visible(False)
    for panel in axes[-1]:
        panel.set(xlim=(start, end), xlabel=f"time ({unit})")
    note = (
        f"\nzoomed on {start:g}–{end:g} {unit}, the busiest quarter of the run "
        f"(0–{horizon:g}; window=None shows all)"
        if zoomed
        else ""
    )
    title(
        fig,
        ax,
        f"Replication {replication}: stores up and down, and the orders they hold{clipped}{note}",
    )
    legend_below(fig, _timeline_legend(designs, colors, peak, set(events["event"])))
    return finish(fig, path)


def _window(events: pd.DataFrame, horizon: float, window) -> tuple[float, float, bool]:
    """The time range to show, and whether it is a zoom the reader must be told about."""
    if window is None:
        return 0.0, horizon, False
    if window != "auto":
        return float(window[0]), float(window[1]), True
    crashes = events[events["event"] == "crash"]
    busiest = crashes.groupby("design", observed=True).size().max() if len(crashes) else 0
    if busiest <= ZOOM_CRASHES:
        return 0.0, horizon, False
    times = np.sort(events["time"].to_numpy(dtype=float))
    width = horizon / 4
    counts = np.searchsorted(times, times + width) - np.arange(len(times))
    step = 10 ** math.floor(math.log10(width)) / 2  # a round start: 1550, not 1583.26
    begin = math.floor(min(times[int(np.argmax(counts))], horizon - width) / step) * step
    return float(begin), float(min(horizon, begin + width + step)), True


def _design_panel(ax, events, held, design, stores, horizon) -> None:
    color = design_colors(list(held["design"].cat.categories))[design]
    peak = max(1, int(held["held"].max()) if len(held) else 1)
    for (begin, stop), style in EVENT_PERIODS.items():
        for start, length in _periods(events, begin, stop, horizon):
            ax.axvspan(start, start + length, color=style["color"], alpha=0.12, zorder=0)
    for (begin, stop), style in EVENT_SPANS.items():
        _spans(ax, events, begin, stop, style, stores, horizon)
    for kind, style in EVENT_LINES.items():
        for time in events.loc[events["event"] == kind, "time"]:
            ax.axvline(time, color=style["color"], linestyle=style["linestyle"], linewidth=0.8)
    for store in range(stores):
        series = held[(held["design"] == design) & (held["store"] == store)]
        times = np.concatenate([[0.0], series["time"], [horizon]])
        last = series["held"].iloc[-1] if len(series) else 0
        values = np.concatenate([[0], series["held"], [last]])
        ax.step(times, store - 0.4 + 0.8 * values / peak, where="post", color=color, lw=0.9)
    for kind, style in EVENT_MARKS.items():
        _marks(ax, events[events["event"] == kind], style)
    ax.set(ylabel="store", yticks=range(stores), ylim=(-0.6, stores - 0.4))


def _spans(ax, events, begin, stop, style, stores, horizon) -> None:
    for store in range(stores):
        mine = events[events["store"] == store]
        starts = mine.loc[mine["event"] == begin, "time"].to_numpy(dtype=float)
        ends = np.sort(mine.loc[mine["event"] == stop, "time"].to_numpy(dtype=float))
        padded = np.append(ends, horizon)  # a span still open at the end runs to the horizon
        finish_at = padded[np.searchsorted(ends, starts, side="left")]
        spans = [(s, e - s) for s, e in zip(starts, finish_at, strict=True)]
        ax.broken_barh(
            spans, (store - 0.45, 0.9), color=style["color"], alpha=style.get("alpha"), zorder=0
        )


def _periods(events: pd.DataFrame, begin: str, stop: str, horizon: float) -> list[tuple]:
    """(start, length) of each chain-wide interval opened by `begin` and closed by the
    next `stop`, or by the horizon."""
    starts = events.loc[events["event"] == begin, "time"].to_numpy(dtype=float)
    ends = np.sort(events.loc[events["event"] == stop, "time"].to_numpy(dtype=float))
    finish_at = np.append(ends, horizon)[np.searchsorted(ends, starts, side="left")]
    return [(a, b - a) for a, b in zip(starts, finish_at, strict=True)]


def _marks(ax, events: pd.DataFrame, style: dict) -> None:
    stores = events["store"].to_numpy(dtype=float) + style["offset"]
    times = events["time"].to_numpy(dtype=float)
    if style.get("delay"):
        delays = events[style["delay"]].to_numpy(dtype=float)
        for time, delay, y in zip(times, delays, stores, strict=True):
            ax.plot([time - delay, time], [y, y], color=style["color"], linewidth=1.2)
    ax.plot(
        times,
        stores,
        style["marker"],
        color=style["color"],
        markerfacecolor=style.get("fill", style["color"]),
        markersize=6,
        linestyle="none",
    )


def _timeline_legend(designs, colors, peak, kinds: set[str]) -> list:
    """The designs, the scale, and the marks of the kinds of event this run had."""
    handles = [Line2D([], [], color=colors[d], label=d) for d in designs]
    handles.append(
        Line2D([], [], color="none", label=f"(line height: orders held, 0–{peak} per band)")
    )
    handles += [
        Patch(color=s["color"], alpha=s.get("alpha"), label=s["label"])
        for (begin, _), s in EVENT_SPANS.items()
        if begin in kinds
    ]
    handles += [
        Patch(color=s["color"], alpha=0.12, label=s["label"])
        for (begin, _), s in EVENT_PERIODS.items()
        if begin in kinds
    ]
    handles += [
        Line2D(
            [],
            [],
            marker=s["marker"],
            color=s["color"],
            markerfacecolor=s.get("fill", s["color"]),
            linestyle="-" if s.get("delay") else "none",
            label=s["label"],
        )
        for kind, s in EVENT_MARKS.items()
        if kind in kinds
    ]
    handles += [
        Line2D([], [], color=s["color"], linestyle=s["linestyle"], label=s["label"])
        for kind, s in EVENT_LINES.items()
        if kind in kinds
    ]
    return handles


def load_after_crash(
    results,
    replication: int = 0,
    ax: Axes | None = None,
    fig: Figure | SubFigure | None = None,
    path: str | Path | None = None,
) -> Figure:
    """Orders held per store just before and just after the first redistribution of the
    traced replication, per design: where a dead store's orders went. The stores
    declared down at that moment are labelled and hatched."""
    trace, stores = _needs_trace(results), results.scenario.stores.count
    trace, stores, clipped = _first_stores(trace, stores)
    timeline_frame = results.timeline[results.timeline["replication"] == replication]
    moments = timeline_frame[timeline_frame["event"] == "redistribute"]
    designs = [d for d in trace["design"].cat.categories if (moments["design"] == d).any()]
    cols = min(4, max(1, len(designs)))
    rows = math.ceil(max(1, len(designs)) / cols)
    width = max(3.4, 0.2 * stores)  # a panel wide enough for its stores' bars
    fig, axes = canvas(ax, fig, rows, cols, (width * cols, 3.2 * rows + 0.8), sharey=True)
    held = held_over_time(trace)
    for panel, design in zip(axes.flat, designs, strict=False):
        mine = timeline_frame[timeline_frame["design"] == design]
        moment = moments.loc[moments["design"] == design, "time"].iloc[0]
        _before_after(panel, held[held["design"] == design], mine, moment, stores)
        unit = results.scenario.time_unit
        panel.set_title(f"{design} (at {moment:.1f} {unit})", fontsize="medium")
    for panel in axes.flat[len(designs) :]:
        panel.set_visible(False)
    for panel in axes[:, 0]:
        panel.set_ylabel("orders held")
    if designs:
        handles = axes.flat[0].get_legend_handles_labels()[0]
        handles.append(Patch(color="0.85", label="declared down"))
        axes.flat[0].legend(handles=handles, fontsize="small")
    else:
        axes[0, 0].set_visible(True)
        axes[0, 0].text(0.5, 0.5, f"no redistribution in replication {replication}", ha="center")
    title(fig, ax, f"Orders per store just before and just after the first redistribution{clipped}")
    return finish(fig, path)


def _before_after(ax, held, events, moment, stores) -> None:
    down = {store for store in _down_at(events, moment) if store < stores}  # those drawn
    before = _held_at(held, moment, stores, after=False)
    after = _held_at(held, moment, stores, after=True)
    x = np.arange(stores)
    ax.bar(x - 0.2, before, width=0.4, color="0.6", label="before")
    ax.bar(x + 0.2, after, width=0.4, color="tab:blue", label="after")
    for store in down:
        ax.axvspan(store - 0.5, store + 0.5, color="0.85", zorder=0)
    every = 1 if stores <= 12 else 5  # many stores: every fifth named, and the down ones
    labels = [
        f"{s}\n(down)" if s in down else (str(s) if s % every == 0 else "") for s in range(stores)
    ]
    ax.set_xticks(x, labels, fontsize="small")
    ax.set_xlabel("store")
    if not down:  # a large chain's first crash may be beyond the stores drawn
        ax.annotate(
            "the store declared down is not among those drawn",
            (0.02, 0.98), xycoords="axes fraction", va="top", fontsize="small",
        )  # fmt: skip


def _down_at(events: pd.DataFrame, moment: float) -> set[int]:
    """Stores declared down and not yet up again at `moment`."""
    down: set[int] = set()
    marks = events[
        events["event"].isin(["detected_down", "detected_up"]) & (events["time"] <= moment)
    ]
    for event, store in zip(marks["event"], marks["store"], strict=True):
        (down.add if event == "detected_down" else down.discard)(int(store))
    return down


def _held_at(held: pd.DataFrame, moment: float, stores: int, after: bool) -> np.ndarray:
    counts = np.zeros(stores)
    for store in range(stores):
        series = held[held["store"] == store]
        series = series[series["time"] <= moment] if after else series[series["time"] < moment]
        counts[store] = series["held"].iloc[-1] if len(series) else 0
    return counts
