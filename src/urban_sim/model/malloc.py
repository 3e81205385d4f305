"""Memory-management settings of a process that runs models (issue 12): glibc's malloc
thresholds for the column arrays, and the garbage collector's view of long-lived objects.

A step allocates a few hundred temporary arrays of 0.1-5 MB (one per column operation over the
650,000 person rows at full scale). With glibc's defaults an array above the mmap threshold
(128 kB at start, raised only after such a block has been freed) is mapped from the kernel and
zero-filled page by page when first written: a full-scale 2020→2035 run takes ~50,000 page
faults and about a fifth of its CPU time in them. With the mmap threshold fixed at 32 MB and the
trim threshold at 128 MB these arrays come from the heap and are reused (~3,700 page faults per
run). Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which also pins the mmap
threshold at 128 kB (a full-scale run then needs 2-3 times the CPU time); the settings here undo
that as well.

Python's cyclic garbage collector runs a full collection whenever the objects that survived
younger collections exceed a quarter of the older ones. In a worker that runs model after model,
each run leaves enough survivors (its output records, tables) to trigger one about every 20 runs
at scale 0.01, and each one rescans the ~170,000 objects of the imported modules and the county
tables: ~95 ms, about 5 ms per small run. :func:`freeze_long_lived` moves those objects to the
collector's permanent generation once, before a worker's second run (``gc.freeze``, the
standard remedy for long-lived processes): full collections then cost ~4 ms.

Results do not depend on any of these settings.
"""

from __future__ import annotations

import gc
import os
import sys

MMAP_THRESHOLD = 32 * 2**20
"""Bytes: larger blocks are mapped from the kernel (glibc ``M_MMAP_THRESHOLD``)."""
TRIM_THRESHOLD = 128 * 2**20
"""Bytes: free heap memory kept before returning it to the kernel (glibc ``M_TRIM_THRESHOLD``)."""

_applied: bool | None = None


def tune_malloc() -> bool:
    """Set glibc's mmap and trim thresholds of this process (once; later calls return at once).

    Called by :class:`urban_sim.model.CountyModel` before its first population is built and by
    the Dask worker plugin. Returns False where the C library has no ``mallopt`` (not Linux, or
    not glibc): nothing is changed there.
    """
    global _applied
    if _applied is None:
        _applied = _apply()
    return _applied


def _apply() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, MMAP_THRESHOLD)) and bool(mallopt(m_trim_threshold, TRIM_THRESHOLD))



_runs_started = (0, 0)  # (process id, runs started in it): a forked worker starts at 0


def freeze_long_lived() -> bool:
    """Call before each run in a process: before the second one (the first run has loaded
    everything a run needs: modules, county tables, compiled kernels, and its own model is
    gone), collect garbage once and exempt every object still alive from later collections
    (``gc.collect(); gc.freeze()``). Called by the executors for every run
    (:mod:`urban_sim.runs.executors`); a forked worker counts its own runs. Returns True on the
    call that froze."""
    global _runs_started
    pid = os.getpid()
    n = _runs_started[1] + 1 if _runs_started[0] == pid else 1
    _runs_started = (pid, n)
    if n != 2:
        return False
    gc.collect()
    gc.freeze()
    return True
