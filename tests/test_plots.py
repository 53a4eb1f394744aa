"""Every plot runs on real results and writes a PNG; the report holds the table and links
the images that exist."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure

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


def test_every_plot_returns_a_figure_and_writes_only_when_asked(results, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    figures = {
        "comparison": plots.comparison(results),
        "latency": plots.latency(results),
        "timeline": plots.timeline(results),
        "load_after_crash": plots.load_after_crash(results),
        "hashing": plots.hashing(study(stores=5, keys=500)),
    }
    assert list(tmp_path.iterdir()) == []  # nothing written without a path
    for name, figure in figures.items():
        assert isinstance(figure, Figure), name
        assert figure.axes, name
        path = tmp_path / f"{name}.png"
        figure.savefig(path, dpi=110)
        plt.close(figure)
        width, height = png_size(path)
        assert width > 300
        assert height > 200
        assert path.stat().st_size > 10_000  # a blank figure is a few kB


@pytest.mark.parametrize(
    "draw",
    [plots.comparison, plots.latency, plots.timeline, plots.load_after_crash, plots.hashing],
    ids=["comparison", "latency", "timeline", "load_after_crash", "hashing"],
)
def test_a_figure_draws_into_a_given_ax(results, draw):
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5))
    left.plot([0, 1], [0, 1])
    given = study(stores=4, keys=300) if draw is plots.hashing else results
    returned = draw(given, ax=right)
    assert returned is fig
    assert left in fig.axes  # the other panel is left alone
    assert len(fig.axes) >= 2
    plt.close(fig)


def test_a_figure_draws_into_a_subfigure_and_saves_when_given_a_path(results, tmp_path):
    fig = plt.figure(figsize=(12, 8), layout="constrained")
    top, bottom = fig.subfigures(2, 1)
    assert plots.comparison(results, fig=top) is fig
    assert plots.latency(results, fig=bottom, path=tmp_path / "both.png") is fig
    assert png_size(tmp_path / "both.png")[0] > 300
    plt.close(fig)


def test_the_latency_axis_stops_where_it_matters(results):
    figure = plots.latency(results)
    ax = figure.axes[0]
    sla = results.scenario.orders.sla
    assert ax.get_xlim()[1] >= 2 * sla
    orders = results.orders[results.orders["first_completion"].notna()]
    longest = (orders["first_completion"] - orders["arrival"]).max()
    assert ax.get_xlim()[1] < longest or "beyond" not in " ".join(
        t.get_text() for t in ax.get_legend().get_texts()
    )
    plt.close(figure)


def test_the_timeline_has_a_legend_for_every_kind_of_mark(results):
    figure = plots.timeline(results)
    labels = {t.get_text() for legend in figure.legends for t in legend.get_texts()}
    kinds = set(results.timeline["event"])
    drawn = [s for kind, s in plots.EVENT_MARKS.items() if kind in kinds]
    drawn += [s for (begin, _), s in plots.EVENT_SPANS.items() if begin in kinds]
    assert len(drawn) >= 3  # crash, detected_down, down spans
    for style in drawn:
        assert style["label"] in labels
    for kind, style in plots.EVENT_MARKS.items():
        if kind not in kinds:
            assert style["label"] not in labels
    assert any("orders held, 0–" in label for label in labels)
    assert "Kafka rebalance" not in labels  # only the kinds of event this run had
    assert {"ram_only", "mq_ring", "mq_modulo"} <= labels
    plt.close(figure)


def test_the_timeline_draws_every_redistribution(results):
    figure = plots.timeline(results, window=None)
    events = results.timeline[results.timeline["replication"] == 0]
    for panel, design in zip(figure.axes, results.scenario.designs, strict=False):
        dotted = [line for line in panel.get_lines() if line.get_linestyle() == ":"]
        redistributions = events[
            (events["design"] == design.name) & (events["event"] == "redistribute")
        ]
        assert len(dotted) == len(redistributions), design.name
    assert len(results.timeline.query("event == 'redistribute'")) > 0
    plt.close(figure)


def test_the_timeline_zooms_on_a_window_and_says_so(results):
    figure = plots.timeline(results, window=(100, 200))
    assert figure.axes[-1].get_xlim() == (100, 200)
    assert "zoomed on 100–200" in figure._suptitle.get_text()
    plt.close(figure)


def test_sim_save_writes_the_folder_as_the_command_line_does(results, tmp_path):
    written = sim.save(results, tmp_path / "saved")
    names = {path.name for path in written}
    assert {"summary.csv", "report.md", "timeline.png", "latency.png"} <= names
    assert "orders.parquet" not in names
    with_orders = sim.save(results, tmp_path / "saved", orders=True)
    assert "orders.parquet" in {path.name for path in with_orders}
    study_files = sim.save(study(stores=4, keys=200), tmp_path / "study")
    assert {path.name for path in study_files} == {"hashing.csv", "hashing.png"}


def test_a_figure_that_needs_what_a_run_did_not_keep_says_so(results):
    with pytest.raises(ValueError, match="sweep"):
        plots.sweep(results)


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
    assert "cut to what a metric can be" in text
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
    figure = plots.timeline(chain, window=None)
    panel = figure.axes[0]
    assert len(panel.get_yticks()) == 4
    assert "stores 0 to 3 of 300" in figure.get_suptitle()
    bars = plots.load_after_crash(chain)
    assert len(bars.axes[0].get_xticks()) == 4
    plt.close("all")


def test_periods_pair_each_start_with_its_end_or_the_horizon():
    import pandas as pd

    events = pd.DataFrame(
        {"time": [1.0, 3.0, 5.0], "event": ["database_down", "database_up", "database_down"]}
    )
    periods = plots._periods(events, "database_down", "database_up", 10.0)
    assert periods == [(1.0, 2.0), (5.0, 5.0)]


def test_the_timeline_shows_the_failure_modes():
    """Partitions and slowdowns as bands, outages of the database and the orchestrator
    as shading across the panel, false detections as markers; each in the legend."""
    scenario = sim.load_scenario(ROOT / "scenarios" / "failure_modes.yaml", replications=1)
    results = sim.run(scenario, trace=True)
    figure = plots.timeline(results, window=None)
    designs = list(results.trace["design"].cat.categories)
    panel = figure.axes[designs.index("mq_ring")]
    colors = {tuple(c.get_facecolor()[0][:3]) for c in panel.collections if len(c.get_paths())}
    assert len(colors) >= 3  # down (grey), partition (blue), slowdown (yellow)
    shaded = [patch for patch in panel.patches if patch.get_alpha() == 0.12]
    mine = results.timeline.query("design == 'mq_ring' and replication == 0")
    outages = mine["event"].isin(["database_down", "orchestrator_down"]).sum()
    assert len(shaded) == outages > 0  # chain-wide events (no store) are kept
    redistributions = (mine["event"] == "redistribute").sum()
    verticals = [
        line for line in panel.lines if list(line.get_xdata())[:1] * 2 == list(line.get_xdata())
    ]
    assert len(verticals) >= redistributions > 0
    falsely = mine[mine["event"] == "false_detection"]
    filled = [  # filled black triangles (a true detection's are hollow)
        line
        for line in panel.lines
        if line.get_marker() == "v" and line.get_markerfacecolor() == "black"
    ]
    assert sum(len(line.get_xdata()) for line in filled) == len(falsely) > 0
    labels = {text.get_text() for legend in figure.legends for text in legend.get_texts()}
    assert {"database down", "orchestrator down", "slow store"} <= labels
    assert "declared down while up (false detection)" in labels
    plt.close("all")
