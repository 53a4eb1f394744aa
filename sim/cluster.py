"""Running on a Dask cluster: its address checked before anything runs, a connection that
gives up after a set time, and a cluster without workers reported instead of waited on.

`dask.distributed` is imported only when a cluster is used (`pip install -e '.[dist]'`).
"""

from __future__ import annotations

import re
import time
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import nullcontext
from typing import Any

#: Seconds to wait for the scheduler to answer, or for a worker to be there.
DEFAULT_CLUSTER_TIMEOUT = 30.0
MAX_CLUSTER_TIMEOUT = 86_400.0
#: The transports `dask.distributed` registers (inproc is within one process only).
SCHEMES = ("tcp", "tls", "ucx", "ws", "wss")
ADDRESS = re.compile(r"^(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://)?(?P<host>.+):(?P<port>\d+)$")
HOST = re.compile(r"^(?:[A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\])$")
EXAMPLE = "such as tcp://host:8786"


class ClusterError(RuntimeError):
    """The cluster cannot run the work: no scheduler there, or no workers."""


def check_address(address: str) -> str | None:
    """What is wrong with a Dask scheduler address (`tcp://host:8786`), or None."""
    shown = address if len(address) <= 80 else address[:77] + "..."
    match = ADDRESS.match(address)
    if not match:
        return f"{shown!r} is not a scheduler address {EXAMPLE}"
    scheme = match["scheme"]
    if scheme is not None and scheme not in SCHEMES:
        return f"{shown!r}: unknown protocol {scheme!r} (known: {', '.join(SCHEMES)})"
    if not HOST.match(match["host"]):
        return f"{shown!r}: {match['host'][:40]!r} is not a host name {EXAMPLE}"
    if not 1 <= int(match["port"]) <= 65535:
        return f"{shown!r}: the port must be 1 to 65535"
    return None


def connect(address: str, timeout: float = DEFAULT_CLUSTER_TIMEOUT) -> DaskExecutor:
    """A client of the scheduler at `address` that has at least one worker, within
    `timeout` seconds; `ClusterError` otherwise."""
    try:
        from dask.distributed import Client
    except ImportError as error:
        raise ClusterError(
            "a Dask scheduler was given but dask.distributed is not installed: "
            "pip install -e '.[dist]'"
        ) from error
    failure = _probe(address, timeout)
    if failure is not None:
        raise ClusterError(f"cannot reach a Dask scheduler at {address}: {failure}")
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except Exception as error:
        raise ClusterError(f"cannot connect to the Dask scheduler at {address}: {error}") from None
    executor = DaskExecutor(client, address, timeout)
    try:
        client.wait_for_workers(1, timeout=timeout)
    except Exception:
        client.close()
        raise ClusterError(executor.no_workers()) from None
    return executor


def _probe(address: str, timeout: float) -> str | None:
    """Why a Dask handshake with `address` fails within `timeout` seconds, or None.

    Done before making a `Client`, whose own timeout does not cover a port that accepts
    connections but never answers, and whose failed construction leaves an object that
    waits to close at exit. In a thread of its own: a notebook's event loop is running.
    """
    import asyncio

    from distributed.comm import connect as open_comm
    from distributed.security import Security

    async def handshake() -> None:
        arguments = Security().get_connection_args("client")
        comm = await open_comm(address, timeout=timeout, **arguments)
        await comm.close()

    def attempt() -> str | None:
        try:
            asyncio.run(asyncio.wait_for(handshake(), timeout))
        except TimeoutError:
            return f"no answer within {timeout:g} s (is it a Dask scheduler?)"
        except Exception as error:  # every transport fails in its own way: say which
            return f"{type(error).__name__}: {_short(error)}"
        return None

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(attempt).result()


class DaskExecutor(nullcontext):
    """The client's executor, closing the client afterwards; `check` raises
    `ClusterError` once the cluster has had no workers for the timeout."""

    def __init__(self, client: Any, address: str, timeout: float):
        self.client = client
        self.address = address
        self.timeout = timeout
        self.workers_seen = time.monotonic()
        super().__init__(client.get_executor())

    def __enter__(self) -> Executor:
        return super().__enter__()

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def check(self) -> None:
        """Called while no task finishes: is anyone still working?"""
        try:
            workers = len(self.client.nthreads())
        except Exception as error:
            raise ClusterError(
                f"lost the Dask scheduler at {self.address} ({type(error).__name__})"
            ) from None
        now = time.monotonic()
        if workers:
            self.workers_seen = now
        elif now - self.workers_seen >= self.timeout:
            raise ClusterError(self.no_workers())

    def no_workers(self) -> str:
        return (
            f"the Dask cluster at {self.address} has had no workers for {self.timeout:g} s: "
            f"start some (dask worker {self.address}), or wait longer (--cluster-timeout)"
        )


def _short(error: BaseException) -> str:
    text = " ".join(str(error).split()) or "no message"
    return text if len(text) <= 200 else text[:197] + "..."
