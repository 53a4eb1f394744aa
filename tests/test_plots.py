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


def test_per_store_figures_of_a_chain_draw_its_first_stores(tmp_path, monkeypatch):
    """A chain of 300 stores draws MAX_STORES_DRAWN bands and pairs of bars, not 300
    (the figure stays a readable size, whatever the chain); 4 here, to draw quickly."""
    scenario = sim.load_scenario(
        ROOT / "scenarios" / "dominoes.yaml",
        replications=1,
        duration=60,
        drain=30,
        stores__count=300,
        orders__online__rate=20.0,
        failures__mtbf=60,
        failures__scripted=[],
    )
    chain = sim.run(scenario, keep_orders=True, trace=True)
    monkeypatch.setattr(plots, "MAX_STORES_DRAWN", 4)
    path = plots.timeline(chain.timeline, chain.trace, tmp_path / "t.png", 300, 90.0)
    _, height = png_size(path)
    _, small = png_size(plots.timeline(chain.timeline, chain.trace, tmp_path / "s.png", 4, 90.0))
    assert height == small
    plots.load_after_crash(chain.trace, chain.timeline, tmp_path / "l.png", 300)
