"""Recorded orders: a CSV or Parquet log of real demand, replayed exactly in every run.

Columns (a header row names them; only `time` is required):

| column | what | if empty or left out |
|---|---|---|
| `time` | arrival, in the scenario's time unit, from the start of the run | required |
| `kind` | `online` (routed by the balancer) or `offline` (a walk-in) | online |
| `store` | the store a walk-in stands in (ignored for online orders) | required for walk-ins |
| `prep_time` | the preparation time | drawn from `orders.prep_time` |
| `key` | the online order's id, an integer in [1, 2^63) | drawn |

A file is read once per process and checked whole: every bad row is reported as
`file:line` (CSV, the header being line 1) or `file: row N` (Parquet). Nothing is ever
unpickled; Parquet is read with pyarrow.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd

from sim.errors import Problem

COLUMNS = ("time", "kind", "store", "prep_time", "key")
MAX_TRACE_BYTES = 500_000_000
MAX_TRACE_ROWS = 10_000_000
MAX_REPORTED = 10  # bad rows listed before "and N more"
KEY_LIMIT = 2**63


@dataclass(frozen=True)
class Trace:
    """A checked log, in file order: arrival `time`, `pinned` store (-1: online), `prep`
    (NaN: to be drawn), `key` (0: to be drawn); `digest` identifies the file's bytes."""

    time: np.ndarray
    pinned: np.ndarray
    prep: np.ndarray
    key: np.ndarray
    lines: np.ndarray  # where each row is in the file, for messages
    where: str  # "line" (CSV) or "row" (Parquet)
    digest: str


class TraceError(ValueError):
    """A log that cannot be replayed; `lines` says what is wrong, where."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        super().__init__("\n".join(lines))


def read_trace(path: str | Path) -> Trace:
    """The checked log at `path` (read again only when the file changes)."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as error:
        raise TraceError([f"{path}: cannot be read ({error.strerror})"]) from None
    if not path.is_file():
        raise TraceError([f"{path}: not a file"])
    if stat.st_size > MAX_TRACE_BYTES:
        raise TraceError([f"{path}: larger than {MAX_TRACE_BYTES:,} bytes"])
    return _read(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=4)
def _read(path: str, mtime_ns: int, size: int) -> Trace:
    data = Path(path).read_bytes()
    digest = hashlib.sha256(data).hexdigest()[:16]
    parquet = path.lower().endswith((".parquet", ".pq"))
    frame = _parquet(path) if parquet else _csv(path, data)
    where = "row" if parquet else "line"
    if len(frame) > MAX_TRACE_ROWS:
        raise TraceError([f"{path}: {len(frame):,} orders; the limit is {MAX_TRACE_ROWS:,}"])
    if len(frame) == 0:
        raise TraceError([f"{path}: no orders"])
    unknown = [str(c) for c in frame.columns if c not in COLUMNS]
    if unknown or "time" not in frame.columns:
        what = f"unknown columns {', '.join(unknown)}" if unknown else "no column `time`"
        raise TraceError([f"{path}:1: {what}; the columns are {', '.join(COLUMNS)}"])
    lines = np.arange(len(frame)) + (2 if where == "line" else 1)
    return _check(frame, path, lines, where, digest)


def _csv(path: str, data: bytes) -> pd.DataFrame:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise TraceError([f"{path}: not UTF-8 text (byte {error.start})"]) from None
    if "\x00" in text:
        raise TraceError([f"{path}: not a CSV file (it holds NUL bytes)"])
    try:  # every cell as text, blank lines kept: row i is line i + 2
        return pd.read_csv(StringIO(text), dtype=str, keep_default_na=False, skip_blank_lines=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        message = " ".join(str(error).split())
        raise TraceError([f"{path}: not a readable CSV file ({message})"]) from None


def _parquet(path: str) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        raise TraceError([f"{path}: not a readable Parquet file ({error})"]) from None
    # Python objects, so that integer keys with blanks stay integers (not floats).
    return pd.DataFrame(
        {
            name: pd.Series(table.column(name).to_pylist(), dtype=object)
            for name in table.column_names
        }
    )


class _Refusals:
    """Bad cells found so far, as (row, message), in the order found."""

    def __init__(self) -> None:
        self.found: list[tuple[int, str]] = []

    def add(self, mask: np.ndarray, column: str, message: str, values: pd.Series) -> None:
        for row in np.flatnonzero(mask)[: MAX_REPORTED + 1]:
            self.found.append((int(row), f"{column}: {message} (got {values.iloc[row]!r})"))

    def raise_any(self, path: str, lines: np.ndarray, where: str) -> None:
        """A `TraceError` listing the first bad rows in file order, if there are any."""
        if not self.found:
            return
        bad = sorted(self.found)
        text = [f"{_at(path, where, lines[row])}: {message}" for row, message in bad[:MAX_REPORTED]]
        if len(bad) > MAX_REPORTED:
            text.append(f"{path}: more bad rows after these")
        raise TraceError(text)


def _check(frame: pd.DataFrame, path: str, lines: np.ndarray, where: str, digest: str) -> Trace:
    refusals = _Refusals()
    empty = pd.Series([""] * len(frame))
    time = _numbers(frame["time"])
    refusals.add(~np.isfinite(time) | (time < 0), "time", "not a finite number >= 0", frame["time"])
    online, store = _kinds_and_stores(frame.get("kind", empty), frame.get("store", empty), refusals)
    prep_text = frame.get("prep_time", empty)
    prep, given = _numbers(prep_text), ~_blank(prep_text)
    bad_prep = given & ~(np.isfinite(prep) & (prep > 0))
    refusals.add(bad_prep, "prep_time", "not a number > 0", prep_text)
    key_text = frame.get("key", empty)
    key = _keys(key_text)
    refusals.add(~_blank(key_text) & (key == 0), "key", "not an integer in [1, 2^63)", key_text)
    refusals.raise_any(path, lines, where)
    return Trace(
        time=time,
        pinned=np.where(online, -1, store).astype(np.int32),
        prep=np.where(given, prep, np.nan),
        key=np.where(online, key, 0).astype(np.int64),
        lines=lines,
        where=where,
        digest=digest,
    )


def _kinds_and_stores(
    kind_text: pd.Series, store_text: pd.Series, refusals: _Refusals
) -> tuple[np.ndarray, np.ndarray]:
    """Which rows are online orders, and each walk-in's store (0 for online rows)."""
    kind = kind_text.map(lambda value: "" if value is None else str(value).strip())
    online = kind.isin(["online", ""]).to_numpy()
    refusals.add(~online & (kind != "offline").to_numpy(), "kind", "not online or offline", kind)
    store = _numbers(store_text)
    whole = np.isfinite(store) & (store >= 0) & (store == np.floor(store)) & (store < 2**31)
    refusals.add(~online & ~whole, "store", "a walk-in needs a store number >= 0", store_text)
    return online, np.where(online | ~whole, 0, store)


def _blank(values: pd.Series) -> np.ndarray:
    def blank(value) -> bool:
        if isinstance(value, str):
            return not value.strip()
        return value is None or (isinstance(value, float) and value != value)

    return values.map(blank).to_numpy(dtype=bool)


def _numbers(values: pd.Series) -> np.ndarray:
    """Each cell as a float; NaN where it is blank or not a number."""
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _keys(values: pd.Series) -> np.ndarray:
    """Each cell as an integer key in [1, 2^63); 0 where it is blank or not one."""

    def key(value) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # an integer column with blanks, read as floats
        try:
            number = int(str(value).strip())
        except ValueError:
            return 0
        return number if 1 <= number < KEY_LIMIT else 0

    return np.fromiter((key(v) for v in values), dtype=np.int64, count=len(values))


def trace_problems(path: str, stores: int, duration: float) -> Iterator[Problem]:
    """What keeps the log at `path` from being replayed in a scenario with `stores`
    stores whose arrivals run for `duration` (orders logged at or after `duration` are
    left out of the run): each message starts with `file:line`."""
    try:
        trace = read_trace(path)
    except TraceError as error:
        yield from (Problem(("orders", "trace"), line) for line in error.lines)
        return
    if not (trace.time < duration).any():
        yield Problem(("orders", "trace"), f"{path}: no order before duration ({duration:g})")
    outside = np.flatnonzero(trace.pinned >= stores)
    for row in outside[:MAX_REPORTED]:
        message = f"store: no such store (stores are 0 to {stores - 1})"
        yield Problem(("orders", "trace"), f"{_at(path, trace.where, trace.lines[row])}: {message}")


def trace_notes(scenario) -> list[str]:
    """What the run leaves out of its log, said once (orders at or after `duration`)."""
    if scenario.orders.trace is None:
        return []
    trace = read_trace(scenario.orders.trace)
    late = int((trace.time >= scenario.duration).sum())
    if not late:
        return []
    return [
        f"orders.trace: {late} of {len(trace.time)} orders arrive at or after duration "
        f"({scenario.duration:g}) and were left out"
    ]


def _at(path: str, where: str, line: int) -> str:
    """`file:line` for a CSV file, `file: row N` for a Parquet one."""
    return f"{path}:{line}" if where == "line" else f"{path}: row {line}"
