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
import signal
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from urban_sim.errors import ExperimentError, WorkerDied
from urban_sim.model.malloc import freeze_long_lived

ENGINES = ("sequential", "processes", "dask")


@dataclass(frozen=True)
class Failed:
    """Outcome of a run that raised: the exception's type, message and traceback."""

    error: str
    traceback: str


def _guarded(fn: Callable[[Any], Any], item: Any) -> Any:
    freeze_long_lived()  # cheaper full garbage collections from the second run on
    try:
        return fn(item)
    except Exception as exc:  # noqa: BLE001 - a failed run is recorded, not fatal
        return Failed(f"{type(exc).__name__}: {exc}", traceback.format_exc())


def _ignore_sigint() -> None:
    """Worker processes leave Ctrl-C to the main process, which stops them (no tracebacks)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def worker_died_message(lost: list[int], labels: list[str] | None = None) -> str:
    """One line: which runs were lost, that their worker process died, the likely cause."""
    names = [labels[i] for i in lost] if labels else [f"item {i}" for i in lost]
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return (f"a worker process died (killed by the system, most often for lack of memory) with "
            f"{len(lost)} run(s) unfinished ({shown}); finished runs are kept: run the same "
            "command again to complete the missing ones (with fewer --workers or a smaller "
            "--scale if memory is short)")


class Executor:
    """Base class: ``with make_executor(...) as ex: for i, out in ex.imap(fn, items): ...``."""

    engine = "base"

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def close(self) -> None:
        """Release workers."""

    def abort(self) -> None:
        """Release workers at once after an error or Ctrl-C: no queued run starts."""
        self.close()

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
        self._pool = ProcessPoolExecutor(max_workers=self.workers, initializer=_ignore_sigint)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def abort(self, grace: float = 15.0) -> None:
        """Cancel queued runs, let runs in flight end (workers ignore Ctrl-C) for at most
        ``grace`` seconds, then terminate what is left.

        Terminating a worker at once could kill it while it writes a result into the pool's
        pipe; the pool's manager thread then waits forever for the rest of the message and the
        interpreter hangs at exit (seen twice under load in the Ctrl-C test).
        """
        processes = list((getattr(self._pool, "_processes", None) or {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + grace
        for proc in processes:
            proc.join(timeout=max(deadline - time.monotonic(), 0.0))
        for proc in processes:  # finished runs are already stored; runs cut here are lost
            if proc.is_alive():
                proc.terminate()
        for proc in processes:
            proc.join(timeout=5)

    def imap(self, fn, items):
        futures = {self._pool.submit(_guarded, fn, item): i for i, item in enumerate(items)}
        lost = []
        for fut in as_completed(futures):
            try:
                outcome = fut.result()
            except BrokenProcessPool:
                lost.append(futures[fut])
                continue
            yield futures[fut], outcome
        if lost:
            raise WorkerDied(worker_died_message(sorted(lost)), sorted(lost))


def _worker_plugin():
    from distributed.diagnostics.plugin import WorkerPlugin

    class TuneMalloc(WorkerPlugin):
        """Runs :func:`~urban_sim.model.malloc.tune_malloc` on every worker, also on workers
        that join later."""

        name = "urban-sim-tune-malloc"

        def setup(self, worker) -> None:
            from urban_sim.model.malloc import tune_malloc

            tune_malloc()

    return TuneMalloc()


class DaskExecutor(Executor):
    """A Dask distributed cluster: a new ``LocalCluster`` or a running scheduler.

    Workers are set up for the model like local worker processes: one thread per worker
    process (a run is single-threaded NumPy; more threads only contend for the GIL), and
    without Dask's ``MALLOC_TRIM_THRESHOLD_`` default (unset for a ``LocalCluster``; on the
    workers of a running scheduler a worker plugin sets glibc's thresholds with ``mallopt``, see
    :func:`urban_sim.model.malloc.tune_malloc`, as every model does on its first run). Each
    worker reads a county's tables once and keeps them
    (:func:`urban_sim.data.tables.load_county_cached`); tasks carry only the scenario and seed.

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
            import dask
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
                with dask.config.set({"distributed.nanny.pre-spawn-environ."
                                      "MALLOC_TRIM_THRESHOLD_": None}):
                    self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1,
                                                 processes=True, dashboard_address=None,
                                                 host="127.0.0.1")
                self._client = Client(self._cluster)
            self._client.register_plugin(_worker_plugin())
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
        from distributed import KilledWorker

        lost = []
        for fut in dask_completed(futures):
            try:  # a killed worker's task is rescheduled by Dask; KilledWorker after repeats
                outcome = fut.result()
            except KilledWorker:
                lost.append(index[fut.key])
                continue
            yield index[fut.key], outcome
        if lost:
            raise WorkerDied(worker_died_message(sorted(lost)), sorted(lost))


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
