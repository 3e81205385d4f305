"""Location choice kernels against analytic results."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from urban_sim.population.choice import (
    capacity_lottery, draw_choice, nested_logit_probabilities, rogers_castro_shape,
)


def test_nested_logit_with_unit_lambdas_is_multinomial_logit():
    V = np.array([[0.0, 1.0, 2.0, -1.0], [3.0, 0.0, 0.0, 0.0]])
    avail = np.ones_like(V, dtype=bool)
    p = nested_logit_probabilities(V, avail, (1.0, 1.0, 1.0))
    mnl = np.exp(V) / np.exp(V).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(p, mnl, rtol=1e-12)


def test_nested_logit_matches_hand_computed_two_level_formula():
    V = np.array([[0.5, 1.0, 2.0, 0.0]])
    lam = 0.5
    iv = lam * np.log(np.exp(1.0 / lam) + np.exp(2.0 / lam))
    denom = np.exp(0.5) + np.exp(iv) + np.exp(0.0)
    expected_seat = np.exp(iv) / denom * np.exp(2.0 / lam) / (np.exp(1.0 / lam) + np.exp(2.0 / lam))
    p = nested_logit_probabilities(V, np.ones((1, 4), bool), (1.0, lam, 1.0))
    assert p[0, 2] == pytest.approx(expected_seat, rel=1e-12)
    assert p.sum() == pytest.approx(1.0)


def test_unavailable_alternatives_get_zero_probability_and_huge_utilities_stay_finite():
    V = np.array([[800.0, 900.0, 1000.0, -5.0]])
    avail = np.array([[True, False, True, True]])
    p = nested_logit_probabilities(V, avail, (1.0, 0.55, 1.0))
    assert np.isfinite(p).all() and p[0, 1] == 0.0
    assert p.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        nested_logit_probabilities(V, avail, (1.0, 1.5, 1.0))
    with pytest.raises(ValueError, match="at least one available"):
        nested_logit_probabilities(V, np.zeros((1, 4), bool), (1.0, 0.5, 1.0))


def test_inverse_cdf_draw_reproduces_probabilities():
    rng = np.random.default_rng(0)
    p = np.tile([0.1, 0.2, 0.3, 0.4], (200_000, 1))
    c = draw_choice(p, rng.random(len(p)))
    freq = np.bincount(c, minlength=4) / len(c)
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.3, 0.4], atol=0.005)
    assert draw_choice(np.array([[0.0, 1.0, 0.0, 0.0]]), np.array([0.0])).tolist() == [1]


def test_rogers_castro_shape_peaks_at_one():
    ages = np.linspace(0, 100, 100_001)
    m = rogers_castro_shape(ages, 22, 0.35, 0.1)
    assert m.max() == pytest.approx(1.0, abs=1e-8)
    assert 20 <= ages[m.argmax()] <= 30


def test_capacity_lottery_never_exceeds_vacancy():
    rng = np.random.default_rng(5)
    place = rng.integers(0, 3, 1000)
    need = np.stack([np.ones(1000), rng.integers(0, 3, 1000).astype(float)], axis=1)
    vacancy = np.array([[50.0, 40.0], [10.0, np.inf], [0.0, 5.0]])
    ok = capacity_lottery(place, need, vacancy, 2.0, rng)
    for j in range(3):
        used = need[ok & (place == j)].sum(axis=0) * 2.0
        assert (used <= vacancy[j] + 1e-9).all()
    assert not ok[place == 2].any()
    assert ok[place == 1].sum() == 5  # 10 dwellings, 2 persons per agent


def _first_fit_reference(place, need, vacancy, order):
    """Plain loop: serve applicants in ``order``; accept when everything needed is free."""
    free = vacancy.astype(float).copy()
    ok = np.zeros(len(place), dtype=bool)
    for i in order:
        if (need[i] <= free[place[i]] + 1e-9).all():
            free[place[i]] -= need[i]
            ok[i] = True
    return ok


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 60))
def test_capacity_lottery_is_first_fit_in_its_random_order(seed, n):
    rng = np.random.default_rng(seed)
    place = rng.integers(0, 3, n)
    need = np.stack([np.ones(n), rng.integers(0, 4, n).astype(float)], axis=1)
    vacancy = np.stack([rng.integers(0, n, 3), rng.integers(0, 2 * n, 3)], axis=1).astype(float)
    vacancy[1, 1] = np.inf
    got = capacity_lottery(place, need, vacancy, 1.0, np.random.default_rng(seed), max_rounds=10_000)
    order = np.lexsort((np.random.default_rng(seed).random(n), place))
    np.testing.assert_array_equal(got, _first_fit_reference(place, need, vacancy, order))


def test_applicant_without_pupils_is_not_blocked_by_full_schools():
    place = np.zeros(3, dtype=int)
    need = np.array([[1.0, 2.0], [1.0, 0.0], [1.0, 1.0]])  # dwellings, school seats
    ok = capacity_lottery(place, need, np.array([[10.0, 0.0]]), 1.0, np.random.default_rng(0))
    assert ok.tolist() == [False, True, False]


# --------------------------------------------------------------------------- household kernel

def _choice_population(rng, n=200):
    """A small random county (3 townships, 6 villages) and ``n`` deciding households."""
    from urban_sim.population.choice import Deciders, PlaceInputs

    K, n_vil = 3, 6
    places = PlaceInputs(
        income_yuan=rng.uniform(8e3, 6e4, 2 * K + 1), amenity=rng.random(2 * K + 1),
        congestion=rng.random(2 * K + 1), network_share=rng.dirichlet(np.ones(4), n_vil),
        village_township=np.array([0, 0, 1, 1, 2, 2]), village_centre_km=rng.uniform(1, 20, n_vil),
        village_seat_km=rng.uniform(5, 60, n_vil), township_seat_km=np.array([0.0, 20.0, 35.0]),
        school_quality=np.array([0.2, 0.5, 0.9, 0.3]), housing_price_yuan_m2=np.array([2800.0, 4500.0]),
        hukou_service_access=0.4, land_reform=0.5)
    households = Deciders(
        village=rng.integers(0, n_vil, n), current=rng.integers(0, 3, n).astype(np.int8),
        n_workers=rng.integers(0, 5, n), land_rented=rng.random(n) < 0.3,
        land_tied=rng.random(n) < 0.7, hukou_urban=rng.random(n) < 0.2,
        school_trigger=rng.random(n) < 0.2,
        youngest_adult_age=np.where(rng.random(n) < 0.1, 200, rng.integers(18, 95, n)).astype(np.int16))
    return households, places


def test_choice_kernel_equals_plain_mesa_reference(lin_data):
    """The numpy kernel and the plain-Mesa reference of benchmarks/ draw the same choices."""
    import importlib.util
    from pathlib import Path

    from urban_sim.population.choice import choose_locations

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "mesa_reference.py"
    spec = importlib.util.spec_from_file_location("mesa_reference", path)
    ref_mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref_mod)
    rng = np.random.default_rng(3)
    households, places = _choice_population(rng)
    params = dict(lin_data.parameters)
    ref = ref_mod.ChoiceModel(households, places, params)
    try:
        for _ in range(3):
            u = rng.random(len(households))
            ours = choose_locations(households, places, params, u)
            np.testing.assert_array_equal(ours, ref.choose(u))
            assert len(np.unique(ours)) == 4  # every alternative is drawn somewhere
    finally:
        ref.close()


def test_choice_kernel_equals_matrix_nested_logit_bit_for_bit(lin_data):
    """Column kernel = nested_logit_probabilities + draw_choice on the (n, 4) utilities, also
    on the edges of the cumulative probabilities and when outside's probability underflows."""
    from urban_sim.population.choice import choose_locations, location_utilities

    rng = np.random.default_rng(4)
    households, places = _choice_population(rng, n=500)
    params = dict(lin_data.parameters)
    for asc_outside in (params["asc_outside"], -1e4):
        p = {**params, "asc_outside": asc_outside}
        V = np.stack(location_utilities(households, places, p), axis=1)
        avail = np.isfinite(V)
        assert (~avail[:, 1] == (places.village_township[households.village] == 0)).all()
        probs = nested_logit_probabilities(np.where(avail, V, 0.0), avail, (1.0, p["nest_lambda_urban"], 1.0))
        cum = np.cumsum(probs, axis=1)
        for u in (rng.random(len(V)), cum[:, 0], cum[:, 1], np.nextafter(cum[:, 1], 0),
                  np.full(len(V), np.nextafter(1.0, 0))):
            u = np.minimum(u, np.nextafter(1.0, 0))
            np.testing.assert_array_equal(choose_locations(households, places, p, u), draw_choice(probs, u))
