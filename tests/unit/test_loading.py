"""Reading scenarios: the corpus of broken files, `load_scenario`, `--set`, defaults, designs.

Every file in `tests/data/bad` is a small variation of a valid scenario whose first line is
`# expect: <substring>`: the command line must refuse it with exit status 2, a message
containing that substring, no traceback, and nothing written.
"""

from __future__ import annotations

import codecs
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sim.cli import main
from sim.loading import MAX_FILE_BYTES, load_scenario
from sim.scenario import (
    BalancerSpec,
    DatabaseSpec,
    FailuresSpec,
    OrchestratorSpec,
    Scenario,
    ScenarioError,
)

ROOT = Path(__file__).resolve().parents[2]
BAD = ROOT / "tests" / "data" / "bad"
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
BAD_FILES = sorted(path for path in BAD.iterdir() if path.is_file())
#: Files that cannot carry a `# expect:` line.
EXPECT_WITHOUT_HEADER = {"empty.yaml": "duration: Field required"}
#: Refusals that cannot point at a line: nothing in the file, or not text.
WITHOUT_LINE = {"empty.yaml", "comments_only.yaml", "binary_junk.bin", "utf16.yaml"}
#: Refusals also checked through a real `python -m sim` process.
THROUGH_SUBPROCESS = [
    "billion_laughs.yaml",
    "binary_junk.bin",
    "control_chars.yaml",
    "empty.yaml",
    "python_tag_system.yaml",
]

MINIMAL = """\
duration: 60
stores: {count: 2}
orders:
  online: {rate: 0.5}
  prep_time: {dist: exponential, mean: 5}
"""


@pytest.fixture(autouse=True)
def _keep_sigterm():
    """`main` installs a SIGTERM handler; give the test process its own back."""
    handler = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, handler)


def expectation(path: Path) -> str:
    """The substring the refusal of `path` must contain, from its first line."""
    if path.name in EXPECT_WITHOUT_HEADER:
        return EXPECT_WITHOUT_HEADER[path.name]
    raw = path.read_bytes()
    if raw[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        text = raw.decode("utf-16")
    else:
        text = raw.decode("utf-8", errors="replace")
    first = text.splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} has no '# expect:' first line"
    return first.removeprefix("# expect: ").strip()


def without_path(err: str, path: Path) -> str:
    """`err` with the file's path taken out, so that `nan_duration.yaml` cannot by itself
    satisfy an expectation of `duration`."""
    return err.replace(str(path), "FILE")


def write(folder: Path, text: str, name: str = "scenario.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def refusal(path: Path, sets: list[str] | None = None) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, sets or [])
    return caught.value


# --- the corpus, through the command line ------------------------------------------------


def test_corpus_is_large_and_every_file_states_its_expectation():
    assert len([p for p in BAD_FILES if p.suffix == ".yaml"]) >= 30
    for path in BAD_FILES:
        assert expectation(path)


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda path: path.name)
def test_bad_file_is_refused(path, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    status = main([str(path), "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert status == 2, err
    assert expectation(path) in without_path(err, path)
    assert "Traceback" not in err
    lines = without_path(err, path).splitlines()
    assert all(line.startswith("error: FILE") for line in lines), err  # each names the file
    if path.name not in WITHOUT_LINE:
        assert all(re.match(r"error: FILE:\d+:\d+: ", line) for line in lines), err
    assert list(tmp_path.iterdir()) == []  # no --out folder, no results/, no temp folder


@pytest.mark.parametrize("name", THROUGH_SUBPROCESS)
def test_bad_file_is_refused_by_a_real_process(name, tmp_path):
    path = BAD / name
    done = subprocess.run(
        [sys.executable, "-m", "sim", str(path), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert expectation(path) in without_path(done.stderr, path)
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # also: the os.system tag ran no `touch`


def test_a_directory_is_refused(tmp_path):
    folder = tmp_path / "scenario.yaml"
    folder.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "sim", str(folder), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert "not a file" in done.stderr
    assert "Traceback" not in done.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["scenario.yaml"]


def test_a_missing_file_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main([str(tmp_path / "nowhere.yaml"), "--out", str(tmp_path / "out")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_file_too_large_is_refused(tmp_path):
    path = write(tmp_path, MINIMAL + "#" * MAX_FILE_BYTES + "\n")
    assert "larger than" in str(refusal(path))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seed", "-1"], "seed"),
        (["--replications", "0"], "replications"),
        (["--jobs", "0"], "--jobs"),
        (["--set", "stores.count=abc"], "--set stores.count=abc"),
        (["--set", "duration"], "KEY=VALUE"),
    ],
)
def test_bad_command_line_values_are_refused(args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    scenario = write(tmp_path, MINIMAL)
    status = main([str(scenario), "--out", str(tmp_path / "out"), *args])
    err = capsys.readouterr().err
    assert status == 2, err
    assert message in err
    assert [p.name for p in tmp_path.iterdir()] == ["scenario.yaml"]


# --- load_scenario ---------------------------------------------------------------------


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda path: path.name)
def test_shipped_scenarios_load(path):
    scenario = load_scenario(path)
    assert scenario.name == path.stem
    assert scenario.designs


def test_a_valid_file_loads(tmp_path):
    scenario = load_scenario(write(tmp_path, MINIMAL, "small_chain.yaml"))
    assert scenario.name == "small_chain"  # from the file's name
    assert scenario.duration == 60
    assert scenario.stores.count == 2
    assert scenario.orders.online.rate == 0.5
    assert scenario.orders.prep_time.mean == 5


def test_a_wrong_value_points_at_its_line_and_column(tmp_path):
    text = (
        "name: lines\n"  # 1
        "duration: 60\n"  # 2
        "stores:\n"  # 3
        "  count: 2\n"  # 4
        '  workers: "3"\n'  # 5: the value starts at column 12
        "orders:\n"
        "  online: {rate: 0.5}\n"
        "  prep_time: {dist: exponential, mean: 5}\n"
    )
    path = write(tmp_path, text)
    error = refusal(path)
    assert len(error.lines) == 1
    assert error.lines[0].startswith(f"{path}:5:12: stores.workers: ")
    assert "'3'" in error.lines[0]
    assert [p.dotted for p in error.problems] == ["stores.workers"]


def test_a_mistake_in_a_design_points_at_its_line(tmp_path):
    text = MINIMAL + "designs:\n  ram_only: {queue: ram}\n  mq: {queue: db, balancer: {vnode: 3}}\n"
    path = write(tmp_path, text)
    [line] = refusal(path).lines
    assert line.startswith(f"{path}:8:")
    assert "designs.mq.balancer.vnode: unknown key" in line


def test_several_mistakes_give_several_lines(tmp_path):
    text = (
        "name: several\n"  # 1
        "duration: 60\n"  # 2
        "colour: red\n"  # 3: unknown key
        "stores:\n"  # 4
        '  count: "2"\n'  # 5: a string is not a number
        "orders:\n"  # 6
        "  online: {rate: -1}\n"  # 7: negative
        "  prep_time: {dist: exponential, mean: .nan}\n"  # 8: not finite
    )
    path = write(tmp_path, text)
    error = refusal(path)
    assert sorted(p.dotted for p in error.problems) == [
        "colour",
        "orders.online.rate",
        "orders.prep_time.exponential.mean",
        "stores.count",
    ]
    lines = {line.split(": ")[1]: line for line in error.lines}
    assert lines["colour"].startswith(f"{path}:3:")
    assert lines["stores.count"].startswith(f"{path}:5:")
    assert lines["orders.online.rate"].startswith(f"{path}:7:")
    assert lines["orders.prep_time.exponential.mean"].startswith(f"{path}:8:")


def test_cross_checks_report_every_problem(tmp_path):
    text = MINIMAL.replace("duration: 60", "duration: 60\ndrain: 2\nwarmup: 70") + (
        "failures:\n  mtbf: 100\n  scripted:\n    - {store: 5, at: 1000, down_for: 1}\n"
    )
    dotted = sorted(p.dotted for p in refusal(write(tmp_path, text)).problems)
    assert dotted == [
        "drain",
        "failures.mttr",
        "failures.scripted.0.at",
        "failures.scripted.0.store",
        "warmup",
    ]


def test_a_mistake_in_a_design_is_reported_beside_a_mistake_elsewhere(tmp_path):
    """Design overrides are checked even when the rest of the file is not valid: a file
    with a wrong `stores.count` and a wrong design key gets two lines."""
    text = MINIMAL.replace("count: 2", 'count: "2"') + (
        "designs:\n  mq: {queue: db, balancer: {vnode: 3}}\n"
    )
    dotted = sorted(p.dotted for p in refusal(write(tmp_path, text)).problems)
    assert dotted == ["designs.mq.balancer.vnode", "stores.count"]


def test_scientific_notation_is_a_number(tmp_path):
    text = MINIMAL.replace("duration: 60", "duration: 1e3").replace("rate: 0.5", "rate: 5E-1")
    scenario = load_scenario(write(tmp_path, text))
    assert scenario.duration == 1000.0
    assert scenario.orders.online.rate == 0.5
    assert load_scenario(write(tmp_path, MINIMAL), ["duration=2e2"]).duration == 200.0


def test_tags_are_refused_and_never_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = MINIMAL + 'time_unit: !!python/object/apply:os.system ["touch ran"]\n'
    error = refusal(write(tmp_path, text))
    assert "could not determine a constructor" in str(error)
    assert not (tmp_path / "ran").exists()


# --- --set -------------------------------------------------------------------------------


def test_set_a_number():
    scenario = load_scenario(ROOT / "scenarios" / "one_crash.yaml", ["stores.count=8"])
    assert scenario.stores.count == 8


def test_set_a_key_inside_one_design():
    path = ROOT / "scenarios" / "one_crash.yaml"
    scenario = load_scenario(path, ["designs.mq_ring.balancer.vnodes=40"])
    assert scenario.design("mq_ring").balancer.vnodes == 40
    others = [d for d in scenario.designs if d.name != "mq_ring"]
    assert others
    assert all(d.balancer.vnodes == 160 for d in others)


def test_set_creates_a_missing_section(tmp_path):
    scenario = load_scenario(write(tmp_path, MINIMAL), ["database.ack_delay=2"])
    assert all(design.database.ack_delay == 2 for design in scenario.designs)


def test_set_a_mapping_and_a_list(tmp_path):
    scenario = load_scenario(
        write(tmp_path, MINIMAL),
        [
            "orders.prep_time={dist: uniform, low: 2, high: 4}",
            "failures.scripted=[{store: 1, at: 10, down_for: 5}]",
        ],
    )
    assert scenario.orders.prep_time.mean == 3
    assert scenario.failures.scripted[0].store == 1


def test_later_set_wins(tmp_path):
    sets = ["stores.count=8", "stores.count=9"]
    assert load_scenario(write(tmp_path, MINIMAL), sets).stores.count == 9


def test_set_of_an_unknown_key_names_the_set(tmp_path):
    [line] = refusal(write(tmp_path, MINIMAL), ["stores.cnt=3"]).lines
    assert line.startswith("--set stores.cnt=3: ")
    assert "stores.cnt: unknown key" in line


def test_set_of_a_design_that_does_not_exist():
    path = ROOT / "scenarios" / "one_crash.yaml"
    [line] = refusal(path, ["designs.nope.balancer.vnodes=40"]).lines
    assert "--set designs.nope.balancer.vnodes" in line
    assert "no design named 'nope'" in line
    assert "mq_ring" in line  # names the designs there are


def test_set_of_a_value_of_the_wrong_type(tmp_path):
    [line] = refusal(write(tmp_path, MINIMAL), ["stores.count=abc"]).lines
    assert line.startswith("--set stores.count=abc: stores.count: ")
    assert "valid integer" in line


def test_set_inside_a_value_that_is_not_a_section(tmp_path):
    [line] = refusal(write(tmp_path, MINIMAL), ["stores.count.x=3"]).lines
    assert "stores.count is not a section" in line


def test_set_of_a_default_design(tmp_path):
    """A file without `designs` runs the default designs `ram_only` and `mq`, and
    `--set designs.mq....` reaches them."""
    scenario = load_scenario(write(tmp_path, MINIMAL), ["designs.mq.balancer.vnodes=40"])
    assert [d.name for d in scenario.designs] == ["ram_only", "mq"]
    assert scenario.design("mq").balancer.vnodes == 40


# --- defaults, round trip, designs -----------------------------------------------------------


def test_defaults_are_filled(tmp_path):
    scenario = load_scenario(write(tmp_path, MINIMAL, "defaults.yaml"))
    assert scenario.name == "defaults"
    assert scenario.seed == 0
    assert scenario.time_unit == "min"
    assert scenario.drain == 60 / 4
    assert scenario.horizon == 75
    assert scenario.warmup == 0
    assert scenario.replications == 10
    assert scenario.stores.workers == 1
    assert scenario.orders.offline.rate == 0
    assert scenario.orders.sla is None
    assert scenario.failures == FailuresSpec()
    assert scenario.failures.mtbf is None
    assert scenario.failures.scripted == ()
    assert [(d.name, d.queue) for d in scenario.designs] == [("ram_only", "ram"), ("mq", "db")]
    for design in scenario.designs:
        assert design.database == DatabaseSpec(ack_delay=0)
        assert design.orchestrator == OrchestratorSpec(poll_interval=1, misses=2)
        assert design.balancer == BalancerSpec(strategy="ring", vnodes=160)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda path: path.name)
def test_to_mapping_round_trips(path):
    scenario = load_scenario(path)
    mapping = scenario.to_mapping()
    assert Scenario.from_mapping(mapping) == scenario
    through_yaml = yaml.safe_load(yaml.safe_dump(mapping, sort_keys=False))
    assert Scenario.from_mapping(through_yaml) == scenario


def test_to_mapping_round_trips_with_defaults(tmp_path):
    scenario = load_scenario(write(tmp_path, MINIMAL))
    mapping = scenario.to_mapping()
    assert mapping["drain"] == 15
    assert set(mapping["designs"]) == {"ram_only", "mq"}
    assert Scenario.from_mapping(mapping) == scenario


def test_a_design_merges_the_top_level_sections_with_its_overrides(tmp_path):
    text = MINIMAL + (
        "database: {ack_delay: 0.5}\n"
        "orchestrator: {poll_interval: 2, misses: 3}\n"
        "balancer: {strategy: rendezvous, vnodes: 50}\n"
        "designs:\n"
        "  plain: {queue: db}\n"
        "  modulo: {queue: db, balancer: {strategy: modulo}}\n"
        "  patient: {queue: db, orchestrator: {misses: 5}, database: {ack_delay: 0}}\n"
        "  ram: {queue: ram}\n"
    )
    scenario = load_scenario(write(tmp_path, text))
    assert [d.name for d in scenario.designs] == ["plain", "modulo", "patient", "ram"]
    plain, modulo, patient, ram = scenario.designs
    for design in (plain, ram):
        assert design.database == DatabaseSpec(ack_delay=0.5)
        assert design.orchestrator == OrchestratorSpec(poll_interval=2, misses=3)
        assert design.balancer == BalancerSpec(strategy="rendezvous", vnodes=50)
    assert modulo.balancer == BalancerSpec(strategy="modulo", vnodes=50)
    assert modulo.orchestrator == plain.orchestrator
    assert patient.orchestrator == OrchestratorSpec(poll_interval=2, misses=5)
    assert patient.database == DatabaseSpec(ack_delay=0)
    assert patient.balancer == plain.balancer
    assert ram.queue == "ram"


def test_a_long_file_name_gives_a_usable_default_name(tmp_path):
    """The default name is the file's name, shortened to the 64 characters a name may
    have, so a long file name without `name` is not refused."""
    scenario = load_scenario(write(tmp_path, MINIMAL, "sweep_" + "x" * 70 + ".yaml"))
    assert scenario.name.startswith("sweep_")


# --- runs too large to finish (checked without running anything) -----------------------------


# Poll rounds cost per crash: the orchestrator wakes at a crash and visits the stores it
# watches until the crashed one is declared down (`misses` rounds, or its outage).
COSTLY_POLLS = (
    "failures: {mtbf: 1, mttr: 1}\n"  # 3,750 crashes of 100 stores
    "orchestrator: {misses: 1000000}\n"  # each watched a million rounds
)


def test_cost_limit_points_at_the_key_where_the_value_was_written(tmp_path):
    chain = MINIMAL.replace("count: 2", "count: 100") + COSTLY_POLLS
    text = chain + "orchestrator: {poll_interval: 1e-9, misses: 1000000}\n"
    text = text.replace("orchestrator: {misses: 1000000}\n", "")
    [problem] = refusal(write(tmp_path, text + "designs: {mq: {queue: db}}\n")).problems
    assert problem.dotted == "orchestrator.poll_interval"
    assert "mostly poll rounds" in problem.message
    design = "designs: {mq: {queue: db, orchestrator: {poll_interval: 1e-9}}}\n"
    [problem] = refusal(write(tmp_path, chain + design)).problems
    assert problem.dotted == "designs.mq.orchestrator.poll_interval"


def test_cost_limit_applies_to_the_default_designs(tmp_path):
    """With no `designs` section the default `mq` design polls: the limit applies to it."""
    text = MINIMAL.replace("count: 2", "count: 100") + COSTLY_POLLS
    error = refusal(write(tmp_path, text), ["orchestrator.poll_interval=1e-9"])
    assert "poll_interval" in str(error)


def test_a_tiny_poll_interval_that_can_finish_is_not_refused(tmp_path):
    """Settled stores are not polled: without crashes the orchestrator never wakes, and
    with a few it watches each for `misses` rounds, however short the interval."""
    text = MINIMAL + "orchestrator: {poll_interval: 1e-9}\ndesigns: {mq: {queue: db}}\n"
    assert load_scenario(write(tmp_path, text)).designs[0].orchestrator.poll_interval == 1e-9
    crashes = "failures:\n  scripted: [{store: 1, at: 10, down_for: 5}]\n"
    scenario = load_scenario(write(tmp_path, text + crashes), ["replications=1"])
    import sim

    row = sim.run(scenario).replications.iloc[0]
    assert row["detection_delay"] == pytest.approx(2e-9, abs=1e-9)


def test_a_20000_store_chain_evening_is_not_refused_but_maglev_polled_fast_is(tmp_path):
    """Membership changes are counted: a Maglev table is refilled once per poll round that
    changes members (about 0.2 s each), a ring's flag flipped (nothing)."""
    dominoes = Path(__file__).parents[2] / "scenarios" / "dominoes.yaml"
    chain = ["stores.count=20000", "orders.online.rate=2667"]
    load_scenario(dominoes, chain)
    load_scenario(dominoes, [*chain, "balancer.strategy=maglev"])
    fast = [*chain, "orchestrator.poll_interval=0.01"]
    load_scenario(dominoes, fast)
    error = refusal(dominoes, [*fast, "balancer.strategy=maglev"])
    assert all(p.dotted.endswith("balancer.strategy") for p in error.problems)
    assert "mostly membership changes" in str(error)


@pytest.mark.parametrize(
    ("count", "balancer"),
    [
        pytest.param(10000, "{strategy: ring, vnodes: 10000}", id="10000-stores-x-10000-vnodes"),
        pytest.param(2, "{strategy: ring, weights: {0: 1.0e12}}", id="one-store-weighing-1e12"),
    ],
)
def test_ring_size_is_limited(count, balancer, tmp_path):
    """A ring of 1e8 points (10,000 stores x 10,000 vnodes), or of 1.6e14 (one store of
    weight 1e12 x 160 vnodes), would be built for every new membership (minutes to
    forever, gigabytes): it is refused."""
    text = MINIMAL.replace("count: 2", f"count: {count}") + (
        f"balancer: {balancer}\ndesigns: {{mq: {{queue: db}}}}\n"
    )
    refusal(write(tmp_path, text))


def test_balancer_weights_load_run_and_read_back(tmp_path):
    text = MINIMAL + "balancer: {strategy: ring, weights: {0: 2.0}}\n"
    scenario = load_scenario(write(tmp_path, text))
    assert all(d.balancer.weights == {0: 2.0} for d in scenario.designs)
    again = Scenario.from_mapping(scenario.to_mapping())
    assert again == scenario


@pytest.mark.parametrize("cv", ["1.0e200", "1.0e-200"])
def test_a_coefficient_of_variation_that_would_overflow_is_refused(tmp_path, cv):
    text = MINIMAL.replace(
        "{dist: exponential, mean: 5}", f"{{dist: lognormal, mean: 5, cv: {cv}}}"
    )
    error = refusal(write(tmp_path, text))
    assert "orders.prep_time.lognormal.cv" in str(error) or "orders.prep_time.cv" in str(error)


def test_yaml_nested_too_deeply_is_refused(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text(MINIMAL + "sweep: {stores.count: " + "[" * 5000 + "]" * 5000 + "}\n")
    error = refusal(path)
    assert "nested too deeply" in str(error)
