"""Executors: where runs are computed. One interface, three engines, all context managers.

- ``sequential``: in this process;
- ``processes``: local worker processes (default one per core);
- ``dask``: a Dask distributed cluster, a ``LocalCluster`` started here or a running scheduler
  given by address.

Every engine runs a picklable function over a list of items and yields ``(index, outcome)``
as runs finish; callers order results by run id, never by completion order. A run that raises
does not stop the others: its outcome is a :class:`Failed` record with the traceback.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from urban_sim.errors import ExperimentError

ENGINES = ("sequential", "processes", "dask")


@dataclass(frozen=True)
class Failed:
    """Outcome of a run that raised: the exception's type, message and traceback."""

    error: str
    traceback: str


def _guarded(fn: Callable[[Any], Any], item: Any) -> Any:
    try:
        return fn(item)
    except Exception as exc:  # noqa: BLE001 - a failed run is recorded, not fatal
        return Failed(f"{type(exc).__name__}: {exc}", traceback.format_exc())


class Executor:
    """Base class: ``with make_executor(...) as ex: for i, out in ex.imap(fn, items): ...``."""

    engine = "base"

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Release workers."""

    def imap(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[tuple[int, Any]]:
        """Yield ``(index, outcome)`` for every item, in completion order."""
        raise NotImplementedError

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        """Outcomes in input order."""
        items = list(items)
        out: list[Any] = [None] * len(items)
        for i, res in self.imap(fn, items):
            out[i] = res
        return out


class SequentialExecutor(Executor):
    """Runs every item in this process, in order."""

    engine = "sequential"
    workers = 1

    def imap(self, fn, items):
        for i, item in enumerate(items):
            yield i, _guarded(fn, item)


class ProcessExecutor(Executor):
    """Local worker processes (``concurrent.futures``)."""

    engine = "processes"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self._pool = ProcessPoolExecutor(max_workers=self.workers)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def imap(self, fn, items):
        futures = {self._pool.submit(_guarded, fn, item): i for i, item in enumerate(items)}
        for fut in as_completed(futures):
            yield futures[fut], fut.result()


class DaskExecutor(Executor):
    """A Dask distributed cluster: a new ``LocalCluster`` or a running scheduler.

    Parameters
    ----------
    workers : int, optional
        Worker processes of the ``LocalCluster`` (one thread each); ignored with ``scheduler``.
    scheduler : str, optional
        Address of a running scheduler, e.g. ``tcp://10.0.0.5:8786``.

    Raises
    ------
    ExperimentError
        If ``dask.distributed`` is not installed or the scheduler cannot be reached.
    """

    engine = "dask"

    def __init__(self, workers: int | None = None, scheduler: str | None = None) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ExperimentError(
                "engine 'dask' needs dask.distributed: pip install 'dask[distributed]'"
            ) from None
        self.workers = workers or os.cpu_count() or 1
        self._cluster = None
        try:
            if scheduler:
                self._client = Client(scheduler, timeout="10s")
            else:
                self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1,
                                             processes=True, dashboard_address=None,
                                             host="127.0.0.1")
                self._client = Client(self._cluster)
        except (OSError, ValueError, TimeoutError) as exc:
            raise ExperimentError(f"--scheduler {scheduler}: cannot connect ({exc}); "
                                  "give an address like tcp://HOST:8786") from None

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()

    def imap(self, fn, items):
        from distributed import as_completed as dask_completed

        items = list(items)
        futures = self._client.map(_guarded, [fn] * len(items), items, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        for fut in dask_completed(futures):
            yield index[fut.key], fut.result()


def check_engine(engine: str, scheduler: str | None = None) -> None:
    """Check an engine name and its scheduler option.

    Raises
    ------
    ExperimentError
        Unknown engine, or ``scheduler`` given with an engine other than ``dask``.
    """
    if engine not in ENGINES:
        raise ExperimentError(f"--engine {engine!r}: allowed values are {', '.join(ENGINES)}")
    if scheduler and engine != "dask":
        raise ExperimentError(f"--scheduler needs --engine dask (got --engine {engine})")


def make_executor(engine: str = "processes", *, workers: int | None = None,
                  scheduler: str | None = None) -> Executor:
    """Executor for ``engine`` (``sequential``, ``processes`` or ``dask``).

    ``processes`` with one worker, or a single run, is the same as ``sequential``.

    Raises
    ------
    ExperimentError
        Unknown engine.
    """
    check_engine(engine, scheduler)
    if engine == "dask":
        return DaskExecutor(workers, scheduler)
    if engine == "sequential" or workers == 1:
        return SequentialExecutor()
    return ProcessExecutor(workers)
