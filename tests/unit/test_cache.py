"""The resume cache: entries read back exactly, and nothing placed in the cache folder is
ever executed, trusted when made for something else, or a reason to fail."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

import sim
from sim.cache import MAGIC, Cache, cell_key, encode
from sim.experiment import ReplicationResult, run_replication
from sim.loading import load_scenario

ROOT = Path(__file__).resolve().parents[2]
ONE_CRASH = ROOT / "scenarios" / "one_crash.yaml"


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(ONE_CRASH, replications=2, duration=60, drain=30)


@pytest.fixture(scope="module")
def result(scenario):
    return run_replication(scenario, 1, keep_orders=True)


def same(a: ReplicationResult, b: ReplicationResult) -> None:
    pd.testing.assert_frame_equal(pd.DataFrame(a.rows), pd.DataFrame(b.rows))
    pd.testing.assert_frame_equal(a.timeline, b.timeline)
    if a.orders is None:
        assert b.orders is None
    else:
        pd.testing.assert_frame_equal(a.orders, b.orders)


class Exploit:
    """Unpickling this runs `touch`: the file appearing means code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_no_pickle_anywhere_in_sim():
    for path in (ROOT / "sim").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(import|from)\s+(c?pickle|dill|joblib|shelve)", text, re.M), path
        assert "allow_pickle=True" not in text, path


@pytest.mark.parametrize("keep_orders", [True, False])
def test_an_entry_reads_back_exactly(tmp_path, scenario, keep_orders):
    result = run_replication(scenario, 1, keep_orders)
    cache = Cache(tmp_path)
    key = cell_key(scenario, keep_orders)
    cache.store(key, 1, result)
    same(cache.load(key, 1), result)
    assert cache.notes == []
    assert [p.name for p in tmp_path.iterdir()] == [f"{key}-1.simrep"]  # no temporary left


def test_a_planted_pickle_is_never_unpickled(tmp_path, scenario):
    """The old format (SHA-256 then a pickle), under the old name and under the new one."""
    marker = tmp_path / "code-ran"
    payload = pickle.dumps(Exploit(marker))
    content = hashlib.sha256(payload).digest() + payload
    cache = Cache(tmp_path / "cache")
    key = cell_key(scenario, True)
    cache.folder.mkdir()
    (cache.folder / f"{key}-0.pickle").write_bytes(content)
    cache.path(key, 0).write_bytes(content)
    cache.path(key, 1).write_bytes(MAGIC + content)
    assert cache.load(key, 0) is None
    assert cache.load(key, 1) is None
    assert not marker.exists()
    assert len(cache.notes) == 2


def entry(result, key, replication, changes: dict) -> bytes:
    """An entry as `encode` writes it, with some header fields changed (checksum kept)."""
    content = encode(result, key, replication)
    end = content.index(b"\n", len(MAGIC))
    header = json.loads(content[len(MAGIC) : end])
    header.update(changes)
    return MAGIC + json.dumps(header).encode() + content[end:]


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"seed": 12345}, "another seed"),
        ({"replication": 0}, "another replication"),
        ({"cell": "0123456789abcdef"}, "another cell"),
        ({"sim": "0.0.1"}, "another version"),
        ({"format": "1"}, "another version"),
        ({"keep_orders": False}, "another keep_orders"),
        ({"designs": ["x", "y", "z"]}, "another designs"),
        ({"rows": 42}, "malformed rows"),
        ({"rows": [42, 42, 42]}, "malformed rows"),
        ({"tables": "everything"}, "malformed header"),
        ({"sha256": "0" * 64}, "checksum"),
    ],
)
def test_an_entry_made_for_something_else_is_run_again(tmp_path, scenario, result, changes, why):
    cache = Cache(tmp_path)
    key = cell_key(scenario, True)
    cache.folder.mkdir(exist_ok=True)
    cache.path(key, 1).write_bytes(entry(result, key, 1, changes))
    assert cache.load(key, 1) is None
    assert len(cache.notes) == 1
    assert why in cache.notes[0]
    assert str(tmp_path) in cache.notes[0]


@pytest.mark.parametrize(
    "damage",
    [
        lambda content: b"",
        lambda content: content[: len(content) // 2],
        lambda content: content[:-1] + bytes([content[-1] ^ 1]),
        lambda content: MAGIC + b"[1, 2]\n",
        lambda content: MAGIC + b"\xff\xfe not json\n",
        lambda content: MAGIC + b"{" * 100_000 + b"\n",
        lambda content: os.urandom(5000),
        lambda content: pickle.dumps(42),
    ],
    ids=["empty", "truncated", "flipped", "list", "binary", "deep", "random", "pickled-42"],
)
def test_a_malformed_entry_is_run_again_without_a_traceback(tmp_path, scenario, result, damage):
    cache = Cache(tmp_path)
    key = cell_key(scenario, True)
    cache.store(key, 1, result)
    cache.path(key, 1).write_bytes(damage(cache.path(key, 1).read_bytes()))
    assert cache.load(key, 1) is None
    assert len(cache.notes) == 1


def test_a_table_of_another_type_is_refused_before_it_is_read(tmp_path, scenario, result):
    """Only plain columns: an extension type (which can name code) is never converted."""

    class Tagged(pa.ExtensionType):
        def __init__(self):
            super().__init__(pa.int64(), "sim.test.tagged")

        def __arrow_ext_serialize__(self):
            return b""

        @classmethod
        def __arrow_ext_deserialize__(cls, storage_type, serialized):
            return cls()

    pa.register_extension_type(Tagged())
    try:
        table = pa.table({"x": pa.ExtensionArray.from_storage(Tagged(), pa.array([1, 2]))})
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        stream = sink.getvalue().to_pybytes()
        key = cell_key(scenario, True)
        content = encode(result, key, 1)
        end = content.index(b"\n", len(MAGIC))
        header = json.loads(content[len(MAGIC) : end])
        payload = stream + stream
        digest = hashlib.sha256(payload).hexdigest()
        header.update(tables=[len(stream), len(stream)], sha256=digest)
        cache = Cache(tmp_path)
        cache.folder.mkdir(exist_ok=True)
        cache.path(key, 1).write_bytes(MAGIC + json.dumps(header).encode() + b"\n" + payload)
        assert cache.load(key, 1) is None  # while the type is registered, as a library's is
    finally:
        pa.unregister_extension_type("sim.test.tagged")
    assert "type" in cache.notes[0]


def test_a_run_with_a_poisoned_cache_redoes_those_replications(tmp_path, scenario):
    """Through `sim.run`: bad entries are run again and the results are those of a fresh run."""
    cache = Cache(tmp_path / "cache")
    key = cell_key(scenario, False)
    cache.folder.mkdir()
    cache.path(key, 0).write_bytes(pickle.dumps(42))
    fresh = sim.run(scenario)
    other = run_replication(scenario, 0, keep_orders=False)
    cache.store(key, 1, other)  # replication 0's result, filed as replication 1
    resumed = sim.run(scenario, cache=cache)
    pd.testing.assert_frame_equal(resumed.replications, fresh.replications)
    assert sum("run again" in note for note in resumed.notes) == 2


def test_temporary_names_are_unique_per_writer(tmp_path, scenario, result, monkeypatch):
    """Two writers of one entry never share a temporary file (a stale one is no obstacle)."""
    cache = Cache(tmp_path)
    key = cell_key(scenario, True)
    tmp_path.joinpath(f".{key}-1.simrep.partial").write_bytes(b"stale")
    names = []
    real = Path.replace

    def spy(self, target):
        names.append(self.name)
        return real(self, target)

    monkeypatch.setattr(Path, "replace", spy)
    cache.store(key, 1, result)
    cache.store(key, 1, result)
    assert len(set(names)) == 2
    assert str(os.getpid()) in names[0]
    same(cache.load(key, 1), result)


def test_compressed_tables_are_refused_unread(tmp_path, scenario, result):
    """A few kilobytes of zstd could decompress to gigabytes: never decompressed."""
    key = cell_key(scenario, True)
    content = encode(result, key, 1)
    end = content.index(b"\n", len(MAGIC))
    header = json.loads(content[len(MAGIC) : end])
    streams = []
    for frame in (result.timeline, result.orders):
        table = pa.Table.from_pandas(frame, preserve_index=False)
        sink = pa.BufferOutputStream()
        options = pa.ipc.IpcWriteOptions(compression="zstd")
        with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
            writer.write_table(table)
        streams.append(sink.getvalue().to_pybytes())
    payload = b"".join(streams)
    header.update(
        tables=[len(stream) for stream in streams], sha256=hashlib.sha256(payload).hexdigest()
    )
    cache = Cache(tmp_path)
    cache.folder.mkdir(exist_ok=True)
    cache.path(key, 1).write_bytes(MAGIC + json.dumps(header).encode() + b"\n" + payload)
    assert cache.load(key, 1) is None
    assert "compressed" in cache.notes[0]
