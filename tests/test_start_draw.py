"""The start-state draw (population/start_state.py): stratified systematic sampling of the
integerised household weights, at a cost that grows with the sample (session 6, issue 12).

Its design: every household expects ``w s`` copies and gets ``floor(w s)`` or one more; every
stratum's total is exact up to one household; which households of a stratum get the extra copy
is a uniform random subset (Floyd's algorithm)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from urban_sim.data import DEFAULT_DATA_DIR
from urban_sim.errors import DataError
from urban_sim.population import start_state as ss


def _reference(persons, households, weight, scale, rng):
    """The draw written plainly (Python loops): the rule the compiled passes must reproduce."""
    weight = np.asarray(weight, float)
    strata = ss.household_strata(persons, weight)
    copies = np.floor(weight * scale).astype(np.int64)
    u = rng.random()
    groups = [np.flatnonzero(strata == k) for k in range(strata.max() + 1)]
    cum, extras = 0.0, []
    for g in groups:  # running total of the fractional parts of n_k w_k s
        before = cum
        ws = weight[g[0]] * scale
        cum += len(g) * (ws - np.floor(ws))
        extras.append(int(min(max(np.floor(cum + u) - np.floor(before + u), 0), len(g))))
    draws = iter(rng.random(sum(extras)))
    for g, e in zip(groups, extras):
        chosen: set[int] = set()
        for j in range(len(g) - e, len(g)):
            t = int(next(draws) * (j + 1))
            chosen.add(j if t in chosen else t)
        copies[g[sorted(chosen)]] += 1
    hh = persons["hh"]
    rows = {h: [] for h in range(len(weight))}
    for i, h in enumerate(hh):
        rows[int(h)].append(i)
    src, new_hh, new_mother, h_src = [], [], [], []
    for h in range(len(weight)):
        for _ in range(copies[h]):
            first = len(src)
            for i in rows[h]:
                m = persons["mother"][i]
                new_mother.append(first + rows[h].index(m) if m >= 0 and hh[m] == h else -1)
                src.append(i)
                new_hh.append(len(h_src))
            h_src.append(h)
    p = {k: v[np.array(src, np.int64)] for k, v in persons.items()}
    p["hh"] = np.array(new_hh, hh.dtype)
    p["mother"] = np.array(new_mother, persons["mother"].dtype)
    p["sector"][:] = -1
    return p, {k: v[np.array(h_src, np.int64)] for k, v in households.items()}


def _synthetic(n=300, seed=0):
    """Households of 1-4 members in shuffled rows, three weights, mothers in and out of the
    household."""
    rng = np.random.default_rng(seed)
    size = rng.integers(1, 5, n)
    hh = rng.permutation(np.repeat(np.arange(n), size)).astype(np.int32)
    mother = np.full(len(hh), -1, np.int32)
    for h in range(n):
        rows = np.flatnonzero(hh == h)
        mother[rows[1:]] = rows[0]
    mother[::7] = rng.integers(0, len(hh), len(mother[::7]))  # some mothers elsewhere
    persons = {"hh": hh, "mother": mother, "age": rng.integers(0, 90, len(hh)).astype(np.int16),
               "loc": rng.integers(0, 4, len(hh)).astype(np.int8),
               "sector": np.zeros(len(hh), np.int8)}
    households = {"village": np.arange(n, dtype=np.int32), "township": np.arange(n) % 7}
    weight = np.array([0.93, 1.0, 2.71])[np.arange(n) % 3]
    return persons, households, weight


def _equal(got, ref):
    for mine, theirs in zip(got, ref, strict=True):
        assert mine.keys() == theirs.keys()
        for col in mine:
            assert mine[col].dtype == theirs[col].dtype, col
            assert np.array_equal(mine[col], theirs[col]), col


@pytest.mark.parametrize("scale", [0.3, 0.37, 1.0, 2.5])
def test_draw_equals_the_plain_rule_on_a_synthetic_county(scale):
    """At 0.3 no household has a whole copy (the picks go through bitmaps); from 0.37 one
    stratum has (counts by household)."""
    persons, households, weight = _synthetic()
    for seed in (1, 2):
        got = ss.draw_start_population(persons, households, weight, scale, np.random.default_rng(seed))
        _equal(got, _reference(persons, households, weight, scale, np.random.default_rng(seed)))
        assert abs(len(got[1]["village"]) - weight.sum() * scale) < 1.0  # total exact up to one


@pytest.mark.parametrize("scale", [0.003, 0.02])
def test_draw_equals_the_plain_rule_on_the_shipped_state(lin_data, scale):
    persons, households, weight, _, _ = ss.read_start_state(lin_data.data_dir, 2020)
    got = ss.draw_start_population(persons, households, weight, scale, np.random.default_rng(4))
    _equal(got, _reference(persons, households, weight, scale, np.random.default_rng(4)))
    assert (got[0]["mother"] >= 0).any()


def test_lowest_set_bit_and_narrowed_integers():
    for i in range(64):  # alone and with the top bit (the de Bruijn product wraps)
        assert ss._ctz(np.uint64(1 << i)) == i
        assert ss._ctz(np.uint64((1 << i) | (1 << 63) | (1 << min(i + 1, 63)))) == i
    assert ss._narrow(np.array([-1, 9], np.int16)).dtype == np.int8
    assert ss._narrow(np.array([0, 200], np.int64)).dtype == np.int32
    big = np.array([0, 2**40], np.int64)
    assert ss._narrow(big) is big
    assert ss._narrow(np.array([0, 5], np.int8)).dtype == np.int8  # never widened


def test_the_models_cached_path_draws_the_same_population(lin_data):
    """start_population uses a household-ordered copy of the persons: same values."""
    persons, households, weight, _, _ = ss.read_start_state(lin_data.data_dir, 2020)
    direct = ss.draw_start_population(persons, households, weight, 0.01, np.random.default_rng(9))
    p, h, _ = ss.start_population(lin_data.data_dir, 2020, 0.01, 10_000, 10_000,
                                  np.random.default_rng(9))
    _equal((p, h), direct)
    assert (np.diff(p["hh"]) >= 0).all()  # persons in household order


def test_expected_copies_are_w_times_s_and_stratum_totals_exact_up_to_one():
    persons, households, weight = _synthetic(n=60, seed=3)
    scale, n_draws = 0.3, 3000
    ws = weight * scale
    strata = ss.household_strata(persons, weight)
    coarse = ss.household_strata(persons, np.zeros(len(weight)))  # urban, rural, size only
    assert strata.max() > coarse.max()  # the weights split strata
    groups = ss.household_groups(persons, weight)
    members = ss.household_members(persons, len(weight))
    rng = np.random.default_rng(11)
    total = np.zeros(len(weight))
    for _ in range(n_draws):
        _, h = ss.draw_start_population(persons, households, weight, scale, rng, groups, members)
        c = np.bincount(h["village"], minlength=len(weight))
        assert ((c == np.floor(ws)) | (c == np.floor(ws) + 1)).all()
        for key in (strata, coarse):  # strata by weight too are runs of the coarse ones
            for k in range(key.max() + 1):
                assert abs(c[key == k].sum() - ws[key == k].sum()) < 1.0
        assert abs(c.sum() - ws.sum()) < 1.0
        total += c
    frac = ws - np.floor(ws)
    se = np.sqrt(frac * (1 - frac) / n_draws)
    z = (total / n_draws - ws) / se
    assert np.abs(z).max() < 4.5, np.abs(z).max()  # 60 households: a 4.5-sigma miss is a defect


def test_weights_must_be_equal_within_a_stratum_by_construction_and_not_negative():
    persons, _, weight = _synthetic(n=30)
    strata = ss.household_strata(persons, weight)
    ptr, grouped = ss.household_groups(persons, weight)
    for k in range(len(ptr) - 1):
        assert len(np.unique(weight[grouped[ptr[k]:ptr[k + 1]]])) == 1
        assert (strata[grouped[ptr[k]:ptr[k + 1]]] == k).all()
    weight[4] = -0.5
    with pytest.raises(ValueError, match="finite and ≥ 0"):
        ss.household_groups(persons, weight)


def test_a_negative_weight_in_the_file_is_a_data_error_naming_file_and_column(tmp_path):
    folder = tmp_path / "lin_county"
    shutil.copytree(DEFAULT_DATA_DIR, folder)
    npz = folder / "start_2020.npz"
    with np.load(npz) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["h_weight"][17] = -1.0
    np.savez(npz, **arrays)
    with pytest.raises(DataError, match=r"start_2020\.npz: column 'h_weight' is -1\.0 for household 17"):
        ss.start_population(folder, 2020, 0.01, 10_000, 10_000, np.random.default_rng(0))


def test_strata_are_ranks_of_urban_and_rural_residents_size_and_weight():
    """The stratum key written out: resident urban members (seat or town), resident rural members
    (village), all members, weight; ranks in that lexicographic order (so the strata of one
    (urban, rural, size) group are a run and its total is exact up to one household)."""
    persons, _, weight = _synthetic(n=200, seed=5)
    weight = weight * (1 + (np.arange(200) % 2))  # weights that cut across the groups
    hh, loc = persons["hh"], persons["loc"]
    key = [(int(((loc == 1) | (loc == 2))[hh == h].sum()), int((loc == 0)[hh == h].sum()),
            int((hh == h).sum()), float(weight[h])) for h in range(200)]
    rank = {k: r for r, k in enumerate(sorted(set(key)))}
    assert ss.household_strata(persons, weight).tolist() == [rank[k] for k in key]
    assert len({k[:3] for k in key}) < len(rank) < 200  # groups split by weight, strata shared


def test_households_of_weight_zero_get_no_copy_and_are_no_error(tmp_path):
    """Weights ≥ 0 are valid: a household of weight 0 is never drawn (the plain rule), in a
    synthetic county and in the shipped file."""
    persons, households, weight = _synthetic(n=90, seed=6)
    weight[::4] = 0.0
    got = ss.draw_start_population(persons, households, weight, 0.8, np.random.default_rng(3))
    _equal(got, _reference(persons, households, weight, 0.8, np.random.default_rng(3)))
    assert not np.isin(got[1]["village"], np.flatnonzero(weight == 0)).any()
    folder = tmp_path / "lin_county"
    shutil.copytree(DEFAULT_DATA_DIR, folder)
    npz = folder / "start_2020.npz"
    with np.load(npz) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["h_weight"][:5000] = 0.0
    np.savez(npz, **arrays)
    _, h, _ = ss.start_population(folder, 2020, 0.1, 10_000, 10_000, np.random.default_rng(0))
    assert abs(len(h["village"]) - 0.1 * arrays["h_weight"].sum()) < 1.0  # exact up to one


class _FixedU:
    """A generator whose first uniform is ``u`` (then PCG64's): the systematic start."""

    def __init__(self, u):
        self.u, self.rng = u, np.random.default_rng(0)
        self.bit_generator = None

    def random(self, n=None):
        if n is None:
            u, self.u = self.u, None
            return u if u is not None else self.rng.random()
        return self.rng.random(n)


def test_a_whole_number_of_copies_gets_no_extra_copy_by_rounding():
    """Review (session 6): with running totals of n_k w_k s, strata (3 x 0.1, 1 x 1.0) and
    u = 0.6999999999999998 gave the whole-weight household a second copy by rounding
    (0.1 + 0.1 + 0.1 + 0.7 rounds to 1.0); the fractional parts' totals cannot."""
    persons = {"hh": np.arange(4, dtype=np.int32), "mother": np.full(4, -1, np.int32),
               "loc": np.zeros(4, np.int8), "sector": np.zeros(4, np.int8)}
    households = {"village": np.arange(4, dtype=np.int32)}
    weight = np.array([0.1, 0.1, 0.1, 1.0])
    assert (ss.household_strata(persons, weight) == [0, 0, 0, 1]).all()
    for u in (0.6999999999999998, 0.7, 0.0, np.nextafter(1.0, 0.0)):
        _, h = ss.draw_start_population(persons, households, weight, 1.0, _FixedU(u))
        c = np.bincount(h["village"], minlength=4)
        assert c[3] == 1, (u, c)
        assert c[:3].sum() == (1 if u >= 0.7 else 0), (u, c)


def test_a_start_state_made_for_other_places_is_a_data_error_naming_the_file(tmp_path):
    """check_against: township or village ids beyond the county's places raise a DataError
    naming the start-state file and the largest ids; ids within them pass."""
    hh = {"township": np.array([0, 22], np.int16), "village": np.array([5, 650], np.int32)}
    ss.check_against(tmp_path, 2020, 23, 651, hh)  # within: no error
    for n_t, n_v in ((22, 651), (23, 650)):
        with pytest.raises(DataError, match=r"start_2020\.npz: the start state has township ids "
                                            r"up to 22 and village ids up to 650, but the data has "
                                            rf"{n_t} townships and {n_v} villages"):
            ss.check_against(tmp_path, 2020, n_t, n_v, hh)
