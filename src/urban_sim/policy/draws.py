"""``rng.choice(a, k, replace=False)`` for small populations, compiled (the same draws).

NumPy's ``Generator.choice(a, size, replace=False)`` without weights takes, for a population
of at most 10,000, Floyd's algorithm: for ``j`` from ``n − k`` to ``n − 1`` a bounded integer
in ``[0, j]``, kept if new, else ``j`` itself (a hash set of the smallest power of two above
``1.2 k`` slots, linear probing), then a shuffle of the ``k`` picks (for ``i`` from ``k − 1``
down to 1 a bounded integer in ``[0, i]`` swapped with ``i``); each bounded integer is
Lemire's rejection method on 32-bit draws (``random_bounded_uint64`` of ``distributions.c``),
and a PCG64 gives 32-bit draws in pairs: one 64-bit output, its low half now and its high half
kept for the next (``has_uint32``, ``uinteger`` of its state). The Python path of ``choice``
(``np.prod`` of the size, argument checks, ``np.full`` of the hash set) costs more than the
draws at the sizes of the land phase (≈ 13 picks from ≈ 300 candidates at scale 0.003:
≈ 6 µs alone, 20–50 µs inside a run where that code is cold). The state is read and written
in place through views of the generator's memory
(:func:`urban_sim.population.sparse_draws._words` for the 128-bit state and increment, and
the two 32-bit words after the state pointer here), each checked against ``bg.state`` once
per generator; for another bit generator or a larger population NumPy draws. Tested against
``rng.choice`` on many states and sizes (``tests/test_policy_phases.py``).
"""

from __future__ import annotations

import ctypes

import numpy as np

from urban_sim.population.kernels import _jit
from urban_sim.population.sparse_draws import MULTIPLIER, _words

FLOYD_MAX_POPULATION = 10_000
"""Largest population NumPy samples by Floyd's algorithm (a larger one may be shuffled)."""

_A_HI, _A_LO = np.uint64(MULTIPLIER >> 64), np.uint64(MULTIPLIER & ((1 << 64) - 1))
_LOW32 = np.uint64(0xFFFFFFFF)
_B32, _B58, _B1 = np.uint64(32), np.uint64(58), np.uint64(1)
_EMPTY = np.int64(-1)


def _next64(words):
    # one PCG64 step, s ← a s + c (mod 2^128), and its XSL-RR output of the new state
    lo, hi, c_lo, c_hi = words[0], words[1], words[2], words[3]
    x0, x1, y0, y1 = lo & _LOW32, lo >> _B32, _A_LO & _LOW32, _A_LO >> _B32
    p00, p01, p10 = x0 * y0, x0 * y1, x1 * y0
    mid = (p00 >> _B32) + (p01 & _LOW32) + (p10 & _LOW32)
    carry_hi = x1 * y1 + (p01 >> _B32) + (p10 >> _B32) + (mid >> _B32)  # high word of lo·a_lo
    n_hi = carry_hi + lo * _A_HI + hi * _A_LO
    n_lo = lo * _A_LO
    lo = n_lo + c_lo
    hi = n_hi + c_hi + (_B1 if lo < n_lo else np.uint64(0))
    words[0], words[1] = lo, hi
    x, rot = hi ^ lo, hi >> _B58
    return (x >> rot) | (x << ((np.uint64(64) - rot) & np.uint64(63)))


def _next32(words, extra):
    # PCG64's 32-bit draw: the kept high half if there is one, else the low half of a new
    # 64-bit output (its high half kept); extra = (has_uint32, uinteger)
    if extra[0]:
        extra[0] = np.uint32(0)
        return np.uint64(extra[1])
    n = _next64(words)
    extra[0] = np.uint32(1)
    extra[1] = np.uint32(n >> _B32)
    return n & _LOW32


def _bounded(words, extra, rng):
    # an integer in [0, rng], rng < 2^32 - 1: Lemire's method on 32-bit draws
    if rng == 0:
        return np.uint64(0)
    excl = rng + _B1
    m = _next32(words, extra) * excl
    left = m & _LOW32
    if left < excl:
        threshold = (_LOW32 - rng) % excl
        while left < threshold:
            m = _next32(words, extra) * excl
            left = m & _LOW32
    return m >> _B32


def _floyd_loop(words, extra, a, k, out):
    # out[:] = a[rng.choice(a.shape[0], k, replace=False)] (a.shape[0] <= 10,000)
    n = a.shape[0]
    idx = np.empty(k, dtype=np.int64)
    mask = np.int64(1.2 * k)  # the smallest mask of all ones at or above it
    for s in (1, 2, 4, 8, 16, 32):
        mask |= mask >> s
    table = np.full(mask + 1, _EMPTY, dtype=np.int64)
    for j in range(n - k, n):
        val = np.int64(_bounded(words, extra, np.uint64(j)))
        loc = val & mask
        while table[loc] != _EMPTY and table[loc] != val:
            loc = (loc + 1) & mask
        if table[loc] == _EMPTY:
            table[loc] = val
            idx[j - n + k] = val
        else:
            loc = j & mask
            while table[loc] != _EMPTY:
                loc = (loc + 1) & mask
            table[loc] = j
            idx[j - n + k] = j
    for i in range(k - 1, 0, -1):
        j = np.int64(_bounded(words, extra, np.uint64(i)))
        idx[i], idx[j] = idx[j], idx[i]
    for i in range(k):
        out[i] = a[idx[i]]


_next64 = _jit(_next64)  # called by the loop below
_next32 = _jit(_next32)
_bounded = _jit(_bounded)
_floyd = _jit(_floyd_loop)

_EXTRA: dict = {}
"""By ``id`` of a bit generator: the generator (kept, so that the ``id`` is not reused) and its
:func:`_extra` view or None."""


def _extra(bg) -> np.ndarray | None:
    """``has_uint32`` and ``uinteger`` of a PCG64 as two uint32, a view of the generator's
    own ``pcg64_state`` (after its state pointer), checked against ``bg.state`` once per
    generator; None where :func:`~urban_sim.population.sparse_draws._words` gives no view."""
    hit = _EXTRA.get(id(bg))
    if hit is not None and hit[0] is bg:
        return hit[1]
    view = None
    if _words(bg) is not None:
        address = bg.ctypes.state_address + ctypes.sizeof(ctypes.c_void_p)
        view = np.ctypeslib.as_array((ctypes.c_uint32 * 2).from_address(address))
        st = bg.state
        if (int(view[0]), int(view[1])) != (st["has_uint32"], st["uinteger"]):
            view = None
    if len(_EXTRA) > 16:
        _EXTRA.clear()
    _EXTRA[id(bg)] = (bg, view)
    return view


def choice(rng: np.random.Generator, a: np.ndarray, k: int) -> np.ndarray:
    """``rng.choice(a, size=k, replace=False)``: the same picks, in the same order, and the
    generator left in the same state.

    Parameters
    ----------
    rng : numpy.random.Generator
    a : numpy.ndarray of intp, shape (n,)
        Population.
    k : int
        Picks, 1 ≤ k ≤ n.

    Returns
    -------
    numpy.ndarray of intp, shape (k,)
    """
    bg = rng.bit_generator
    if a.shape[0] <= FLOYD_MAX_POPULATION and 0 < k <= a.shape[0]:
        words = _words(bg)
        extra = _extra(bg) if words is not None else None
        if extra is not None:
            out = np.empty(k, dtype=a.dtype)
            _floyd(words, extra, a, k, out)
            return out
    return rng.choice(a, size=k, replace=False)
