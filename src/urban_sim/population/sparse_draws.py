"""Selected uniforms of a batch without drawing the whole batch (PCG64 jump-ahead, numba).

Some rules draw one uniform per person or household of a large batch (``rng.random(n)``) and
use only a few of them: the elderly-stay draw of the capacity allocation (one per person at a
base, used for the old members of moving households), the member-level draw of the location
choice (one per deciding household, used for the movers), the destination draw of return
migration (one per household, used for the returning ones). :func:`uniforms_at` gives exactly
``rng.random(n)[positions]`` and leaves the generator exactly where ``rng.random(n)`` leaves it,
computing only the values asked for.

NumPy's default bit generator, PCG64, is a 128-bit linear congruential generator
``s ← a s + c (mod 2¹²⁸)`` with the XSL-RR output function; ``random()`` takes one 64-bit
output per double, ``(x >> 11) · 2⁻⁵³``, from the state after the step (O'Neill 2014; NumPy's
``pcg64.h``). Jumping ``d`` steps applies the affine map ``s ↦ a s + c`` ``d`` times, composed
from its powers of two (Brown 1994, "Random number generation with arbitrary strides"), which
takes a few dozen 64-bit multiplications instead of ``d`` draws. For another bit generator the
batch is drawn (same result, no saving). ``tests/test_kernels_choice.py`` compares with
``rng.random(n)`` on many states and with ``bit_generator.advance`` for batches of 2⁴⁰.

The 128-bit state is read and written through a view of the generator's memory
(:func:`_words`, its layout checked against ``bg.state`` once per generator), not through
``bg.state``'s dict of Python integers; the lanes of the inline draws
(:func:`pcg64_lanes`, :func:`set_pcg64_lanes`) are computed from it by compiled code.
"""

from __future__ import annotations

import ctypes
import functools

import numba
import numpy as np

MULTIPLIER = 0x2360ED051FC65DA44385DF649FCCF645
"""PCG64's 128-bit LCG multiplier (``PCG_DEFAULT_MULTIPLIER_128``)."""
_MASK64 = (1 << 64) - 1
_MASK128 = (1 << 128) - 1
_U32 = np.uint64(0xFFFFFFFF)
_S32, _S11, _S58, _S63 = np.uint64(32), np.uint64(11), np.uint64(58), np.uint64(63)
_ZERO, _ONE = np.uint64(0), np.uint64(1)


@functools.lru_cache(maxsize=8)
def _jump_table(inc: int) -> np.ndarray:
    """(64, 4) uint64: hi/lo of ``a^(2^k)`` and of the matching increment, k = 0..63 (one
    table per generator stream: ``inc`` is fixed when the generator is seeded)."""
    table = np.zeros((64, 4), dtype=np.uint64)
    a, c = MULTIPLIER, inc
    for k in range(64):
        table[k] = (a >> 64, a & _MASK64, c >> 64, c & _MASK64)
        a, c = (a * a) & _MASK128, (c * (a + 1)) & _MASK128
    return table


@numba.njit(cache=True, nogil=True, inline="always")
def _mulhi(x, y):
    x0, x1, y0, y1 = x & _U32, x >> _S32, y & _U32, y >> _S32
    p00, p01, p10, p11 = x0 * y0, x0 * y1, x1 * y0, x1 * y1
    mid = (p00 >> _S32) + (p01 & _U32) + (p10 & _U32)
    return p11 + (p01 >> _S32) + (p10 >> _S32) + (mid >> _S32)


@numba.njit(cache=True, nogil=True)
def _jump(hi, lo, d, table):
    # apply s -> a s + c  d times (d < 2^63)
    k = 0
    while d:
        if d & 1:
            a_hi, a_lo, c_hi, c_lo = table[k, 0], table[k, 1], table[k, 2], table[k, 3]
            n_hi = _mulhi(a_lo, lo) + a_hi * lo + a_lo * hi  # a · s mod 2^128
            n_lo = a_lo * lo
            lo = n_lo + c_lo
            hi = n_hi + c_hi + (_ONE if lo < n_lo else _ZERO)
        d >>= 1
        k += 1
    return hi, lo


@numba.njit(cache=True, nogil=True)
def _uniforms_at_loop(hi0, lo0, positions, n, table):
    # the values at the positions, and the state after n steps (where rng.random(n) leaves it)
    out = np.empty(positions.shape[0])
    hi, lo = hi0, lo0
    done = 0  # steps taken from the starting state
    for j in range(positions.shape[0]):
        if (positions[j] < 0) | (positions[j] >= n):  # before the generator is set
            raise IndexError("positions must lie in [0, n)")
        p = positions[j] + 1  # the value at position p is the output after p + 1 steps
        if p < done:  # a position before the last one: jump again from the start
            hi, lo, done = hi0, lo0, 0
        hi, lo = _jump(hi, lo, p - done, table)
        done = p
        x = hi ^ lo  # XSL-RR output
        rot = hi >> _S58
        x = (x >> rot) | (x << ((_ZERO - rot) & _S63))
        out[j] = np.float64(x >> _S11) * (1.0 / 9007199254740992.0)
    hi_n, lo_n = _jump(hi0, lo0, n, table)
    return out, hi_n, lo_n


@numba.njit(cache=True, nogil=True)
def _uniforms_at_words(words, positions, n, table):
    # _uniforms_at_loop from the state in the words (lo, hi, ...); the state after n steps
    # written back (not when a position is out of range: the loop raises before)
    out, hi, lo = _uniforms_at_loop(words[1], words[0], positions, n, table)
    words[0] = lo
    words[1] = hi
    return out


_A_HI, _A_LO = np.uint64(MULTIPLIER >> 64), np.uint64(MULTIPLIER & _MASK64)
_INVERSE = pow(MULTIPLIER, -1, 1 << 128)
"""``a⁻¹ mod 2¹²⁸`` (the multiplier is odd): one step back is ``s ↦ a⁻¹ (s − c)``."""
_I_HI, _I_LO = np.uint64(_INVERSE >> 64), np.uint64(_INVERSE & _MASK64)


@numba.njit(cache=True, nogil=True)
def _lanes_of_words(words, lanes):
    # the states after one and two steps, s ↦ a s + c (mod 2^128), from the words (lo, hi,
    # inc lo, inc hi), as (hi, lo, hi, lo)
    lo, hi, c_lo, c_hi = words[0], words[1], words[2], words[3]
    for k in range(2):
        n_hi = _mulhi(lo, _A_LO) + lo * _A_HI + hi * _A_LO
        n_lo = lo * _A_LO
        lo = n_lo + c_lo
        hi = n_hi + c_hi + (_ONE if lo < n_lo else _ZERO)
        lanes[2 * k] = hi
        lanes[2 * k + 1] = lo


@numba.njit(cache=True, nogil=True)
def _set_words(words, lanes):
    # one step back from the first lane, s = a⁻¹ (s1 − c) (mod 2^128), written to the words
    s_hi, s_lo, c_lo, c_hi = lanes[0], lanes[1], words[2], words[3]
    d_lo = s_lo - c_lo
    d_hi = s_hi - c_hi - (_ONE if s_lo < c_lo else _ZERO)
    words[1] = _mulhi(d_lo, _I_LO) + d_lo * _I_HI + d_hi * _I_LO
    words[0] = d_lo * _I_LO


_LAST: list = [None]
"""The generator :func:`pcg64_lanes` read last and its state (a dict as ``bg.state`` gives it),
so that :func:`set_pcg64_lanes` need not read the state again (where :func:`_words` gives no
view)."""
_WORDS: dict = {}
"""By ``id`` of a bit generator: the generator (kept, so that the ``id`` is not reused) and its
:func:`_words` view or None."""


def _words(bg: np.random.PCG64) -> np.ndarray | None:
    """The 128-bit state and increment of a PCG64 as four uint64 words (low, high, increment
    low, high), a view of the generator's own memory: read and written without ``bg.state``'s
    dict of Python integers (≈ 1.5 and 1.9 µs a read and a write).

    NumPy's ``pcg64_random_t`` is two ``__uint128_t`` (state, increment), little-endian on
    x86-64 and aarch64, reached through ``bg.ctypes.state_address`` (its ``pcg64_state``
    starts with the pointer to it). The layout is checked against ``bg.state`` once per
    generator; where it differs (another platform or NumPy), and for any other bit generator,
    the result is None and the callers use ``bg.state``.
    """
    hit = _WORDS.get(id(bg))
    if hit is not None and hit[0] is bg:
        return hit[1]
    words = None
    # only a PCG64's state struct starts with a pointer (MT19937's or SFC64's does not: it
    # would be followed into arbitrary memory)
    if type(bg) is np.random.PCG64 and np.little_endian:
        address = ctypes.cast(bg.ctypes.state_address, ctypes.POINTER(ctypes.c_void_p))[0]
        if address:
            words = np.ctypeslib.as_array((ctypes.c_uint64 * 4).from_address(address))
            st = bg.state["state"]
            got = (int(words[1]) << 64 | int(words[0]), int(words[3]) << 64 | int(words[2]))
            if got != (st["state"], st["inc"]):
                words = None
    if len(_WORDS) > 16:
        _WORDS.clear()
    _WORDS[id(bg)] = (bg, words)
    return words


def _state(bg: np.random.PCG64) -> tuple[int, int]:
    """``(state, inc)`` of a PCG64 as Python integers."""
    words = _words(bg)
    if words is None:
        st = bg.state["state"]
        return st["state"], st["inc"]
    lo, hi, inc_lo, inc_hi = words.tolist()
    return hi << 64 | lo, inc_hi << 64 | inc_lo


def _set_state(bg: np.random.PCG64, state: int) -> None:
    """Set a PCG64's 128-bit state (the rest of its state, increment and buffered 32-bit value,
    unchanged)."""
    words = _words(bg)
    if words is None:
        full = bg.state
        full["state"]["state"] = state
        bg.state = full
    else:
        words[0], words[1] = state & _MASK64, state >> 64


def pcg64_lanes(bg: np.random.PCG64) -> tuple[np.ndarray, tuple]:
    """A PCG64 stream as two interleaved lanes for compiled draws.

    Returns
    -------
    lanes : numpy.ndarray of uint64, shape (4,)
        High and low words of the 128-bit states after one and after two steps from the
        current state (the next two outputs are theirs).
    step : tuple of numpy.uint64
        ``(a_hi, a_lo, c_hi, c_lo)`` of the affine map of two steps, ``s ↦ a² s + c (a + 1)``:
        a lane steps by it after each draw it gives.
    """
    words = _words(bg)
    if words is not None:  # the lanes computed from the words, compiled
        lanes = np.empty(4, dtype=np.uint64)
        _lanes_of_words(words, lanes)
        inc_lo, inc_hi = words[2:].tolist()
        return lanes, _two_steps(inc_hi << 64 | inc_lo)
    full = bg.state
    _LAST[0] = (bg, full)  # for set_pcg64_lanes: the rest of the state, unchanged by the draws
    s, inc = full["state"]["state"], full["state"]["inc"]
    s1 = (MULTIPLIER * s + inc) & _MASK128
    s2 = (MULTIPLIER * s1 + inc) & _MASK128
    lanes = np.array([s1 >> 64, s1 & _MASK64, s2 >> 64, s2 & _MASK64], dtype=np.uint64)
    return lanes, _two_steps(inc)


@functools.lru_cache(maxsize=8)
def _two_steps(inc: int) -> tuple:
    """``(a_hi, a_lo, c_hi, c_lo)`` of PCG64's map of two steps for the increment ``inc``
    (fixed when the generator is seeded)."""
    a2, c2 = (MULTIPLIER * MULTIPLIER) & _MASK128, (inc * (MULTIPLIER + 1)) & _MASK128
    return tuple(np.uint64(w) for w in (a2 >> 64, a2 & _MASK64, c2 >> 64, c2 & _MASK64))




def set_pcg64_lanes(bg: np.random.PCG64, lanes: np.ndarray) -> None:
    """Set ``bg`` to where it is after the draws the lanes gave: one step before the first
    lane's state (the rest of ``bg``'s state unchanged: the buffered 32-bit value as
    :func:`pcg64_lanes` read it, if it was the last to read ``bg``'s state; nothing else may
    draw from ``bg`` between the two calls).

    Parameters
    ----------
    bg : numpy.random.PCG64
        The bit generator the lanes were taken from (:func:`pcg64_lanes`); its state is set.
    lanes : numpy.ndarray of uint64, shape (4,)
        The lanes after the draws (high and low words of the states of the next two outputs).
    """
    words = _words(bg)
    if words is not None:
        _set_words(words, lanes)
        return
    s1 = (int(lanes[0]) << 64) | int(lanes[1])
    last = _LAST[0]
    full = last[1] if last is not None and last[0] is bg else bg.state
    _LAST[0] = None
    full["state"]["state"] = (_INVERSE * (s1 - full["state"]["inc"])) & _MASK128
    bg.state = full


def uniforms_at(rng: np.random.Generator, n: int, positions: np.ndarray,
                batch=None) -> np.ndarray:
    """``rng.random(n)[positions]``, drawing only those values.

    Parameters
    ----------
    rng : numpy.random.Generator
        Advanced exactly as by ``rng.random(n)``.
    n : int
        Size of the batch the rule draws.
    positions : numpy.ndarray of int, shape (m,)
        Positions in ``[0, n)``, in any order, repeats allowed.
    batch : callable, optional
        ``batch(n)`` gives ``rng.random(n)`` (default that): used where the positions are too
        many or the batch too small for jumps to save time.

    Returns
    -------
    numpy.ndarray of float64, shape (m,)
        Identical to ``rng.random(n)[positions]``.
    """
    positions = np.asarray(positions)
    if positions.size and positions.dtype.kind not in "iu":  # a mask would read as indices 0/1
        raise TypeError(f"positions must be integer indices, not {positions.dtype}")
    positions = positions.astype(np.int64, copy=False)
    bg = rng.bit_generator
    if type(bg) is not np.random.PCG64 or n < 4096 or len(positions) * 8 > n:
        # few savings (≈ 2.5 ns a value in NumPy's batch against ≈ 10 µs a call here), or
        # another generator: the batch (the compiled loop checks the positions itself)
        if len(positions) and (positions.min() < 0 or positions.max() >= n):
            raise IndexError(f"positions must lie in [0, {n})")
        return (batch or rng.random)(n)[positions]
    words = _words(bg)
    if words is not None:  # the state read and written by the compiled loop
        inc_lo, inc_hi = words[2:].tolist()
        return _uniforms_at_words(words, positions, n, _jump_table(inc_hi << 64 | inc_lo))
    s, inc = _state(bg)
    table = _jump_table(inc)
    values, hi, lo = _uniforms_at_loop(np.uint64(s >> 64), np.uint64(s & _MASK64), positions, n,
                                       table)
    _set_state(bg, (int(hi) << 64) | int(lo))  # the state after n steps
    return values
