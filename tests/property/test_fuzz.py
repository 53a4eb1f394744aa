"""Fuzzing the loader: mutate good scenarios and demand a clean refusal or a sound run.

Each example takes a shipped scenario (shortened so that a run is quick), applies one
mutation at a random key path (drop the key, change the value's type, flip a number's
sign, set it to zero) and loads the result as a file. Either the loader refuses it with
`ScenarioError` (one non-empty line per mistake), or the scenario runs and conservation
holds for every design. Any other exception fails the test.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim.scenario import ScenarioError

ROOT = Path(__file__).resolve().parents[2]
SHORTEN = {"duration": 40, "drain": 30, "warmup": 0, "replications": 1}


def base(name: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "scenarios" / name).read_text(encoding="utf-8"))
    data.update(SHORTEN)
    data.pop("sweep", None)
    data.get("failures", {}).pop("scripted", None)
    return data


BASES = {name: base(name) for name in ("dominoes.yaml", "one_crash.yaml", "seed_claim.yaml")}


def paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path in a nested mapping (lists by index)."""
    found = []
    if isinstance(data, dict):
        for key, value in data.items():
            found.append((*prefix, key))
            found += paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found.append((*prefix, index))
            found += paths(value, (*prefix, index))
    return found


def mutate(data: dict, path: tuple, kind: str, replacement: Any) -> None:
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if kind == "drop":
        if isinstance(parent, dict):
            del parent[last]
        else:
            parent.pop(last)
    elif kind == "type":
        parent[last] = replacement
    elif (
        kind == "sign"
        and isinstance(parent[last], int | float)
        and not isinstance(parent[last], bool)
    ):
        parent[last] = -parent[last]
    elif kind == "zero":
        parent[last] = 0


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    name=st.sampled_from(sorted(BASES)),
    choice=st.integers(0, 10_000),
    kind=st.sampled_from(["drop", "type", "sign", "zero"]),
    replacement=st.sampled_from(["5", "", None, True, [1, 2], {"a": 1}, 1e300, -1, "ring"]),
)
def test_mutated_scenarios_are_refused_cleanly_or_run_soundly(
    tmp_path_factory, name, choice, kind, replacement
):
    data = copy.deepcopy(BASES[name])
    every = paths(data)
    mutate(data, every[choice % len(every)], kind, replacement)
    path = tmp_path_factory.mktemp("fuzz") / "scenario.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    try:
        scenario = sim.load_scenario(path)
    except ScenarioError as error:
        refusal = error
    else:
        refusal = None
    if refusal is not None:
        assert refusal.lines
        assert all(line.strip() for line in refusal.lines)
        return
    results = sim.run(scenario)
    frame = results.replications
    kept = frame["completed"] + frame["lost"] + frame["unfinished"] + frame["dead_lettered"]
    assert (frame["arrived"] == kept).all()
    assert (frame[["completed", "lost", "unfinished", "duplicates"]] >= 0).all().all()
