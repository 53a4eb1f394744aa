"""Where tasks run: in this process, in a local process pool, or on a Dask cluster.

Everything goes through the `concurrent.futures.Executor` interface, so a Dask cluster
(`dask.distributed.Client(address).get_executor()`) runs the same module-level task
functions as a local `ProcessPoolExecutor`. A pool whose worker dies is replaced and its
unfinished tasks run again; a task that raises reports its error without stopping the
others.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import (
    FIRST_COMPLETED,
    Executor,
    Future,
    ProcessPoolExecutor,
    as_completed,
    wait,
)
from concurrent.futures.process import BrokenProcessPool
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from sim.cluster import (
    DEFAULT_CLUSTER_TIMEOUT,
    MAX_CLUSTER_TIMEOUT,
    ClusterError,
    check_address,
    connect,
)

__all__ = [
    "DEFAULT_CLUSTER_TIMEOUT",
    "MAX_CLUSTER_TIMEOUT",
    "ClusterError",
    "Runner",
    "check_address",
    "check_jobs",
    "make_runner",
]

RETRIES = 2
#: Seconds without a finished task after which a cluster is asked whether it has workers.
CHECK_SECONDS = 2.0


class Runner:
    """Runs `function(*arguments)` for each task, on executors made by `factory` (None:
    in this process), and yields `(key, result, error)` as tasks finish."""

    def __init__(
        self,
        factory: Callable[[], AbstractContextManager[Executor]] | None = None,
        retries: int = RETRIES,
    ):
        self.factory = factory
        self.retries = retries

    @classmethod
    def using(cls, executor: Executor) -> Runner:
        """A runner on an executor you own (it is not shut down; no retries)."""
        return cls(lambda: nullcontext(executor), retries=0)

    def run(
        self, function: Callable[..., Any], tasks: Iterable[tuple[Any, tuple]]
    ) -> Iterator[tuple[Any, Any, BaseException | None]]:
        pending = dict(tasks)
        if self.factory is None:
            for key, arguments in pending.items():
                yield key, *_call(function, arguments)
            return
        for attempt in range(self.retries + 1):
            broken: dict[Any, tuple] = {}
            context = self.factory()
            executor = context.__enter__()
            finished = False
            futures: dict[Future, Any] = {}
            try:
                futures = {
                    executor.submit(function, *arguments): key for key, arguments in pending.items()
                }
                for future in _as_completed(futures, getattr(context, "check", None)):
                    key = futures[future]
                    error = future.exception()
                    if isinstance(error, BrokenProcessPool) and attempt < self.retries:
                        broken[key] = pending[key]  # a worker died: run it again
                        continue
                    yield key, (None if error else future.result()), error
                finished = True
            finally:
                if finished:
                    context.__exit__(None, None, None)
                else:  # interrupted (Ctrl-C, SIGTERM, an error): stop now, not after the queue
                    _stop(executor, futures)
            if not broken:
                return
            pending = broken


def _as_completed(futures: dict[Future, Any], check: Callable[[], None] | None):
    """The futures as they finish; while none does, `check` (if any) may give up."""
    if check is None:
        yield from as_completed(futures)
        return
    pending = set(futures)
    while pending:
        done, pending = wait(pending, timeout=CHECK_SECONDS, return_when=FIRST_COMPLETED)
        if not done:
            check()
        yield from done


def _stop(executor: Executor, futures: dict) -> None:
    """Cancel every task that has not started; the running ones (each about a second, by
    the batching) finish, and the workers then exit. Terminating them instead trips a
    race in Python 3.11's pool (a traceback from its manager thread)."""
    for future in futures:
        future.cancel()
    if isinstance(executor, ProcessPoolExecutor):
        executor.shutdown(wait=False, cancel_futures=True)


def _worker_setup() -> None:
    """In each pool worker: Ctrl-C and SIGTERM are the parent's to handle, and on Linux
    the worker ends when the parent dies (no orphans after a kill -9)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def _call(function: Callable[..., Any], arguments: tuple) -> tuple[Any, Exception | None]:
    try:
        return function(*arguments), None
    except Exception as error:  # reported per task, like a pool would
        return None, error


#: Processes per core `--jobs` may ask for: more only queue for the same cores.
MAX_JOBS_PER_CORE = 4


def check_jobs(jobs: int) -> str | None:
    """What is wrong with a number of processes, or None."""
    cores = os.cpu_count() or 1
    limit = MAX_JOBS_PER_CORE * cores
    if not 1 <= jobs <= limit:
        return (
            f"--jobs must be 1 to {limit} ({MAX_JOBS_PER_CORE} per core, {cores} cores "
            f"here; got {jobs})"
        )
    return None


def make_runner(
    jobs: int | None = None,
    scheduler: str | None = None,
    cluster_timeout: float = DEFAULT_CLUSTER_TIMEOUT,
) -> Runner:
    """A runner for `jobs` local processes (1: this process; None: one per core), or for
    the Dask scheduler at `scheduler` (or in DASK_SCHEDULER_ADDRESS), which must answer,
    and have workers, within `cluster_timeout` seconds."""
    address = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if address:
        problem = check_address(address)
        if problem:
            raise ValueError(problem)
        return Runner(lambda: connect(address, cluster_timeout))
    jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    problem = check_jobs(jobs)
    if problem:
        raise ValueError(problem)
    if jobs <= 1:
        return Runner(None)
    return Runner(lambda: ProcessPoolExecutor(max_workers=jobs, initializer=_worker_setup))
