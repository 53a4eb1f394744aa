"""Every plot runs on real results and writes a PNG; the report holds the table and links
the images that exist."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

import sim
from sim import plots, report
from sim.hashing_study import study
from sim.outputs import write_results

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def results():
    scenario = sim.load_scenario(
        ROOT / "scenarios" / "dominoes.yaml", replications=3, duration=240, drain=60
    )
    return sim.run(scenario, keep_orders=True, trace=True)


def listing(folder: Path) -> list[str]:
    """The files of a results folder, less the marker every results folder holds."""
    return sorted(p.name for p in folder.iterdir() if p.name != ".written-by-sim")


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    return struct.unpack(">II", data[16:24])


def test_every_plot_writes_a_png(results, tmp_path):
    scenario = results.scenario
    written = [
        plots.comparison(results.summary, tmp_path / "comparison.png"),
        plots.latency(results.orders, tmp_path / "latency.png", scenario.orders.sla),
        plots.timeline(
            results.timeline,
            results.trace,
            tmp_path / "timeline.png",
            scenario.stores.count,
            scenario.horizon,
        ),
        plots.load_after_crash(
            results.trace, results.timeline, tmp_path / "load.png", scenario.stores.count
        ),
        plots.hashing_study(study(stores=5, keys=500), tmp_path / "hashing.png"),
    ]
    for path in written:
        width, height = png_size(path)
        assert width > 300
        assert height > 200
        assert path.stat().st_size > 10_000  # a blank figure is a few kB


def test_orders_held_follow_the_trace(results):
    held = plots.held_over_time(results.trace)
    assert (held["held"] >= 0).all()
    # Every store starts empty and holds what it was sent minus what left it.
    for (design, store), steps in held.groupby(["design", "store"], observed=True):
        trace = results.trace[
            (results.trace["design"] == design) & (results.trace["store"] == store)
        ]
        sent = (trace["what"] == "sent").sum()
        left = trace["what"].isin(["finish", "abandon", "drop"]).sum()
        assert steps["held"].iloc[-1] == sent - left


def test_results_folder_has_report_linking_existing_images(results, tmp_path):
    out = tmp_path / "out"
    write_results(results, out, figures=True)
    text = (out / "report.md").read_text()
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(images) == 4
    for image in images:
        assert (out / image).is_file()
    for design in ("ram_only", "mq_ring", "mq_modulo"):
        assert f"| {design}" in text or f" {design} |" in text
        assert f"**{design}** lost" in text
    lost = results.summary.query("design == 'ram_only' and metric == 'lost'")["mean"].iloc[0]
    assert report.format_number(lost) in text
    assert "| lost |" in text


def test_no_figures_without_asking(results, tmp_path):
    write_results(results, tmp_path / "plain")
    assert listing(tmp_path / "plain") == [
        "comparisons.csv",
        "replications.csv",
        "scenario.yaml",
        "summary.csv",
    ]


def test_spans_pair_each_start_with_its_end_or_the_horizon():
    import pandas as pd

    events = pd.DataFrame(
        {"time": [1.0, 3.0, 5.0], "event": ["partition", "partition_end", "partition"]}
    )
    assert plots._spans(events, "partition", "partition_end", 10.0) == [(1.0, 2.0), (5.0, 5.0)]


def test_the_timeline_shows_the_failure_modes(tmp_path, monkeypatch):
    """Partitions and slowdowns as bands, outages of the database and the orchestrator
    as shading across the panel (with a legend), false detections as markers."""
    scenario = sim.load_scenario(ROOT / "scenarios" / "failure_modes.yaml", replications=1)
    results = sim.run(scenario, trace=True)
    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig) or Path(path))
    plots.timeline(results.timeline, results.trace, tmp_path / "t.png", 6, scenario.horizon)
    panel = figures[0].axes[1]  # mq_ring
    labels = panel.get_legend_handles_labels()[1]
    assert labels == ["database down", "orchestrator down"]
    colors = {tuple(c.get_facecolor()[0][:3]) for c in panel.collections if len(c.get_paths())}
    assert len(colors) >= 3  # down (grey), partition (blue), slowdown (yellow)
    falsely = results.timeline.query("design == 'mq_ring' and event == 'false_detection'")
    markers = [line for line in panel.lines if line.get_marker() == "v"]
    assert sum(len(line.get_xdata()) for line in markers) >= len(falsely) > 0
