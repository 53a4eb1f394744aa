"""The comparison printed, written as CSV, and plotted."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from benchmarks.calibration.compare import Row

PLOTTED = ("lost", "duplicates", "redeliveries", "dead_lettered", "redelivery_delay_mean")


def _number(value: float) -> str:
    if math.isnan(value):
        return "–"
    return f"{value:.0f}" if value == int(value) and abs(value) >= 1 else f"{value:.3g}"


def _with_range(value: float, low: float, high: float) -> str:
    return f"{_number(value)} [{_number(low)}, {_number(high)}]"


def table(rows: list[Row]) -> str:
    """The side-by-side table of one case, as text."""
    lines = [f"{'metric':<24}{'broker mean [range]':>24}{'model mean [range]':>24}"
             f"{'broker − model [95% CI]':>30}"]
    for row in rows:
        broker = _with_range(row.broker_mean, row.broker_min, row.broker_max)
        model = _with_range(row.model_mean, row.model_min, row.model_max)
        difference = _with_range(row.difference, row.ci_low, row.ci_high)
        lines.append(f"{row.metric:<24}{broker:>24}{model:>24}{difference:>30}")
    return "\n".join(lines)


def markdown(case: str, rows: list[Row]) -> str:
    """The same table in Markdown (for the README)."""
    lines = [f"| {case} | broker mean [range] | model mean [range] | broker − model [95% CI] |",
             "|---|---|---|---|"]
    for row in rows:
        broker = _with_range(row.broker_mean, row.broker_min, row.broker_max)
        model = _with_range(row.model_mean, row.model_min, row.model_max)
        difference = _with_range(row.difference, row.ci_low, row.ci_high)
        lines.append(f"| {row.metric} | {broker} | {model} | {difference} |")
    return "\n".join(lines)


#: The columns of the one-table summary of a broker (`summary`).
SUMMARY = ("completed", "lost", "duplicates", "redeliveries", "dead_lettered")


def summary(rows_by_case: dict[str, list[Row]]) -> str:
    """One Markdown table for all the cases of a broker: per metric, the broker's mean and
    the model's ("broker / model"), then each side's crash-to-redelivery delay."""
    head = " | ".join(SUMMARY)
    lines = [f"| case | {head} | redelivery delay, broker (s) | model (s) |",
             "|---" * (len(SUMMARY) + 3) + "|"]
    for case, rows in rows_by_case.items():
        by = {row.metric: row for row in rows}
        cells = [f"{_number(by[m].broker_mean)} / {_number(by[m].model_mean)}" for m in SUMMARY]
        delay = by["redelivery_delay_mean"]
        low, high = by["redelivery_delay_min"], by["redelivery_delay_max"]
        broker = _with_range(delay.broker_mean, low.broker_min, high.broker_max)
        model = _with_range(delay.model_mean, low.model_min, high.model_max)
        lines.append(f"| {case} | {' | '.join(cells)} | {broker} | {model} |")
    return "\n".join(lines)


def write(folder: Path, per_run: list[dict], comparison: list[dict]) -> None:
    """`repetitions.csv` (one row per case × side × repetition), `comparison.csv` (one row
    per case × metric) and `comparison.png`."""
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(per_run).to_csv(folder / "repetitions.csv", index=False)
    frame = pd.DataFrame(comparison)
    frame.to_csv(folder / "comparison.csv", index=False)
    plot(frame, folder / "comparison.png")


def plot(frame: pd.DataFrame, path: Path) -> None:
    """Per metric, each case's broker and model means with their ranges."""
    import matplotlib.pyplot as plt

    cases = list(dict.fromkeys(frame["case"]))
    size = (4 * len(PLOTTED), 1.2 + 0.45 * len(cases))
    figure, axes = plt.subplots(1, len(PLOTTED), figsize=size)
    for axis, metric in zip(axes, PLOTTED, strict=True):
        part = frame[frame["metric"] == metric].set_index("case").reindex(cases)
        for offset, side, colour in ((-0.15, "broker", "tab:red"), (0.15, "model", "tab:blue")):
            y = [i + offset for i in range(len(cases))]
            mean = part[f"{side}_mean"]
            error = [(mean - part[f"{side}_min"]).fillna(0), (part[f"{side}_max"] - mean).fillna(0)]
            axis.errorbar(mean, y, xerr=error, fmt="o", color=colour, label=side, capsize=3)
        axis.set_yticks(range(len(cases)), cases if axis is axes[0] else [""] * len(cases))
        axis.invert_yaxis()
        axis.set_title(metric + (" (s)" if "delay" in metric else ""))
        axis.grid(axis="x", alpha=0.3)
    axes[0].legend(loc="lower right", fontsize="small")
    figure.suptitle("real broker (red) against the model (blue): mean and range over repetitions")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
