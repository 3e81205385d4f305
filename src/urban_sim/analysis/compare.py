"""Scenario comparison statistics: fan bands, target scorecard, paired differences.

Every function takes the long-format timeseries of several scenarios run with the same
replicate seeds (common random numbers), so replicate ``k`` of two scenarios is a pair.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from urban_sim.model.outputs import investment_in, jobs_created_in
from urban_sim.targets import Target

HEADLINE = (
    ("resident_population", "county"), ("urbanization_rate", "county"),
    ("resident_population", "county_seat"), ("resident_population", "towns"),
    ("resident_population", "villages"), ("resident_population", "outside"),
    ("jobs_nonfarm", "county"), ("investment_total", "county"),
)
"""Headline indicators (indicator, place) shown as fan charts and paired differences."""


def fan(ts: pd.DataFrame, indicator: str, place: str = "county") -> pd.DataFrame:
    """Median and 90 % band across replicates, by scenario and year.

    Returns
    -------
    pandas.DataFrame
        Columns ``scenario, year, median, p05, p95, n``; NaN where every replicate is NaN
        (e.g. an emptied place), with ``n`` the number of non-NaN replicates.
    """
    rows = ts[(ts["indicator"] == indicator) & (ts["place"] == place)]
    g = rows.groupby(["scenario", "year"], sort=False)["value"]
    return pd.DataFrame({"median": g.median(), "p05": g.quantile(0.05), "p95": g.quantile(0.95),
                         "n": g.count()}).reset_index()


def scorecard(ts: pd.DataFrame, targets: list[Target]) -> pd.DataFrame:
    """For each scenario, target and year: mean, p05, p95, probability of meeting it, mean shortfall.

    Returns
    -------
    pandas.DataFrame
        Columns ``scenario, indicator, year, operator, target, target_high,
        decided_before_policy, mean, p05, p95, p_met, mean_shortfall, n``
        (``decided_before_policy``: no policy-funded project can complete by the target year). Statistics over replicates whose value is not NaN; NaN with
        ``n = 0`` when no replicate has a value.
    """
    county = ts[ts["place"] == "county"]
    look = county.set_index(["indicator", "year"])
    rows = []
    for sc in county["scenario"].unique():
        sub = look[look["scenario"] == sc]
        for t in targets:
            try:
                vals = sub.loc[(t.indicator, t.year), "value"]
            except KeyError:
                vals = pd.Series(dtype=float)
            v = np.asarray(pd.Series(vals).dropna(), dtype=float)
            met = [t.met(x) for x in v]
            rows.append({
                "scenario": sc, "indicator": t.indicator, "year": t.year, "operator": t.operator,
                "target": t.target, "target_high": t.target_high,
                "decided_before_policy": t.decided_before_policy,
                "mean": v.mean() if len(v) else math.nan,
                "p05": np.quantile(v, 0.05) if len(v) else math.nan,
                "p95": np.quantile(v, 0.95) if len(v) else math.nan,
                "p_met": float(np.mean(met)) if len(v) else math.nan,
                "mean_shortfall": float(np.mean([t.shortfall(x) for x in v])) if len(v) else math.nan,
                "n": len(v),
            })
    return pd.DataFrame(rows)


def paired_differences(ts: pd.DataFrame, baseline: str, items: list[tuple[str, str, int]],
                       *, level: float = 0.95) -> pd.DataFrame:
    """Mean difference scenario − baseline over paired replicates, with a t interval.

    Parameters
    ----------
    ts : pandas.DataFrame
        Long timeseries of all scenarios (same replicate seeds).
    baseline : str
        Name of the reference scenario.
    items : list of (indicator, place, year)
    level : float
        Confidence level of the interval (Student t over the n paired differences).

    Returns
    -------
    pandas.DataFrame
        Columns ``scenario, indicator, place, year, mean_diff, ci_low, ci_high, n``; the
        interval is NaN with fewer than two pairs.

    Raises
    ------
    ValueError
        If ``baseline`` is not among the scenarios.
    """
    if baseline not in set(ts["scenario"]):
        raise ValueError(f"baseline {baseline!r} not among scenarios {sorted(set(ts['scenario']))}")
    key = ts.set_index(["indicator", "place", "year", "scenario", "replicate"])["value"].sort_index()
    rows = []
    for sc in [s for s in ts["scenario"].unique() if s != baseline]:
        for ind, place, year in items:
            try:
                a = key.loc[(ind, place, year, sc)]
                b = key.loc[(ind, place, year, baseline)]
            except KeyError:
                continue
            d = (a - b).dropna().to_numpy(float)
            n = len(d)
            mean = d.mean() if n else math.nan
            if n >= 2:
                half = stats.t.ppf(0.5 + level / 2, n - 1) * d.std(ddof=1) / math.sqrt(n)
            else:
                half = math.nan
            rows.append({"scenario": sc, "indicator": ind, "place": place, "year": year,
                         "mean_diff": mean, "ci_low": mean - half, "ci_high": mean + half, "n": n})
    return pd.DataFrame(rows)


def flatten(mapping: dict, prefix: str = "") -> dict:
    """Nested dict to ``{"a.b": value}`` (an empty mapping sets nothing, so it adds no key)."""
    out = {}
    for k, v in mapping.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def scenario_differences(resolved: dict[str, dict]) -> pd.DataFrame:
    """Settings that differ between scenarios (name and description excluded).

    Parameters
    ----------
    resolved : dict
        Scenario name → resolved scenario as a dict.

    Returns
    -------
    pandas.DataFrame
        One row per differing dotted key, one column per scenario; a key a scenario does not
        set (e.g. a ``parameters`` entry left at the data's value) shows ``"(default)"``.
    """
    flat = {name: flatten(d) for name, d in resolved.items()}
    keys = sorted(set().union(*flat.values()) - {"name", "description", "extends"})
    rows = [{"setting": k, **{n: f.get(k, "(default)") for n, f in flat.items()}} for k in keys
            if len({repr(f.get(k, "(default)")) for f in flat.values()}) > 1]
    return pd.DataFrame(rows, columns=["setting", *resolved])


def area_totals(ts: pd.DataFrame, areas: tuple[str, ...]) -> pd.DataFrame:
    """Cumulative investment (million yuan) and end-year jobs by task area; replicate means.

    Returns
    -------
    pandas.DataFrame
        Columns ``scenario, task_area, investment_million_yuan, jobs``.
    """
    county = ts[ts["place"] == "county"]
    end = county["year"].max()
    rows = []
    for sc, sub in county.groupby("scenario", sort=False):
        for a in areas:
            inv = sub[sub["indicator"] == investment_in(a)].groupby("replicate")["value"].sum().mean()
            jobs = sub[(sub["indicator"] == jobs_created_in(a)) & (sub["year"] == end)]["value"].mean()
            rows.append({"scenario": sc, "task_area": a, "investment_million_yuan": inv, "jobs": jobs})
    return pd.DataFrame(rows)
