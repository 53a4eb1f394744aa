"""Finished replications kept on disk while a run is under way, so an interrupted run
resumes where it stopped.

Each replication of each cell is one file, `<cell key>-<replication>.simrep`, in a format
that cannot run code when it is read: a magic line, a JSON header, then Arrow IPC streams
(plain columns of numbers and strings; nothing is unpickled, no extension type is
accepted). The header says what the entry is: the cell key (a hash of the cell's resolved
scenario, less the number of replications, which does not change any one replication),
the replication, the seed, whether per-order tables are kept, the versions of `sim` and of
this format, and a SHA-256 of the tables. An entry that is missing, damaged, made for
something else or not readable is run again, with a note; it is never trusted and never a
reason to fail. A run that completes removes its cache.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import secrets
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from sim import __version__
from sim.scenario import Scenario

VERSION = "2"  # bump when a change to the model changes results (2: no more pickles)
MAGIC = b"sim replication cache\n"
MAX_HEADER_BYTES = 4_000_000  # the header holds one row of metrics per design
SUFFIX = ".simrep"
TABLES = ("timeline", "orders")


@dataclass(frozen=True)
class CellKey:
    """What identifies a cell's results: `digest` (16 hex digits of a hash of the cell's
    scenario and settings), and the parts of it an entry's header repeats."""

    digest: str
    seed: int
    keep_orders: bool
    designs: tuple[str, ...]

    def __str__(self) -> str:
        return self.digest


def cell_key(scenario: Scenario, keep_orders: bool) -> CellKey:
    """What identifies a cell's results."""
    data = scenario.to_mapping()
    data.pop("replications")
    order = list(data["designs"])  # sort_keys below would hide the designs' order
    text = json.dumps([data, order, keep_orders, VERSION, __version__], sort_keys=True, default=str)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return CellKey(digest, scenario.seed, keep_orders, tuple(order))


class Unusable(Exception):
    """Why a stored entry cannot be used (it is then run again)."""


class Cache:
    """A folder of finished replications. `load` returns an entry only if it is well formed
    and made for exactly this cell, replication and seed; `notes` then says how many
    entries were run again, and why."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.redone: Counter[str] = Counter()

    def path(self, key: CellKey, replication: int) -> Path:
        return self.folder / f"{key.digest}-{replication}{SUFFIX}"

    def load(self, key: CellKey, replication: int) -> Any | None:
        """The stored result, or None (missing, or unusable: run it again)."""
        try:
            content = self.path(key, replication).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            self.redone[f"unreadable ({error.strerror})"] += 1
            return None
        try:
            return decode(content, key, replication)
        except Unusable as why:
            self.redone[str(why)] += 1
        except Exception as error:  # any malformation at all: redone, never trusted
            self.redone[f"malformed ({type(error).__name__})"] += 1
        return None

    def store(self, key: CellKey, replication: int, result: Any) -> None:
        """Write atomically: a temporary file of a name no other process uses, renamed
        into place (concurrent writers of one entry both succeed; the last one stays)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.path(key, replication)
        temporary = target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}")
        try:
            with open(temporary, "xb") as file:
                file.write(encode(result, key, replication))
            temporary.replace(target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise

    @property
    def notes(self) -> list[str]:
        """One line per reason entries were run again."""
        return [
            f"note: {count} kept replication(s) in {self.folder} could not be used ({why}): "
            "run again"
            for why, count in sorted(self.redone.items())
        ]

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def encode(result: Any, key: CellKey, replication: int) -> bytes:
    """An entry: the magic line, the JSON header, then the tables as Arrow IPC streams."""
    streams = [_table_bytes(getattr(result, name)) for name in TABLES]
    payload = b"".join(streams)
    header = {
        "format": VERSION,
        "sim": __version__,
        "cell": key.digest,
        "replication": replication,
        "seed": key.seed,
        "keep_orders": key.keep_orders,
        "designs": list(key.designs),
        "rows": [{name: _plain(value) for name, value in row.items()} for row in result.rows],
        "tables": [len(stream) for stream in streams],
        "sha256": hashlib.sha256(payload).hexdigest(),
    }
    text = json.dumps(header, allow_nan=True).encode()
    return MAGIC + text + b"\n" + payload


def decode(content: bytes, key: CellKey, replication: int) -> Any:
    """The result an entry holds, if it is well formed and made for this very replication;
    raise `Unusable` (or any error, for malformed contents) otherwise."""
    from sim.experiment import ReplicationResult  # experiment imports this module

    if not content.startswith(MAGIC):
        raise Unusable("not a cache entry of this version of sim")
    end = content.find(b"\n", len(MAGIC), len(MAGIC) + MAX_HEADER_BYTES)
    if end < 0:
        raise Unusable("no header")
    header = json.loads(content[len(MAGIC) : end])
    _check_header(header, key, replication)
    payload = content[end + 1 :]
    if hashlib.sha256(payload).hexdigest() != header["sha256"]:
        raise Unusable("damaged: its checksum does not match")
    sizes = header["tables"]
    if sum(sizes) != len(payload):
        raise Unusable("damaged: its tables have the wrong length")
    tables, start = [], 0
    for size in sizes:
        tables.append(_read_table(payload[start : start + size]))
        start += size
    timeline, orders = tables
    if (orders is None) == key.keep_orders or timeline is None:
        raise Unusable("made with other settings")
    for frame in (timeline, orders):
        _check_labels(frame, key, replication)
    rows = _rows(header["rows"], key, replication)
    return ReplicationResult(rows=rows, timeline=timeline, orders=orders)


def _check_header(header: Any, key: CellKey, replication: int) -> None:
    if not isinstance(header, dict):
        raise Unusable("malformed header")
    expected = {
        "format": VERSION,
        "sim": __version__,
        "cell": key.digest,
        "replication": replication,
        "seed": key.seed,
        "keep_orders": key.keep_orders,
        "designs": list(key.designs),
    }
    for name, value in expected.items():
        if name not in header:
            raise Unusable(f"no {name} in its header")
        if header[name] != value or type(header[name]) is not type(value):
            what = {"format": "another version of sim", "sim": "another version of sim"}
            raise Unusable(f"made for {what.get(name, f'another {name}')}")
    sizes = header.get("tables")
    if not (
        isinstance(sizes, list)
        and len(sizes) == len(TABLES)
        and all(type(size) is int and size >= 0 for size in sizes)
        and isinstance(header.get("sha256"), str)
    ):
        raise Unusable("malformed header")


def _rows(rows: Any, key: CellKey, replication: int) -> list[dict]:
    """The metrics rows, one per design in order, each of plain numbers."""
    if not isinstance(rows, list) or len(rows) != len(key.designs):
        raise Unusable("malformed rows")
    for row, design in zip(rows, key.designs, strict=True):
        if (
            not isinstance(row, dict)
            or row.get("design") != design
            or row.get("replication") != replication
            or not all(_is_plain(value) for value in row.values())
        ):
            raise Unusable("malformed rows")
    return rows


def _check_labels(frame: pd.DataFrame | None, key: CellKey, replication: int) -> None:
    """Every row of a table names this replication and one of this cell's designs."""
    if frame is None:
        return
    if "design" not in frame or "replication" not in frame:
        raise Unusable("malformed tables")
    design = frame["design"]
    if not isinstance(design.dtype, pd.CategoricalDtype) or list(design.cat.categories) != list(
        key.designs
    ):
        raise Unusable("malformed tables")
    if not (frame["replication"] == replication).all():
        raise Unusable("made for another replication")


def _is_plain(value: Any) -> bool:
    return value is None or type(value) in (bool, int, float, str)


def _plain(value: Any) -> Any:
    """A metric as a JSON value (numpy numbers become Python numbers)."""
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return value  # JSON's NaN and Infinity extensions, read back by json.loads
    return value


def _table_bytes(frame: pd.DataFrame | None) -> bytes:
    if frame is None:
        return b""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _read_table(data: bytes) -> pd.DataFrame | None:
    """An Arrow IPC stream as a DataFrame; only plain column types are accepted (an
    extension type could name code to run), and uncompressed buffers only (the file's
    size then bounds the memory it can take)."""
    if not data:
        return None
    for message in pa.ipc.MessageReader.open_stream(pa.py_buffer(data)):
        if _compressed(message.metadata.to_pybytes()):
            raise Unusable("compressed tables: a cache never holds them")
    reader = pa.ipc.open_stream(pa.py_buffer(data))
    table = reader.read_all()
    for field in table.schema:
        if not _plain_type(field.type):
            raise Unusable(f"column {field.name[:40]!r} has a type a cache never holds")
    table.validate(full=True)
    return table.to_pandas()


def _plain_type(kind: pa.DataType) -> bool:
    types = pa.types
    if types.is_dictionary(kind):
        values = kind.value_type
        return types.is_integer(kind.index_type) and (
            types.is_string(values) or types.is_large_string(values)
        )
    return (
        types.is_integer(kind)
        or types.is_floating(kind)
        or types.is_boolean(kind)
        or types.is_string(kind)
        or types.is_large_string(kind)
    )


def _compressed(metadata: bytes) -> bool:
    """Whether an Arrow IPC message's batch is compressed (its `compression` field is set).

    Read from the message's flatbuffer by hand (root table, vtables of 16-bit offsets),
    since pyarrow decompresses as it reads, and a small compressed file could ask for
    gigabytes. MessageHeader: 2 is a DictionaryBatch (its batch is field 1), 3 a
    RecordBatch (compression is field 3)."""

    def integer(at: int, size: int, signed: bool = False) -> int:
        return int.from_bytes(metadata[at : at + size], "little", signed=signed)

    def field(table: int, index: int) -> int | None:
        vtable = table - integer(table, 4, signed=True)
        slot = 4 + 2 * index
        if slot >= integer(vtable, 2):
            return None
        offset = integer(vtable + slot, 2)
        return table + offset if offset else None

    def child(table: int, index: int) -> int | None:
        at = field(table, index)
        return None if at is None else at + integer(at, 4)

    message = integer(0, 4)
    kind_at = field(message, 1)
    kind = metadata[kind_at] if kind_at is not None else 0
    header = child(message, 2)
    if kind == 2 and header is not None:
        kind, header = 3, child(header, 1)
    return kind == 3 and header is not None and field(header, 3) is not None
