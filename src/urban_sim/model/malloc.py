"""glibc malloc settings for the model's column arrays (issue 12).

A step allocates a few hundred temporary arrays of 0.1-5 MB (one per column operation over the
650,000 person rows at full scale). With glibc's defaults an array above the mmap threshold
(128 kB at start, raised only after such a block has been freed) is mapped from the kernel and
zero-filled page by page when first written: a full-scale 2020→2035 run takes ~50,000 page
faults and about a fifth of its CPU time in them. With the mmap threshold fixed at 32 MB and the
trim threshold at 128 MB these arrays come from the heap and are reused (~3,700 page faults per
run). Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which also pins the mmap
threshold at 128 kB (a full-scale run then needs 2-3 times the CPU time); the settings here undo
that as well. Results do not depend on them.
"""

from __future__ import annotations

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
