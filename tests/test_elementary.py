"""The compiled choice's ``exp`` and ``log`` (population/elementary.py): accuracy against
extended precision, special values as NumPy's, and the same value at every position of an
array (the vectorised loop body and its scalar remainder agree)."""

from __future__ import annotations

import numpy as np
import pytest

from urban_sim.population.elementary import exp_array, log_array

EXTENDED = np.finfo(np.longdouble).nmant > np.finfo(np.float64).nmant


def _ulps(ours: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """|ours − exact| in units of the last place of ``ours`` (float64)."""
    return np.abs((ours.astype(np.longdouble) - exact) / np.spacing(np.abs(ours)).astype(np.longdouble))


@pytest.mark.skipif(not EXTENDED, reason="long double is double on this platform: no exact reference")
def test_exp_is_below_one_ulp_from_the_exact_value():
    rng = np.random.default_rng(3)
    # the choice's range (shifted utilities ≤ 0), the whole normal range, near 0, near the
    # subnormal boundary (k < −1021 takes 2^(k+1000) · 2^−1000)
    x = np.concatenate([rng.uniform(-40, 0, 200_000), rng.uniform(-708, 709.7, 200_000),
                        rng.normal(0, 1e-6, 20_000), rng.uniform(-708.39, -700, 20_000)])
    ours = exp_array(x)
    err = _ulps(ours, np.exp(x.astype(np.longdouble)))
    assert err.max() < 1.0, (err.max(), x[err.argmax()])
    # NumPy's own (C library or AVX-512) is within 1 ulp too; both below 1 ulp: mostly equal
    same = np.mean(ours == np.exp(x))
    assert same > 0.8, same


@pytest.mark.skipif(not EXTENDED, reason="long double is double on this platform: no exact reference")
def test_log_is_below_one_ulp_from_the_exact_value():
    rng = np.random.default_rng(4)
    # the choice's nest sums lie in [1, 2]; every binade; near 1; subnormal inputs
    x = np.concatenate([rng.uniform(1, 2, 200_000), np.exp(rng.uniform(-700, 700, 200_000)),
                        1 + rng.normal(0, 1e-6, 20_000), rng.uniform(0, 2.2e-308, 2_000)])
    ours = log_array(x)
    err = _ulps(ours, np.log(x.astype(np.longdouble)))
    assert err.max() < 1.0, (err.max(), x[err.argmax()])


def test_subnormal_results_of_exp_are_within_one_unit_of_numpy():
    x = np.linspace(-745.0, -708.5, 10_001)
    diff = np.abs(exp_array(x) - np.exp(x)) / np.nextafter(0.0, 1.0)  # in units of 2^−1074
    assert diff.max() <= 1.0


def test_special_values_are_numpy_s():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 709.78, 709.79, -745.13, -745.14, -1e4, 1e4,
                  5e-324])
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(exp_array(x), np.exp(x))
        np.testing.assert_array_equal(log_array(x), np.log(x))
        neg = np.array([-1.0, -5e-324, -np.inf, 1.7976931348623157e308])
        np.testing.assert_array_equal(log_array(neg), np.log(neg))
    assert exp_array(np.array([0.0]))[0] == 1.0 and log_array(np.array([1.0]))[0] == 0.0


def test_the_value_does_not_depend_on_the_position():
    """Lengths 1-67 and offsets 0-7: the vectorised body and the scalar remainder agree."""
    rng = np.random.default_rng(5)
    base = np.concatenate([rng.uniform(-30, 1, 64), [0.0, -np.inf, np.nan]])
    ref_e = np.array([exp_array(np.array([v]))[0] for v in base])
    ref_l = np.array([log_array(np.array([abs(v) + 1]))[0] for v in base])
    for off in range(8):
        for n in (1, 3, 4, 5, 16, 33, 67 - off):
            e = exp_array(np.roll(base, off)[:n])
            np.testing.assert_array_equal(e, np.roll(ref_e, off)[:n])
            l_ = log_array(np.abs(np.roll(base, off)[:n]) + 1)
            np.testing.assert_array_equal(l_, np.roll(ref_l, off)[:n])


def test_in_place_and_a_bad_out():
    x = np.linspace(-3, 3, 12).reshape(3, 4)
    expected = exp_array(x)
    y = x.copy()
    assert exp_array(y, out=y) is y
    np.testing.assert_array_equal(y, expected)
    with pytest.raises(ValueError, match="C-contiguous"):
        exp_array(x, out=np.empty((4, 3)).T)


def test_golden_bits_the_same_on_every_host():
    """The bits of 100,003 exps and logs across their whole range, recorded on an AVX2 host
    (session 11). The functions use no FMA contraction and no library call, so any x86-64
    (or other IEEE 754) host gives these bits; NumPy's own differ between hosts with and
    without AVX-512. A failure means the model's draws are no longer host-independent."""
    import hashlib

    x = np.linspace(-745.5, 710.0, 100_003)
    y = np.geomspace(1e-310, 1e308, 100_003)
    assert hashlib.sha256(exp_array(x).tobytes()).hexdigest() == (
        "682e7d0cdc6305637c5e9934f6b1d9fe2aa3913c529740ea56be094ce55e02da")
    assert hashlib.sha256(log_array(y).tobytes()).hexdigest() == (
        "216cd722432d7439d047c401015fb0c5447bb3d82bedb354024a704b4b873a1f")
