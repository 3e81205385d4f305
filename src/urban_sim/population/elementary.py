"""``exp`` and ``log`` of float64 for compiled loops: branch-free, so that a loop calling them is
vectorised, and the same on every x86-64 host.

Why our own: the location choice takes about 13.5 million ``exp``/``log`` a full-scale run.
NumPy has SIMD versions of float64 ``exp``/``log`` only for AVX-512; on a host without it (the
AMD EPYC vCPUs of session 11: AVX2) it calls the C library once per element, 8-10 ns each in the
choice, about a fifth of the run. numba's ``math.exp`` is the same library call, and its
vectorised math (Intel SVML) is not in the llvmlite wheels of the package index
(``llvmlite.binding.has_svml`` is False). NumPy's result also depends on the host (its AVX-512
``exp`` differs from the C library's in the last bit for ≈ 5 % of values), these do not.

Algorithms (docs/performance.md, session 11):

- ``exp``: the argument reduction of fdlibm's ``e_exp.c`` (Sun Microsystems, 1993:
  ``x = k ln 2 + r``, ``|r| ≤ ln 2 / 2``, ``ln 2`` in two parts), ``k`` rounded by adding and
  subtracting 1.5 · 2**52; ``exp(r) = 1 + (hi − (lo − r² p(r)))`` with ``p`` the Taylor
  polynomial of degree 11 (terms 1/2! … 1/13!, truncation below 1e-17 relative on
  ``|r| ≤ 0.347``) by Estrin's scheme; the scale ``2**k`` built from its bits (``k < −1021``:
  ``2**(k + 1000) · 2**−1000``, so that subnormal results round once more at most).
- ``log``: fdlibm's ``e_log.c``: ``x = 2**k m``, ``√2/2 ≤ m < √2`` from the bits,
  ``f = m − 1``, ``s = f / (2 + f)``, its polynomial ``Lg1 … Lg7`` in ``s²``, and
  ``k ln2_hi − ((f²/2 − (s (f²/2 + R) + k ln2_lo)) − f)``; subnormal ``x`` scaled by 2**54
  first.

Accuracy (``tests/test_elementary.py``, against ``numpy.longdouble``): below 1 ulp for
normal results (a sweep of ≈ 2e8 points: 0.957 for exp, 0.849 for log); exactly
``exp(0) = 1``, ``log(1) = 0``; the special values as NumPy (``exp``: NaN, ±inf, overflow
above 709.78 to inf, underflow below −745.13 to 0; ``log``: 0 → −inf, negative → NaN,
inf → inf, NaN → NaN).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba.core import types
from numba.extending import intrinsic

from urban_sim.population.kernels import _jit


def _bit_cast(src, dst):
    """A compiled bit cast from numba type ``src`` to ``dst`` of the same size (vectorisable)."""

    @intrinsic
    def cast(typingctx, x):
        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], context.get_value_type(dst))

        return dst(src), codegen

    return cast


_f64_of_bits = _bit_cast(types.int64, types.float64)  # the float64 of IEEE 754 bits
_bits_of_f64 = _bit_cast(types.float64, types.int64)


# fdlibm e_exp.c / e_log.c constants (ln 2 in two parts; 1 / ln 2; the overflow and underflow
# thresholds of exp; log's polynomial)
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e+00
_EXP_OVER = 7.09782712893383973096e+02
_EXP_UNDER = -7.45133219101941108420e+02
_SHIFT = 6755399441055744.0  # 1.5 * 2**52: x + _SHIFT − _SHIFT rounds x to an integer
_SHIFT_BITS = int(np.float64(_SHIFT).view(np.int64))
_TWO_M1000 = 2.0 ** -1000
_TWO_54 = 2.0 ** 54
_MIN_NORMAL = 2.2250738585072014e-308
# Taylor coefficients 1/2! … 1/13! of exp
_C2, _C3, _C4, _C5, _C6, _C7, _C8, _C9, _C10, _C11, _C12, _C13 = (
    1.0 / math.factorial(k) for k in range(2, 14))
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01


def exp(x):
    """``e**x`` of a float64, below 1 ulp from the exact value; NaN, ±inf, overflow and
    underflow as NumPy's ``exp``. For compiled loops (no branch: the loop is vectorised)."""
    c = x if x > -746.0 else -746.0  # also NaN → −746 (the NaN is put back at the end)
    c = c if c < 710.0 else 710.0
    ks = c * _INV_LN2 + _SHIFT
    kf = ks - _SHIFT  # k = round(c / ln 2)
    hi = c - kf * _LN2_HI
    lo = kf * _LN2_LO
    r = hi - lo
    r2 = r * r
    r4 = r2 * r2
    p = (((_C2 + r * _C3) + r2 * (_C4 + r * _C5))
         + r4 * ((_C6 + r * _C7) + r2 * (_C8 + r * _C9))
         + (r4 * r4) * ((_C10 + r * _C11) + r2 * (_C12 + r * _C13)))
    y = 1.0 + (hi - (lo - r2 * p))
    k = _bits_of_f64(ks) - _SHIFT_BITS
    low = k < -1021
    k = k + 1000 if low else k
    top = k > 1023
    k = k - 1 if top else k
    y = y * _f64_of_bits((k + 1023) << 52)
    y = y * _TWO_M1000 if low else y
    y = y * 2.0 if top else y
    y = math.inf if x > _EXP_OVER else y
    y = 0.0 if x < _EXP_UNDER else y
    return x + x if x != x else y  # a NaN, quieted as NumPy does


def log(x):
    """Natural logarithm of a float64, below 1 ulp from the exact value; 0 → −inf, negative →
    NaN, inf → inf, NaN → NaN as NumPy's ``log``. For compiled loops (no branch)."""
    sub = x < _MIN_NORMAL
    w = x * _TWO_54 if sub else x
    hx = _bits_of_f64(w)
    k = (hx >> 52) - 1023 - (54 if sub else 0)
    hm = hx & 0x000FFFFFFFFFFFFF
    j = (hm + 0x95F6400000000) & 0x10000000000000  # mantissa at or above √2: halve it
    m = _f64_of_bits(hm | (j ^ 0x3FF0000000000000))
    dk = np.float64(k + (j >> 52))
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    z2 = z * z
    R = z * (_LG1 + z2 * (_LG3 + z2 * (_LG5 + z2 * _LG7))) + z2 * (_LG2 + z2 * (_LG4 + z2 * _LG6))
    hfsq = 0.5 * f * f
    y = dk * _LN2_HI - ((hfsq - (s * (hfsq + R) + dk * _LN2_LO)) - f)
    y = -math.inf if x == 0.0 else y
    y = math.nan if x < 0.0 else y
    y = x if x == math.inf else y
    return x + x if x != x else y  # a NaN, quieted as NumPy does


# inlined into the calling loop by numba (LLVM did not inline exp: 9 ns instead of 3 an element),
# so never compiled alone (not kernels: nothing to cache); the caller is compiled with
# error_model="numpy" (else a division is checked for zero: a branch)
exp = numba.njit(inline="always")(exp)
log = numba.njit(inline="always")(log)


def _exp_loop(x, out):
    for i in range(x.shape[0]):
        out[i] = exp(x[i])


def _log_loop(x, out):
    for i in range(x.shape[0]):
        out[i] = log(x[i])


_exp_jit = _jit(_exp_loop, error_model="numpy")
_log_jit = _jit(_log_loop, error_model="numpy")


def exp_array(x, out: np.ndarray | None = None) -> np.ndarray:
    """:func:`exp` of every element of ``x`` (any shape; float64), into ``out`` if given (of
    ``x``'s shape, C-contiguous; may be ``x`` itself)."""
    return _elementwise(_exp_jit, x, out)


def log_array(x, out: np.ndarray | None = None) -> np.ndarray:
    """:func:`log` of every element of ``x`` (any shape; float64), into ``out`` if given (of
    ``x``'s shape, C-contiguous; may be ``x`` itself)."""
    return _elementwise(_log_jit, x, out)


def _elementwise(kernel, x, out):
    x = np.ascontiguousarray(x, dtype=np.float64)
    if out is None:
        out = np.empty_like(x)
    elif out.shape != x.shape or out.dtype != np.float64 or not out.flags.c_contiguous:
        raise ValueError("out must be a C-contiguous float64 array of the shape of x")
    kernel(x.reshape(-1), out.reshape(-1))  # views (C-contiguous)
    return out
