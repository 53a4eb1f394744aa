"""Figures, written as PNG files. Each function takes result DataFrames and a path.

Every figure gives each design the same colour (`design_colors`), labels its axes with
the scenario's time unit, and says in its title what it shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

#: Step kinds that add an order to a store's RAM, or take one out.
INTO_STORE = ("sent",)
OUT_OF_STORE = ("finish", "abandon", "drop")
COMPARED = ("lost", "duplicates", "wasted_work", "sla_missed")


def design_colors(designs: Sequence[str]) -> dict[str, tuple]:
    """One colour per design, in scenario order, the same in every figure."""
    palette = plt.get_cmap("tab10").colors
    return {name: palette[i % len(palette)] for i, name in enumerate(designs)}


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def held_over_time(trace: pd.DataFrame) -> pd.DataFrame:
    """Orders each store holds (queued or in preparation) after each step of a trace:
    `design, store, time, held`."""
    steps = trace[trace["what"].isin(INTO_STORE + OUT_OF_STORE) & (trace["store"] >= 0)]
    change = np.where(steps["what"].isin(INTO_STORE), 1, -1)
    frame = steps[["design", "store", "time"]].assign(change=change)
    frame["held"] = frame.groupby(["design", "store"], observed=True)["change"].cumsum()
    return frame.drop(columns="change")


def timeline(
    timeline_frame: pd.DataFrame,
    trace: pd.DataFrame,
    path: Path,
    stores: int,
    horizon: float,
    time_unit: str = "min",
    replication: int = 0,
) -> Path:
    """One replication: per design a panel, per store a band; grey where the store is
    down, blue where it is cut off the orchestrator (partition), yellow where it is slow,
    x at crashes, red triangles where the orchestrator declared it down (the line between
    is the detection delay), orange triangles at false detections, dotted verticals at
    redistributions, red and purple shading across the panel while the database or the
    orchestrator is down, and inside each band the number of orders the store holds
    (scaled to the band; peak in the legend)."""
    events = timeline_frame[timeline_frame["replication"] == replication]
    designs = list(trace["design"].cat.categories)
    held = held_over_time(trace)
    peak = max(1, int(held["held"].max()) if len(held) else 1)
    colors = design_colors(designs)
    fig, axes = plt.subplots(
        len(designs),
        1,
        figsize=(12, 1.2 + 0.45 * stores * len(designs)),
        sharex=True,
        squeeze=False,
        layout="constrained",
    )
    for ax, design in zip(axes[:, 0], designs, strict=True):
        mine = events[events["design"] == design]
        _store_bands(ax, mine, stores, horizon)
        for store in range(stores):
            series = held[(held["design"] == design) & (held["store"] == store)]
            times = np.concatenate([[0.0], series["time"], [horizon]])
            values = np.concatenate(
                [[0], series["held"], [series["held"].iloc[-1] if len(series) else 0]]
            )
            ax.step(
                times,
                store - 0.4 + 0.8 * values / peak,
                where="post",
                color=colors[design],
                linewidth=0.8,
            )
        for time in mine.loc[mine["event"] == "redistribute", "time"]:
            ax.axvline(time, color="black", linestyle=":", linewidth=0.7)
        _outage_spans(ax, mine, horizon)
        ax.set(ylabel="store", yticks=range(stores), ylim=(-0.6, stores - 0.4))
        ax.set_title(
            f"{design}: orders held per store (band = 0 to {peak})", loc="left", fontsize="medium"
        )
    axes[-1, 0].set(xlim=(0, horizon), xlabel=f"time ({time_unit})")
    fig.suptitle(f"Replication {replication}: stores up and down, and the orders they hold")
    return _save(fig, path)


def _spans(events: pd.DataFrame, start: str, end: str, horizon: float) -> list[tuple]:
    """(start, length) of each interval opened by event `start` and closed by `end`."""
    starts = events.loc[events["event"] == start, "time"].to_numpy()
    ends = list(events.loc[events["event"] == end, "time"]) + [horizon] * len(starts)
    return [(a, b - a) for a, b in zip(starts, ends[: len(starts)], strict=True)]


def _outage_spans(ax: plt.Axes, events: pd.DataFrame, horizon: float) -> None:
    """The database's and the orchestrator's outages, across every store."""
    for (start, end), color, label in (
        (("database_down", "database_up"), "tab:red", "database down"),
        (("orchestrator_down", "orchestrator_up"), "tab:purple", "orchestrator down"),
    ):
        for index, (time, length) in enumerate(_spans(events, start, end, horizon)):
            ax.axvspan(time, time + length, color=color, alpha=0.12, label=None if index else label)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize="x-small")


def _store_bands(ax: plt.Axes, events: pd.DataFrame, stores: int, horizon: float) -> None:
    for store in range(stores):
        mine = events[events["store"] == store]
        for start, end, color in (
            ("partition", "partition_end", "tab:blue"),
            ("slowdown", "slowdown_end", "gold"),
        ):
            spans = _spans(mine, start, end, horizon)
            if spans:
                ax.broken_barh(spans, (store - 0.45, 0.9), color=color, alpha=0.25)
        falsely = mine.loc[mine["event"] == "false_detection", "time"].to_numpy()
        ax.plot(falsely, [store] * len(falsely), "v", color="tab:orange", markersize=5)
        crashes = mine.loc[mine["event"] == "crash", "time"].to_numpy()
        recoveries = mine.loc[mine["event"] == "recover", "time"].to_numpy()
        ends = list(recoveries) + [horizon] * (len(crashes) - len(recoveries))
        ax.broken_barh(
            [(c, e - c) for c, e in zip(crashes, ends, strict=True)],
            (store - 0.45, 0.9),
            color="0.85",
        )
        ax.plot(crashes, [store] * len(crashes), "x", color="tab:red", markersize=6)
        detected = mine[mine["event"] == "detected_down"]
        for time, delay in zip(detected["time"], detected["detection_delay"], strict=True):
            ax.plot([time - delay, time], [store, store], color="tab:red", linewidth=1.5)
            ax.plot(time, store, "v", color="tab:red", markersize=5)


def comparison(summary: pd.DataFrame, path: Path, time_unit: str = "min") -> Path:
    """Lost, duplicates, wasted work and SLA missed per design: mean per replication with
    its 95% confidence interval."""
    designs = list(dict.fromkeys(summary["design"]))
    colors = design_colors(designs)
    fig, axes = plt.subplots(
        1, len(COMPARED), figsize=(3.2 * len(COMPARED), 3.6), layout="constrained"
    )
    titles = {
        "lost": "orders lost",
        "duplicates": "orders prepared twice",
        "wasted_work": f"wasted work ({time_unit})",
        "sla_missed": "share missing the SLA",
    }
    for ax, metric in zip(axes, COMPARED, strict=True):
        rows = summary[summary["metric"] == metric].set_index("design").reindex(designs)
        means = rows["mean"].to_numpy(dtype=float)
        low = np.nan_to_num(means - rows["ci_low"].to_numpy(dtype=float))
        high = np.nan_to_num(rows["ci_high"].to_numpy(dtype=float) - means)
        ax.bar(
            range(len(designs)),
            np.nan_to_num(means),
            yerr=[low, high],
            capsize=4,
            color=[colors[d] for d in designs],
        )
        ax.set_xticks(range(len(designs)), designs, rotation=30, ha="right")
        ax.set_title(titles[metric], fontsize="medium")
    fig.suptitle("Per run, mean and 95% confidence interval across replications")
    return _save(fig, path)


def latency(
    orders: pd.DataFrame, path: Path, sla: float | None, warmup: float = 0.0, time_unit: str = "min"
) -> Path:
    """Empirical CDF of latency (first completion − arrival) per design, SLA marked."""
    designs = (
        list(orders["design"].cat.categories)
        if hasattr(orders["design"], "cat")
        else list(dict.fromkeys(orders["design"]))
    )
    colors = design_colors(designs)
    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    kept = orders[(orders["arrival"] >= warmup) & orders["first_completion"].notna()]
    for design in designs:
        values = np.sort((kept["first_completion"] - kept["arrival"])[kept["design"] == design])
        if len(values):
            ax.step(
                values,
                np.arange(1, len(values) + 1) / len(values),
                where="post",
                label=design,
                color=colors[design],
            )
    if sla is not None:
        ax.axvline(sla, color="black", linestyle="--", label=f"SLA ({sla:g} {time_unit})")
    ax.set(
        xlabel=f"latency: first completion − arrival ({time_unit})",
        ylabel="share of completed orders",
        ylim=(0, 1.01),
        xlim=(0, None),
        title="Latency of completed orders, all replications",
    )
    ax.legend(loc="lower right")
    return _save(fig, path)


def load_after_crash(
    trace: pd.DataFrame, timeline_frame: pd.DataFrame, path: Path, stores: int, replication: int = 0
) -> Path:
    """Orders held per store just before and just after the first redistribution of
    replication 0, per design: where a dead store's orders went."""
    events = timeline_frame[
        (timeline_frame["replication"] == replication) & (timeline_frame["event"] == "redistribute")
    ]
    designs = [d for d in trace["design"].cat.categories if (events["design"] == d).any()]
    held = held_over_time(trace)
    fig, axes = plt.subplots(
        1,
        max(1, len(designs)),
        figsize=(3.2 * max(1, len(designs)), 3.6),
        sharey=True,
        squeeze=False,
        layout="constrained",
    )
    for ax, design in zip(axes[0], designs, strict=False):
        moment = events.loc[events["design"] == design, "time"].iloc[0]
        mine = held[held["design"] == design]
        before = _held_at(mine, moment, stores, after=False)
        after = _held_at(mine, moment, stores, after=True)
        x = np.arange(stores)
        ax.bar(x - 0.2, before, width=0.4, color="0.6", label="before")
        ax.bar(x + 0.2, after, width=0.4, color="tab:blue", label="after")
        ax.set(xticks=x, xlabel="store", title=f"{design} (t = {moment:.1f})")
    axes[0, 0].set_ylabel("orders held")
    axes[0, 0].legend()
    if not designs:
        axes[0, 0].text(0.5, 0.5, "no redistribution in replication 0", ha="center")
    fig.suptitle("Orders per store around the first redistribution")
    return _save(fig, path)


def _held_at(held: pd.DataFrame, moment: float, stores: int, after: bool) -> np.ndarray:
    counts = np.zeros(stores)
    for store in range(stores):
        series = held[held["store"] == store]
        series = series[series["time"] <= moment] if after else series[series["time"] < moment]
        counts[store] = series["held"].iloc[-1] if len(series) else 0
    return counts


def hashing_study(frame: pd.DataFrame, path: Path) -> Path:
    """Keys moved when one store leaves (against the ideal) and balance, per strategy."""
    fig, (moved, balance) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    names = frame["strategy"]
    y = np.arange(len(frame))
    moved.barh(y - 0.2, frame["moved"], height=0.4, color="tab:blue", label="of all keys")
    moved.barh(
        y + 0.2,
        frame["survivors_moved"],
        height=0.4,
        color="tab:red",
        label="of the keys of stores that stayed up",
    )
    moved.axvline(
        frame["ideal_moved"].iloc[0],
        color="black",
        linestyle="--",
        label="ideal share of all keys: 1 / stores",
    )
    moved.set(
        yticks=list(y),
        yticklabels=names,
        xlabel="share of keys that change store",
        title=f"One store of {int(frame['stores'].iloc[0])} leaves",
    )
    moved.invert_yaxis()
    moved.legend(loc="lower right", fontsize="small")
    balance.barh(y, frame["max_over_mean"], color="tab:green")
    balance.axvline(1.0, color="black", linestyle="--")
    balance.set(
        yticks=list(y),
        yticklabels=[],
        xlabel="busiest store's keys / mean",
        title="Balance, every store up",
        xlim=(0.9, max(1.5, frame["max_over_mean"].max() * 1.05)),
    )
    balance.invert_yaxis()
    return _save(fig, path)


def sweep(summary: pd.DataFrame, swept: Sequence[str], path: Path, time_unit: str = "min") -> Path:
    """The headline metrics against the first swept key, a line per design (and per value
    of the other swept keys), with 95% interval bands."""
    key, others = swept[0], list(swept[1:])
    metrics = ("lost", "duplicates", "latency_p95", "sla_missed")
    titles = {
        "lost": "orders lost",
        "duplicates": "orders prepared twice",
        "latency_p95": f"95th percentile latency ({time_unit})",
        "sla_missed": "share missing the SLA",
    }
    designs = list(dict.fromkeys(summary["design"]))
    colors = design_colors(designs)
    styles = ["-", "--", ":", "-."]
    fig, axes = plt.subplots(
        1, len(metrics), figsize=(4.2 * len(metrics), 3.8), layout="constrained"
    )
    frame = summary.assign(
        _group=summary[others].astype(str).agg(", ".join, axis=1) if others else ""
    )
    groups = list(dict.fromkeys(frame["_group"]))
    values = list(dict.fromkeys(frame[key].astype(str)))
    numeric = pd.api.types.is_numeric_dtype(frame[key])  # else: one position per value
    for ax, metric in zip(axes, metrics, strict=True):
        rows = frame[frame["metric"] == metric]
        for design in designs:
            for g, group in enumerate(groups):
                line = rows[(rows["design"] == design) & (rows["_group"] == group)]
                x = (
                    line[key].to_numpy(dtype=float)
                    if numeric
                    else np.array([values.index(str(v)) for v in line[key]], dtype=float)
                )
                label = design + (f" ({', '.join(others)} = {group})" if others else "")
                ax.plot(
                    x,
                    line["mean"],
                    styles[g % len(styles)],
                    marker="o",
                    markersize=3,
                    color=colors[design],
                    label=label,
                )
                ax.fill_between(
                    x,
                    line["ci_low"],
                    line["ci_high"],
                    color=colors[design],
                    alpha=0.15,
                    linewidth=0,
                )
        ax.set(xlabel=key, title=titles[metric])
        if not numeric:
            ax.set_xticks(range(len(values)), values, rotation=20, ha="right", fontsize="small")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles, labels, loc="outside lower center", ncol=min(4, len(labels)), fontsize="small"
    )
    fig.suptitle(f"Per run, mean and 95% confidence band, against {key}")
    return _save(fig, path)


def plan(
    frame: pd.DataFrame, key: str, answer: int | None, path: Path, time_unit: str = "min"
) -> Path:
    """Each target's metric against the planned key: mean and 95% interval at every value
    tried, the target's bound, and the answer; green where a value met every target."""
    targets = list(dict.fromkeys(frame["target"]))
    fig, axes = plt.subplots(
        1, len(targets), figsize=(4.2 * len(targets), 3.8), squeeze=False, layout="constrained"
    )
    feasible = frame.groupby("value")["met"].all()
    for ax, target in zip(axes[0], targets, strict=True):
        rows = frame[frame["target"] == target].sort_values("value")
        low = (rows["mean"] - rows["ci_low"]).fillna(0).clip(lower=0)
        high = (rows["ci_high"] - rows["mean"]).fillna(0).clip(lower=0)
        ok = rows["value"].map(feasible)
        ax.errorbar(
            rows["value"], rows["mean"], yerr=[low, high], fmt="none", color="0.4", capsize=3
        )
        ax.scatter(rows["value"], rows["mean"], c=np.where(ok, "tab:green", "tab:red"), zorder=3)
        bound = float(target.split()[-1])
        ax.axhline(bound, color="black", linestyle="--", linewidth=1)
        if answer is not None:
            ax.axvline(answer, color="tab:green", linewidth=1)
        ax.set(xlabel=key, title=target)
    fig.suptitle(
        f"Plan: green values of {key} meet every target"
        + (f"; answer {answer}" if answer is not None else "; none does")
    )
    return _save(fig, path)
