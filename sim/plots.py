"""Figures, written as PNG files; each function takes result DataFrames and a path."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


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
        xlabel="share of keys",
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
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
