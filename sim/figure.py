"""What every figure of `sim.plots` shares: colours, where to draw, units, saving.

A figure function draws into a new figure, or into a given `fig` (a Figure or SubFigure)
or into the space of a given `ax` (split into panels if it needs several), and returns
the top-level `Figure`. It writes a file only when given a `path`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure

#: Keys whose values are durations, in the scenario's time unit.
TIME_KEYS = {"poll_interval", "ack_delay", "mtbf", "mttr", "duration", "drain", "warmup", "sla"}
#: Metrics as an axis says them; `{unit}` is the scenario's time unit.
METRIC_LABELS = {
    "lost": "orders lost per run",
    "duplicates": "orders prepared twice per run",
    "wasted_work": "wasted work per run ({unit})",
    "sla_missed": "share of orders missing the SLA",
    "latency_mean": "mean latency ({unit})",
    "latency_p50": "median latency ({unit})",
    "latency_p95": "95th percentile latency ({unit})",
    "latency_p99": "99th percentile latency ({unit})",
    "unfinished": "orders unfinished per run",
    "completed": "orders completed per run",
    "lost_online": "online orders lost per run",
    "lost_offline": "walk-ins lost per run",
    "peak_load": "most orders one store held",
    "detection_delay": "detection delay ({unit})",
    "moves": "order moves per run",
    "redistributions": "redistributions per run",
}


def metric_label(metric: str, unit: str) -> str:
    return METRIC_LABELS.get(metric, metric).format(unit=unit)


def key_label(key: str, unit: str) -> str:
    """A swept or planned key as an axis says it, with its unit."""
    last = key.rsplit(".", 1)[-1]
    if last in TIME_KEYS or key.endswith("prep_time.mean"):
        return f"{key} ({unit})"
    if key == "stores.count":
        return "stores.count (stores)"
    if key == "stores.workers":
        return "stores.workers (workers per store)"
    if key.endswith(".rate"):
        return f"{key} (orders per {unit})"
    return key


def design_colors(designs: Sequence[str]) -> dict[str, tuple]:
    """One colour per design, in scenario order, the same in every figure (tab10 without
    its grey: grey and black are kept for marks that are not designs)."""
    palette = [c for i, c in enumerate(plt.get_cmap("tab10").colors) if i != 7]
    return {name: palette[i % len(palette)] for i, name in enumerate(designs)}


def series_colors(count: int) -> list[tuple]:
    """`count` colours, all different while there are at most 20."""
    colors = plt.get_cmap("tab10" if count <= 10 else "tab20").colors
    return [colors[i % len(colors)] for i in range(count)]


def canvas(
    ax: Axes | None,
    fig: Figure | SubFigure | None,
    rows: int,
    cols: int,
    size: tuple[float, float],
    **subplots,
) -> tuple[Figure | SubFigure, np.ndarray]:
    """Where to draw: (the figure or subfigure to title, a rows x cols array of axes).

    A given `ax` is used as it is for one panel, or its space is split into panels; a
    given `fig` gets the panels; otherwise a new figure of `size` inches is made (through
    pyplot, so that a notebook shows it inline).
    """
    if ax is not None:
        if rows * cols == 1:
            return ax.get_figure(), np.array([[ax]])
        parent, spec = ax.get_figure(), ax.get_subplotspec()
        ax.remove()
        grid = spec.subgridspec(rows, cols)
        axes = np.array(
            [[parent.add_subplot(grid[r, c]) for c in range(cols)] for r in range(rows)]
        )
        return parent, axes
    if fig is None:
        fig = plt.figure(figsize=size, layout="constrained")
    return fig, fig.subplots(rows, cols, squeeze=False, **subplots)


def root(fig: Figure | SubFigure) -> Figure:
    """The top-level Figure of a figure or subfigure."""
    return fig.get_figure(root=True) if isinstance(fig, SubFigure) else fig


def title(fig: Figure | SubFigure, ax: Axes | None, text: str) -> None:
    """A figure's title, unless it is drawn into someone else's `ax`."""
    if ax is None:
        fig.suptitle(text)


def finish(fig: Figure | SubFigure, path: str | Path | None) -> Figure:
    """The top-level Figure, written to `path` as PNG if one is given."""
    top = root(fig)
    if path is not None:
        top.savefig(path, dpi=110)
    return top


def legend_below(fig: Figure | SubFigure, handles: list, ncol: int = 4) -> None:
    """A legend under the panels (outside them when the layout can make room)."""
    engine = root(fig).get_layout_engine()
    outside = engine is not None and type(engine).__name__ == "ConstrainedLayoutEngine"
    fig.legend(
        handles=handles,
        loc="outside lower center" if outside else "lower center",
        ncol=max(1, min(ncol, len(handles))),
        fontsize="small",
    )
