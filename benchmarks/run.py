"""Benchmarks of urban_sim against the targets of issue 12, side by side in one run.

    python benchmarks/run.py [--quick] [--check] [--json PATH] [--md PATH] [--wait-quiet SECONDS]
                             [--reference REV]

Every step runs in a fresh child process (so peak memory is that of the step alone) in a scratch
directory, one after the other; nothing is written into the checkout. The report goes to stdout,
``--md PATH`` and ``--json PATH`` (all results; the headline keys of the issue both nested, e.g.
``full_run.wall_s`` = ``res["full_run"]["wall_s"]``, and flat under ``results``):

1. equivalence gate (before any timing): the plain-Mesa reference of the location-choice rule
   (``mesa_reference.py``) and the model's kernel, fed the same uniforms, must give identical
   choice tallies, or the run stops with exit code 2;
2. full model, scale 1, 2020→2035, best of several runs in one process: wall time, initialisation,
   step time, peak RSS; every array phase timed side by side with its lower bound (the bare NumPy
   arithmetic of that phase at the same size, :data:`BOUNDS`) on the same model state, and the
   ratio;
3. cost growth: ns per household-step at scales 0.1, 0.3 and 1, best of three fresh processes
   a scale in alternating rounds (scale 1's first is the full run of 2.), without phase timers;
4. location choice alone on the full-scale 2020 population: ours, plain Mesa, kernel limit;
5. memory growth over consecutive runs in one worker (not with ``--quick``);
6. throughput with 2 worker processes at scales 1 and 0.1 (best of 3 rounds);
7. Dask ``LocalCluster`` against local processes, same runs, alternating rounds;
8. only with ``--reference REV`` (e.g. 4dd5b70, where issue 12 was filed): the code of commit
   REV (``git archive`` into a scratch folder) against the current checkout's ``src``, full-scale
   and scale-0.1 runs in alternated fresh processes, and the ratios (``reference.speedup.*``,
   ``reference.host_factor``): a measure of the code that does not depend on the host; the
   issue's targets as speedups against its own baseline are shown, not checked. Skipped, with
   the reason, when the commit cannot be extracted (no git, a shallow clone).

``--check`` exits 1 when a target (:data:`TARGETS`) is missed. Absolute timings need a quiet
machine (the 1-minute load average is recorded; ``--wait-quiet`` waits for it to fall below
1.2); the ratios are measured side by side and hold up better on a busy one.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TARGETS = {
    "step_s": 0.5,              # ≤ full-scale 2020→2035, wall minus initialisation
    "init_s": 0.15,             # ≤
    "peak_rss_mb": 1024.0,      # ≤
    "phase_ratio": 3.0,         # ≤ every array phase against its lower bound
    "choice_ratio": 2.0,        # ≤ location choice against the kernel limit
    "speedup_vs_mesa": 20.0,    # ≥ location choice against plain Mesa
    "runs_per_hour_0.1": 100_000.0,  # ≥ 2 workers
    "runs_per_hour_1": 12_000.0,     # ≥ 2 workers
    "dask_ratio": 1.2,          # ≤ Dask LocalCluster wall / local processes wall
    "scaling_spread": 1.2,      # ≤ max / min ns per household-step over scales 0.1, 0.3, 1
}
"""Targets of issue 12."""
ISSUE_BASELINE = {"step_s": 1.27, "runs_per_hour_1": 4_107.0, "runs_per_hour_0.1": 31_314.0}
"""The code at which issue 12 was filed (4dd5b70), measured on the issue's host (AVX-512):
full-scale step time 2020→2035 (wall 1.54 s − initialisation 0.27 s) and throughput with 2
workers. With ``--reference``, the targets are also shown as speedups against it (informational,
not checked)."""
QUIET_LOAD = 1.2

# --------------------------------------------------------------------------- helpers


def _load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def _rss_mb() -> float:
    """Current resident set size of this process, MB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


_DATA = None


def _data():
    """Lin County input tables, read once per process (a worker reuses them for every run)."""
    global _DATA
    if _DATA is None:
        from urban_sim.data import load_county

        _DATA = load_county()
    return _DATA


@functools.cache
def _scenario(scale: float):
    """The baseline at ``scale``, read and validated once per scale and process: a run starts
    from a resolved scenario, as in the ensemble runner (``simulate(spec.scenario, ...)`` in
    ``urban_sim.runs.ensemble``), not from its YAML file (reading and validating it costs
    ≈ 0.4 ms, which every timed run paid until session 9). The model does not change it."""
    from urban_sim.config import load_scenario

    return load_scenario(ROOT / "configs" / "baseline.yaml", {"scale": scale})


def _choice_inputs(scale: float = 1.0):
    """The (households, places, params, u) the model passes to the choice kernel in 2020→2021."""
    from urban_sim.model import CountyModel
    from urban_sim.population import choice as ch

    seen = []
    original = ch.choose_locations

    def recorder(households, places, params, u):
        seen.append((households, places, dict(params), u.copy()))
        return original(households, places, params, u)

    ch.choose_locations = recorder
    try:
        model = CountyModel(_scenario(scale), data=_data())
        model.step()
        model.close()
    finally:
        ch.choose_locations = original
    return seen[0]


def kernel_limit(n: int, rng, bufs=None):
    """Bare numpy arithmetic of the rule on arrays of size ``n``: one uniform, the exponential
    of each alternative's utility, the log-sum of the urban nest and its exponential, the
    normalisation, the cumulative sums and the three comparisons of the inverse-CDF draw."""
    import numpy as np

    if bufs is None:
        bufs = {"v": [rng.random(n) - 0.5 for _ in range(4)], "b": [np.empty(n) for _ in range(6)],
                "u": np.empty(n)}
    v, b, u = bufs["v"], bufs["b"], bufs["u"]

    def run():
        rng.random(n, out=u)
        e = [np.exp(v[j], out=b[j]) for j in range(4)]
        s = np.add(e[1], e[2], out=b[4])
        pu = np.log(s, out=b[5])
        pu *= 0.55
        np.exp(pu, out=pu)
        tot = e[0] + pu
        tot += e[3]
        np.divide(e[0], tot, out=e[0])   # P(village)
        np.divide(pu, tot, out=pu)       # P(urban nest)
        np.divide(e[1], s, out=e[1])
        e[1] *= pu                       # P(town)
        choice = (u >= e[0]).view(np.int8)
        e[0] += e[1]
        choice += u >= e[0]
        e[0] += pu
        e[0] -= e[1]
        choice += u >= e[0]
        return choice

    return run


# --------------------------------------------------------------------------- phase lower bounds
# The bare NumPy arithmetic of each phase at the model's current size: the passes over the person
# and household columns that the phase's rule needs at least (masks selecting who is concerned,
# one uniform per individual draw, gathers of rates by age or place, the comparisons, the
# scatter-adds of counts), on scratch buffers, without the model's bookkeeping. Each reads the
# model state and writes only into its own arrays; its random numbers come from its own
# generator, so the model's random stream is untouched.


def _b_labour(m, rng):
    import numpy as np

    P = m.persons
    idx = np.flatnonzero(P.alive & (P.loc != 3) & (P.age >= 16) & (P.age <= 59))
    place = np.multiply(P.loc.take(idx), m.K, dtype=np.intp)
    place += m.households.township.take(P.hh.take(idx))
    p = m.labour.chance.take(m._place_lut.take(place))
    out = np.full(len(P), -1, np.int8)
    out[idx] = rng.random(len(idx)) < p
    return out


def _b_demography(m, rng):
    import numpy as np

    P, H = m.persons, m.households
    age = P.age + P.alive  # ageing
    alive = np.flatnonzero(P.alive)
    a = age.take(alive)
    dead = alive[rng.random(len(alive)) < m.mortality.take(np.minimum(a, 110))]  # deaths
    women = np.flatnonzero(P.female & P.alive & (age >= 15) & (age <= 49))
    mothers = women[rng.random(len(women)) < m.fertility.take(age.take(women))]  # births
    hh = P.hh.take(alive)
    oldest = np.zeros(len(H), np.int16)
    np.maximum.at(oldest, hh, a)  # oldest member of each household
    young = np.flatnonzero((a >= 22) & (a <= 35))
    cand = young[oldest.take(hh.take(young)) >= a.take(young) + 18]
    leavers = cand[rng.random(len(cand)) < 0.02]
    pres = np.zeros(4 * len(H) + 1, bool)  # households with a member at their base
    key = np.multiply(P.hh, 4, dtype=np.intp)
    key += P.loc
    pres[key] = True
    return dead, mothers, leavers, pres


def _b_perceive(m, rng):
    import numpy as np

    P = m.persons
    away = np.flatnonzero(P.alive & (P.loc != 0))
    key = np.multiply(m.households.village.take(P.hh.take(away)), 4, dtype=np.intp)
    key += P.loc.take(away)
    return np.bincount(key, minlength=4 * len(m.data.villages))


def _b_choice(m, rng, limit={}):
    import numpy as np

    P, H = m.persons, m.households
    at = P.loc == H.base.take(P.hh)
    at &= P.alive
    n_at = np.bincount(P.hh[at], minlength=len(H))  # members at the base of every household
    dec = np.flatnonzero(n_at)
    n = len(dec)
    if limit.get("n") != n:
        limit.clear()
        limit.update(n=n, run=kernel_limit(n, rng))
    return limit["run"]()


def _b_capacity(m, rng):
    import numpy as np

    P, H = m.persons, m.households
    at = np.flatnonzero(P.alive & (P.loc == H.base.take(P.hh)))
    u = rng.random(len(at))  # one uniform per person at a base (elderly staying behind)
    k = max(len(at) // 100, 1)  # movers: about 1 % of them
    order = np.lexsort((rng.random(k), rng.integers(0, m.K, k)))  # the lottery's random order
    loc = P.loc.copy()
    loc[at[:k]] = 2
    return u, order, loc


def _b_return(m, rng):
    import numpy as np

    P, H = m.persons, m.households
    out = np.flatnonzero(P.alive & (P.loc == 3))
    care = np.zeros(len(H), bool)
    care[P.hh[P.alive & (P.loc != 3) & (P.age >= 75)]] = True
    hh = P.hh.take(out)
    hazard = np.exp(0.5 * (P.age.take(out) >= 45) + 0.5 * care.take(hh))
    back = rng.random(len(out)) < hazard * 0.01
    u = rng.random(len(H))
    return back, u


def _b_land(m, rng):
    import numpy as np

    P, H = m.persons, m.households
    farming = np.zeros(len(H), bool)
    farming[P.hh[P.alive & (P.loc == 0) & (P.age >= 16) & (P.age <= 64)]] = True
    cand = np.flatnonzero(H.land_tie & ~H.land_rented & ~farming)
    rented = cand[rng.random(len(cand)) < 0.05]
    years = np.minimum(H.years_at_base + 1, 1000)
    train = np.flatnonzero(P.alive & ~P.trained & (P.loc != 3) & (P.age >= 16) & (P.age <= 45))
    return rented, years, train


def _b_services(m, rng):
    import numpy as np

    from urban_sim.model.tally import AGE_CLASS

    P, H, K = m.persons, m.households, m.K
    key = np.multiply(P.loc, K, dtype=np.intp)  # persons by place and age class
    key += H.township.take(P.hh)
    key *= 6
    key += AGE_CLASS.take(P.age)
    counts = np.bincount(key[P.alive], minlength=24 * K)
    pres = np.zeros(4 * len(H), bool)  # households present at each location
    hk = np.multiply(P.hh, 4, dtype=np.intp)
    hk += P.loc
    pres[hk] = True
    return counts, np.bincount(np.flatnonzero(pres) & 3, minlength=4)


BOUNDS = {"labour_market": _b_labour, "demography": _b_demography, "perceive_places": _b_perceive,
          "location_choice": _b_choice, "capacity_allocation": _b_capacity,
          "return_migration": _b_return, "land_and_institutions": _b_land,
          "services_and_indicators": _b_services}
"""Lower bound of every array phase. ``exogenous_inputs`` and ``government_investment`` work on
a few dozen scalars and programmes (no per-person arrays) and have none."""


# --------------------------------------------------------------------------- children


def child_gate(n_small: int) -> dict:
    """Equivalence gate: plain-Mesa reference vs numpy kernel on ``n_small`` households."""
    import numpy as np

    from mesa_reference import ChoiceModel
    from urban_sim.population.choice import choose_locations

    households, places, params, _ = _choice_inputs(0.05)
    rng = np.random.default_rng(2024)
    idx = np.sort(rng.choice(len(households), size=min(n_small, len(households)), replace=False))
    small = households.subset(idx)
    out = {"n_households": int(len(idx)), "years": 3}
    tallies_ok, same = True, 0
    ref = ChoiceModel(small, places, params)
    for _ in range(out["years"]):  # three independent streams of uniforms
        u = rng.random(len(idx))
        ours = choose_locations(small, places, params, u)
        theirs = ref.choose(u)
        tallies_ok &= bool(np.array_equal(np.bincount(ours, minlength=4), np.bincount(theirs, minlength=4)))
        same += int((ours == theirs).sum())
    ref.close()
    out.update(identical_tallies=tallies_ok, identical_choices=same,
               household_steps=out["years"] * len(idx))
    return out


def _timed_run(scale: float, bounds: bool, phases: bool = True) -> dict:
    """One 2020→2035 run of the baseline; per phase our time (unless not ``phases``: the
    timers cost ≈ 1.5 µs a phase and year) and, when ``bounds``, the time of the phase's lower
    bound (:data:`BOUNDS`) measured right after it on the same state."""
    import numpy as np

    from urban_sim.model import CountyModel
    from urban_sim.model.county import PHASES

    data = _data()
    brng = np.random.default_rng(99)
    sc = _scenario(scale)
    c0, t0 = time.process_time(), time.perf_counter()
    model = CountyModel(sc, data=data)
    t_init = time.perf_counter() - t0
    c_init = time.process_time() - c0
    ours, bound = dict.fromkeys(PHASES, 0.0), dict.fromkeys(BOUNDS, 0.0)
    ours_cpu, bound_cpu = dict.fromkeys(PHASES, 0.0), dict.fromkeys(BOUNDS, 0.0)
    for name in PHASES if phases or bounds else ():
        fn = getattr(model, name)

        def timed(fn=fn, name=name):
            s, c = time.perf_counter(), time.thread_time()
            fn()
            ours[name] += time.perf_counter() - s
            ours_cpu[name] += time.thread_time() - c
            if bounds and name in BOUNDS:
                s, c = time.perf_counter(), time.thread_time()
                BOUNDS[name](model, brng)
                bound[name] += time.perf_counter() - s
                bound_cpu[name] += time.thread_time() - c

        setattr(model, name, timed)
    steps = hh_steps = 0
    while model.year < sc.end_year:
        hh_steps += len(model.households)
        model.step()
        steps += 1
    model.timeseries()
    wall = time.perf_counter() - t0 - (sum(bound.values()) if bounds else 0.0)
    cpu = time.process_time() - c0 - (sum(bound_cpu.values()) if bounds else 0.0)
    model.close()
    return {"scale": scale, "years": steps, "wall_s": wall, "init_s": t_init, "cpu_s": cpu,
            "init_cpu_s": c_init,
            "household_steps": hh_steps, "ours": ours, "bound": bound, "ours_cpu": ours_cpu,
            "bound_cpu": bound_cpu}


def child_full_run(scale: float, repeats: int, bounds: bool) -> dict:
    """``repeats`` runs 2020→2035 of the baseline in this process (the first one also warms up
    imports and caches); the best of each measure. With ``bounds``, every array phase is timed
    side by side with its lower bound, and the ratio is reported."""
    # warm-up at the measured scale: imports, data, allocator, and the code paths of that size
    # (e.g. the land phase's NumPy uniforms above FUSED_MAX_PERSONS, whose kernel a smaller
    # warm-up left to be loaded inside the first timed run: its CPU, summed over the runs for
    # the ratio to the bound, counted it; land 2.19 instead of ≈ 0.7 in session 9)
    _timed_run(scale, False)
    # the runs for cost growth (without bounds) are not timed phase by phase
    runs = [_timed_run(scale, bounds, phases=bounds) for _ in range(repeats)]
    best = lambda key: min(r[key] for r in runs)  # noqa: E731
    wall, init = best("wall_s"), best("init_s")
    steps_s = min(r["wall_s"] - r["init_s"] for r in runs)
    hh = runs[0]["household_steps"]
    out = {
        "scale": scale, "years": runs[0]["years"], "repeats": repeats,
        "wall_s": round(wall, 3), "init_s": round(init, 3), "step_s": round(steps_s, 3),
        "cpu_s": round(best("cpu_s"), 3), "init_cpu_s": round(best("init_cpu_s"), 3),
        "step_cpu_s": round(min(r["cpu_s"] - r["init_cpu_s"] for r in runs), 3),
        "household_steps": hh,
        "ns_per_household_step": round(wall / hh * 1e9, 1),
        "cpu_ns_per_household_step": round(best("cpu_s") / hh * 1e9, 1),
        "step_ns_per_household_step": round(steps_s / hh * 1e9, 1),
        "peak_rss_mb": round(_peak_mb(), 1),
        "wall_s_all": [round(r["wall_s"], 3) for r in runs],
    }
    if bounds:
        ours = {k: min(r["ours"][k] for r in runs) for k in runs[0]["ours"]}
        out["phase_share"] = {k: round(v / max(sum(ours.values()), 1e-9), 3) for k, v in ours.items()}
        # ratio of the CPU times of the phase and its bound (run on the same state, moments
        # apart) summed over all repeats: CPU time, unlike wall time, does not count the time
        # the process waits for a core on a busy machine
        out["phases"] = {}
        for k in ours:
            o_ms = ours[k] / runs[0]["years"] * 1e3
            if k not in BOUNDS:
                out["phases"][k] = {"ours_ms_per_year": round(o_ms, 3)}
                continue
            o_cpu = sum(r["ours_cpu"][k] for r in runs)
            b_cpu = sum(r["bound_cpu"][k] for r in runs)
            b_ms = min(r["bound"][k] for r in runs) / runs[0]["years"] * 1e3
            out["phases"][k] = {"ours_ms_per_year": round(o_ms, 3),
                                "bound_ms_per_year": round(b_ms, 3),
                                "ours_cpu_ms_per_year": round(o_cpu / repeats / runs[0]["years"] * 1e3, 3),
                                "bound_cpu_ms_per_year": round(b_cpu / repeats / runs[0]["years"] * 1e3, 3),
                                "ratio_to_lower_bound": round(o_cpu / max(b_cpu, 1e-12), 2)}
    return out


def child_choice(repeats: int, mesa_sample: int | None, mesa_repeats: int) -> dict:
    """Location-choice phase alone: ours, plain Mesa and the kernel limit, same population."""
    import numpy as np

    from mesa_reference import ChoiceModel
    from urban_sim.population.choice import choose_locations

    households, places, params, u0 = _choice_inputs(1.0)
    n = len(households)
    rng = np.random.default_rng(7)
    limit = kernel_limit(n, rng)

    def ours():
        return choose_locations(households, places, params, rng.random(n))

    t_ours, t_limit = [], []
    for _ in range(3):  # warm-up
        ours(), limit()
    for _ in range(repeats):  # interleaved, so that both see the same machine state
        s = time.thread_time(); ours(); t_ours.append(time.thread_time() - s)
        s = time.thread_time(); limit(); t_limit.append(time.thread_time() - s)
    idx = (np.arange(n) if mesa_sample is None or mesa_sample >= n
           else np.sort(rng.choice(n, size=mesa_sample, replace=False)))
    sample = households.subset(idx)
    s = time.perf_counter()
    ref = ChoiceModel(sample, places, params)
    t_build = time.perf_counter() - s
    t_mesa, same = [], 0
    for _ in range(mesa_repeats):
        u = rng.random(len(idx))
        s = time.thread_time(); theirs = ref.choose(u); t_mesa.append(time.thread_time() - s)
        same += int((theirs == choose_locations(sample, places, params, u)).sum())
    ref.close()
    ns = lambda t, k: float(np.min(t)) / k * 1e9  # noqa: E731 - best of the repeats
    med = lambda t, k: float(np.median(t)) / k * 1e9  # noqa: E731
    ours_ns, limit_ns, mesa_ns = ns(t_ours, n), ns(t_limit, n), ns(t_mesa, len(idx))
    return {
        "n_households": n, "repeats": repeats,
        "ours_ns_per_household_step": round(ours_ns, 2),
        "ours_ns_median": round(med(t_ours, n), 2),
        "ours_household_steps_per_s": round(1e9 / ours_ns),
        "ours_ms_per_step": round(ours_ns * n / 1e6, 2),
        "mesa_n_households": int(len(idx)), "mesa_repeats": mesa_repeats,
        "mesa_build_s": round(t_build, 3),
        "mesa_ns_per_household_step": round(mesa_ns, 1),
        "mesa_household_steps_per_s": round(1e9 / mesa_ns),
        "mesa_identical_choices": same, "mesa_household_steps": mesa_repeats * len(idx),
        "limit_ns_per_household_step": round(limit_ns, 2),
        "limit_ns_median": round(med(t_limit, n), 2),
        "speedup_vs_mesa": round(mesa_ns / ours_ns, 1),
        "ratio_to_kernel_limit": round(ours_ns / limit_ns, 2),
    }


def child_memory(warmup: int, n_runs: int, scale: float, release: bool) -> dict:
    """RSS over ``warmup + n_runs`` consecutive ``simulate`` calls in this process; the growth
    over the last ``n_runs`` (the first runs also warm up the allocators and caches)."""
    import numpy as np

    from urban_sim.runs.single import simulate
    from urban_sim.model import CountyModel

    if not release:
        CountyModel.close = lambda self: None  # what a worker without the Mesa workaround does
    data, sc = _data(), _scenario(scale)
    rss = []
    for i in range(warmup + n_runs):
        simulate(sc, np.random.SeedSequence(i), data=data)
        rss.append(_rss_mb())
    first, mid, last = rss[0], rss[warmup - 1], rss[-1]
    return {"warmup_runs": warmup, "runs": n_runs, "scale": scale, "release": release,
            "rss_after_first_run_mb": round(first, 1), "rss_after_warmup_mb": round(mid, 1),
            "rss_after_last_run_mb": round(last, 1), "growth_warmup_mb": round(mid - first, 1),
            "growth_mb": round(last - mid, 1), "growth_mb_per_run": round((last - mid) / n_runs, 3)}


def _one_run(item: tuple[float, int]) -> tuple[int, float]:
    """One 2020→2035 run (model construction included) in a worker, as the ensembles run it:
    the tables are read once per worker process (``load_county_cached``; a module global of this
    script would not do for Dask, which ships a function of ``__main__`` by value with fresh
    globals). Returns the number of timeseries rows and the CPU time of the run."""
    import numpy as np

    from urban_sim.runs.single import simulate

    scale, seed = item
    c = time.thread_time()
    # the scenario read in every run, as before (with Dask the function arrives with fresh
    # globals: a cache would work for one engine and not the other)
    n = len(simulate(_scenario.__wrapped__(scale), np.random.SeedSequence(seed)))
    return n, time.thread_time() - c


def child_throughput(scale: float, n_runs: int, workers: int, engine: str = "processes") -> dict:
    """Runs per hour with ``workers`` workers of ``engine`` (``processes`` or ``dask``), after
    the workers have started and done one small run each (reading the tables)."""
    from urban_sim.runs.executors import make_executor

    s = time.perf_counter()
    with make_executor(engine, workers=workers) as ex:
        # start the workers: read the tables, load the compiled kernels (≈ 1 s in a fresh
        # process; a worker's first task holds it, so the others take the rest of the warm-up)
        warm = ex.map(_one_run, [(0.01, 10**6 + i) for i in range(4 * workers)])
        assert all(isinstance(o, tuple) and o[0] > 0 for o in warm), warm
        start_s = time.perf_counter() - s
        s = time.perf_counter()
        out = ex.map(_one_run, [(scale, i) for i in range(n_runs)])
        wall = time.perf_counter() - s
    assert all(isinstance(o, tuple) and o[0] > 0 for o in out), out
    return {"engine": engine, "scale": scale, "workers": workers, "runs": n_runs,
            "wall_s": round(wall, 2), "startup_s": round(start_s, 2),
            "cpu_s_per_run": round(sum(o[1] for o in out) / n_runs, 3),
            "s_per_run_wall": round(wall / n_runs, 3), "runs_per_hour": round(n_runs / wall * 3600)}


def child_dask(scale: float, n_runs: int, workers: int, rounds: int) -> dict:
    """Dask ``LocalCluster`` against local worker processes, same runs, ``rounds`` alternating
    rounds; the best round of each engine."""
    res = {"processes": [], "dask": []}
    for _ in range(rounds):
        for engine in res:
            res[engine].append(child_throughput(scale, n_runs, workers, engine))
    best = {e: min(r, key=lambda x: x["wall_s"]) for e, r in res.items()}
    return {"scale": scale, "runs": n_runs, "workers": workers, "rounds": rounds,
            "processes_wall_s": best["processes"]["wall_s"], "dask_wall_s": best["dask"]["wall_s"],
            "processes_wall_s_all": [r["wall_s"] for r in res["processes"]],
            "dask_wall_s_all": [r["wall_s"] for r in res["dask"]],
            "dask_startup_s": best["dask"]["startup_s"],
            "processes_startup_s": best["processes"]["startup_s"],
            "ratio_to_processes": round(best["dask"]["wall_s"] / best["processes"]["wall_s"], 3),
            # CPU time per run inside the workers: what a Dask worker costs more than a local
            # process, without the wait for a core on a busy machine
            "dask_cpu_s_per_run": min(r["cpu_s_per_run"] for r in res["dask"]),
            "processes_cpu_s_per_run": min(r["cpu_s_per_run"] for r in res["processes"]),
            "cpu_ratio_to_processes": round(min(r["cpu_s_per_run"] for r in res["dask"])
                                            / min(r["cpu_s_per_run"] for r in res["processes"]), 3)}


def _version_run(model_cls, scenario, data) -> dict:
    """One 2020→2035 run of any version's model, timed as :func:`_timed_run` without phase
    timers: wall from building the model to the collected timeseries, initialisation, CPU."""
    c0, t0 = time.process_time(), time.perf_counter()
    model = model_cls(scenario, data=data)
    t_init = time.perf_counter() - t0
    hh_steps = 0
    while model.year < scenario.end_year:
        hh_steps += len(model.households)
        model.step()
    model.timeseries()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    getattr(model, "close", lambda: None)()  # not in every version
    return {"wall_s": wall, "init_s": t_init, "cpu_s": cpu, "household_steps": hh_steps}


def child_reference(code: str, src: str, repeats_1: int, repeats_01: int) -> dict:
    """Full-scale and scale-0.1 runs 2020→2035 of the ``urban_sim`` found on ``PYTHONPATH``,
    which must be the one under ``src`` (the current checkout's or a reference commit's): a
    warm-up run at each scale, then the best of ``repeats_1`` (scale 1) and ``repeats_01``
    (scale 0.1) runs. Only the API every version since issue 12 has (``CountyModel(scenario,
    data=...)``, ``step``, ``year``, ``households``, ``timeseries``; ``close`` when present);
    each version reads its own shipped baseline scenario and tables."""
    import importlib

    import urban_sim

    pkg = Path(urban_sim.__file__).resolve().parent
    if Path(src).resolve() not in pkg.parents:
        raise RuntimeError(f"urban_sim imported from {pkg}, not from {src}")
    model_mod = importlib.import_module("urban_sim.model")
    model_cls = getattr(model_mod, "CountyModel", None) or importlib.import_module(
        "urban_sim.model.county").CountyModel
    data_mod = importlib.import_module("urban_sim.data")
    load_county = getattr(data_mod, "load_county", None) or importlib.import_module(
        "urban_sim.data.tables").load_county
    from urban_sim.config import load_scenario

    yaml = pkg / "configs" / "baseline.yaml"
    data = load_county()
    out: dict = {"code": code, "urban_sim": str(pkg)}
    for key, scale, repeats in (("scale_1", 1.0, repeats_1), ("scale_0.1", 0.1, repeats_01)):
        sc = load_scenario(yaml if yaml.exists() else "baseline", {"scale": scale})
        _version_run(model_cls, sc, data)  # warm-up at the measured scale
        runs = [_version_run(model_cls, sc, data) for _ in range(repeats)]
        out[key] = {"repeats": repeats, "household_steps": runs[0]["household_steps"],
                    **{k: round(min(r[k] for r in runs), 4) for k in ("wall_s", "init_s", "cpu_s")},
                    "step_s": round(min(r["wall_s"] - r["init_s"] for r in runs), 4)}
    return out


CHILDREN = {"gate": child_gate, "full": child_full_run, "choice": child_choice,
            "memory": child_memory, "throughput": child_throughput, "dask": child_dask,
            "reference": child_reference}


LOAD_AT_STEP: dict[str, float] = {}
_CACHE: list = []


def _numba_cache() -> str:
    """Scratch folder for numba's compiled kernels, shared by every step of this benchmark run
    (compiled once by the first step's warm-up run; nothing is written into the checkout)."""
    import tempfile

    if not _CACHE:
        _CACHE.append(tempfile.TemporaryDirectory(prefix="urban_sim_numba_"))
    return _CACHE[0].name


def _in_child(name: str, *args, pythonpath: str | None = None) -> dict:
    """Run one step in a fresh child process, in a scratch directory (nothing is written into
    the checkout: no bytecode, no Dask scratch space); ``pythonpath`` replaces the inherited
    ``PYTHONPATH`` (the step ``reference``: the code to measure)."""
    import tempfile

    LOAD_AT_STEP[f"{name} {args[0] if args else ''}".strip()] = _load()
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONDONTWRITEBYTECODE="1", NUMBA_CACHE_DIR=_numba_cache())
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    elif env.get("PYTHONPATH"):  # the child runs elsewhere: make relative entries absolute
        env["PYTHONPATH"] = os.pathsep.join(str(Path(p).resolve()) for p in env["PYTHONPATH"].split(os.pathsep))
    with tempfile.TemporaryDirectory(prefix="urban_sim_bench_") as tmp:
        proc = subprocess.run([sys.executable, "-B", __file__, "--child", json.dumps([name, *args])],
                              capture_output=True, text=True, env=env, cwd=tmp)
    if proc.returncode:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"benchmark step {name} failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _best_round(rounds: int, name: str, *args) -> dict:
    """The best of ``rounds`` runs of a throughput step, each in a fresh child process (as every
    other timing here is a best of several), with every round's result kept: on this shared
    virtual machine two busy workers slow each other by 0–35 % from one minute to the next."""
    runs = [_in_child(name, *args) for _ in range(rounds)]
    best = max(runs, key=lambda r: r["runs_per_hour"])
    return {**best, "rounds": rounds, "runs_per_hour_all": [r["runs_per_hour"] for r in runs],
            "cpu_s_per_run_all": [r["cpu_s_per_run"] for r in runs]}


def _extract_tree(rev: str, dest: str) -> tuple[str, str | None]:
    """The tree of commit ``rev`` of this checkout's repository into ``dest`` (``git archive |
    tar -x``; the checkout and its ``.git`` are only read): ``(commit, None)``, or ``("",
    reason)`` when git is missing, the repository has no such commit or the extraction fails."""
    git = ["git", "-C", str(ROOT)]
    try:
        r = subprocess.run([*git, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
                           capture_output=True, text=True)
        if r.returncode:
            shallow = subprocess.run([*git, "rev-parse", "--is-shallow-repository"],
                                     capture_output=True, text=True).stdout.strip() == "true"
            why = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
            return "", (f"no commit {rev} in the repository of {ROOT}"
                        + (" (shallow clone)" if shallow else "") + (f": {why}" if why else ""))
        commit = r.stdout.strip()
        tree = subprocess.run([*git, "archive", commit], capture_output=True)
        if tree.returncode:
            return "", f"git archive {rev} failed: {tree.stderr.decode(errors='replace').strip()}"
        tar = subprocess.run(["tar", "-x", "-C", dest], input=tree.stdout, capture_output=True)
        if tar.returncode:
            return "", f"extracting {rev} failed: {tar.stderr.decode(errors='replace').strip()}"
    except OSError as e:  # no git or no tar
        return "", f"cannot extract {rev}: {e}"
    if not (Path(dest) / "src" / "urban_sim" / "__init__.py").is_file():
        return "", f"commit {rev} has no src/urban_sim"
    return commit, None


def _reference(rev: str, quick: bool) -> dict:
    """The current code against the code of commit ``rev`` (e.g. 4dd5b70, where issue 12 was
    filed), on this host in this benchmark: full-scale and scale-0.1 runs in alternated fresh
    child processes (reference, current, reference, current, …; 3 rounds, 2 with ``quick``), the
    best of each measure and code, their ratios (reference / current: > 1 means the current code
    is faster), and the targets of the issue as speedups against its own baseline
    (:data:`ISSUE_BASELINE`; shown, not checked). Skipped, with the reason, when the tree of
    ``rev`` cannot be extracted or a child fails."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="urban_sim_ref_") as scratch:
        commit, reason = _extract_tree(rev, scratch)
        if reason:
            return {"skipped": reason}
        srcs = {"reference": str(Path(scratch) / "src"), "current": str(ROOT / "src")}
        rounds: list[dict] = []
        for _ in range(2 if quick else 3):
            rounds.append({})
            for code, src in srcs.items():
                load = _load()
                try:
                    rounds[-1][code] = _in_child("reference", code, src, 3, 5, pythonpath=src)
                except SystemExit as e:
                    return {"skipped": f"the {code} code's child failed ({e}; reference {commit[:10]})"}
                rounds[-1][code]["load_1min_before"] = load
    best = {code: {scale: {k: min(r[code][scale][k] for r in rounds)
                           for k in ("wall_s", "init_s", "step_s", "cpu_s")}
                   | {"household_steps": rounds[0][code][scale]["household_steps"]}
                   for scale in ("scale_1", "scale_0.1")} for code in srcs}
    ref, cur = best["reference"], best["current"]
    speedup = {"step_s": ref["scale_1"]["step_s"] / cur["scale_1"]["step_s"],
               "wall_s": ref["scale_1"]["wall_s"] / cur["scale_1"]["wall_s"],
               "cpu_per_run_scale_1": ref["scale_1"]["cpu_s"] / cur["scale_1"]["cpu_s"],
               "cpu_per_run_scale_0.1": ref["scale_0.1"]["cpu_s"] / cur["scale_0.1"]["cpu_s"],
               # the model has more households since issue 12 (household formation, returns):
               # the cost of a household-year, beside that of a run
               "cpu_per_household_step_scale_1":
                   ref["scale_1"]["cpu_s"] / ref["scale_1"]["household_steps"]
                   / (cur["scale_1"]["cpu_s"] / cur["scale_1"]["household_steps"])}
    speedup = {k: round(v, 3) for k, v in speedup.items()}
    B, T = ISSUE_BASELINE, TARGETS
    issue = {}
    for key, measured in (("step_s", "step_s"), ("runs_per_hour_1", "cpu_per_run_scale_1"),
                          ("runs_per_hour_0.1", "cpu_per_run_scale_0.1")):
        need = B[key] / T[key] if key == "step_s" else T[key] / B[key]
        issue[key] = {"baseline": B[key], "target": T[key], "required_speedup": round(need, 2),
                      "speedup_key": measured, "measured_speedup": speedup[measured],
                      "met": speedup[measured] >= need}
    return {"rev": rev, "commit": commit, "rounds_n": len(rounds), "repeats": {"scale_1": 3, "scale_0.1": 5},
            "order": "reference, current, alternated; each in a fresh process",
            "rounds": rounds, "best": best, "speedup": speedup,
            "host_factor": round(ref["scale_1"]["step_s"] / B["step_s"], 3),
            "issue_baseline": issue}


# --------------------------------------------------------------------------- report


def _machine() -> dict:
    import mesa
    import numpy as np

    cpu = "n/a"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, cwd=ROOT).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--", "src", "benchmarks"],
                                    capture_output=True, text=True, cwd=ROOT).stdout.strip())
    except OSError:
        commit, dirty = "n/a", False
    return {"cpu": cpu, "cpus": os.cpu_count(), "memory_gb": round(mem_gb, 1),
            "python": platform.python_version(), "numpy": np.__version__, "mesa": mesa.__version__,
            "os": f"{platform.system()} {platform.release()}", "git_commit": commit + ("+dirty" if dirty else ""),
            **_host_speed()}


def _host_speed() -> dict:
    """What makes this host faster or slower than another, for comparing benchmarks across
    hosts (the targets are absolute): whether NumPy has its AVX-512 float64 ``exp``/``log``
    (without, they are the C library's, one element at a time), and two fixed workloads, best
    of 5: a Python loop (``sum(range(10**6))``, ms) and NumPy's ``exp`` (ns an element). The
    host of sessions 1–10 (AVX-512) ran the full-scale baseline ≈ 1.45× faster than session
    11's (AVX2): docs/performance.md, session 11."""
    import timeit

    import numpy as np

    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # NumPy < 2 or a changed private name: not reported
        features = {}
    x = np.linspace(-20.0, 0.0, 1_000_000)
    out = np.empty_like(x)
    python_ms = min(timeit.repeat("sum(range(10**6))", number=1, repeat=5)) * 1e3
    exp_ns = min(timeit.repeat(lambda: np.exp(x, out=out), number=1, repeat=5)) / x.size * 1e9
    return {"avx512f": bool(features.get("AVX512F", False)), "avx2": bool(features.get("AVX2", False)),
            "reference_python_ms": round(python_ms, 2), "reference_numpy_exp_ns": round(exp_ns, 2)}


def _flat(res: dict) -> dict:
    """The headline results under the dotted keys of issue 12."""
    f, t = res["full_run"], res["throughput"]
    return {
        "full_run.wall_s": f["wall_s"], "full_run.init_s": f["init_s"],
        "full_run.step_s": f["step_s"], "full_run.peak_rss_mb": f["peak_rss_mb"],
        "full_run.cpu_s": f["cpu_s"], "full_run.init_cpu_s": f["init_cpu_s"],
        "full_run.step_cpu_s": f["step_cpu_s"],
        "choice.ratio_to_kernel_limit": res["choice"]["ratio_to_kernel_limit"],
        "choice.speedup_vs_mesa": res["choice"]["speedup_vs_mesa"],
        "throughput.scale_0.1.runs_per_hour": t["scale_0.1"]["runs_per_hour"],
        "throughput.scale_1.runs_per_hour": t["scale_1"]["runs_per_hour"],
        "dask.ratio_to_processes": res["dask"]["ratio_to_processes"],
        "dask.cpu_ratio_to_processes": res["dask"]["cpu_ratio_to_processes"],
        "scaling.spread": res["scaling"]["spread"],
        "scaling.ns_per_household_step": res["scaling"]["ns_per_household_step"],
        **{f"scaling.ns_per_household_step.{k}": v
           for k, v in res["scaling"]["ns_per_household_step"].items()},
        **{f"phases.{k}.ratio_to_lower_bound": v["ratio_to_lower_bound"]
           for k, v in f["phases"].items() if "ratio_to_lower_bound" in v},
        **_flat_reference(res.get("reference")),
    }


def _flat_reference(ref: dict | None) -> dict:
    """``reference.*`` keys of ``--reference`` (none without it; only the reason when skipped).
    Not targets: :func:`_checks` leaves them out."""
    if ref is None:
        return {}
    if "skipped" in ref:
        return {"reference.skipped": ref["skipped"]}
    return {"reference.commit": ref["commit"],
            **{f"reference.speedup.{k}": v for k, v in ref["speedup"].items()},
            "reference.host_factor": ref["host_factor"],
            "reference.step_s": ref["best"]["reference"]["scale_1"]["step_s"],
            "reference.current_step_s": ref["best"]["current"]["scale_1"]["step_s"]}


def _checks(res: dict) -> dict[str, tuple[float, str, float]]:
    """Every target: (value, operator, target)."""
    T, flat = TARGETS, _flat(res)
    out = {
        "full_run.step_s": (flat["full_run.step_s"], "<=", T["step_s"]),
        "full_run.init_s": (flat["full_run.init_s"], "<=", T["init_s"]),
        "full_run.peak_rss_mb": (flat["full_run.peak_rss_mb"], "<=", T["peak_rss_mb"]),
        "choice.ratio_to_kernel_limit": (flat["choice.ratio_to_kernel_limit"], "<=", T["choice_ratio"]),
        "choice.speedup_vs_mesa": (flat["choice.speedup_vs_mesa"], ">=", T["speedup_vs_mesa"]),
        "throughput.scale_0.1.runs_per_hour": (flat["throughput.scale_0.1.runs_per_hour"], ">=", T["runs_per_hour_0.1"]),
        "throughput.scale_1.runs_per_hour": (flat["throughput.scale_1.runs_per_hour"], ">=", T["runs_per_hour_1"]),
        "dask.ratio_to_processes": (flat["dask.ratio_to_processes"], "<=", T["dask_ratio"]),
        "scaling.spread": (flat["scaling.spread"], "<=", T["scaling_spread"]),
    }
    for k, v in flat.items():
        if k.startswith("phases."):
            out[k] = (v, "<=", T["phase_ratio"])
    return out


def _missed(res: dict) -> list[str]:
    return [k for k, (v, op, t) in _checks(res).items() if not (v <= t if op == "<=" else v >= t)]


def _report(res: dict) -> list[str]:
    m, f, g, c = res["machine"], res["full_run"], res["gate"], res["choice"]
    load = res["load_average_1min"]
    lines = [
        "# urban_sim benchmarks", "",
        f"`python benchmarks/run.py{' --quick' if res['mode'] == 'quick' else ''}"
        f"{' --reference ' + res['reference_rev'] if res.get('reference_rev') else ''}`; {m['cpu']}, "
        f"{m['cpus']} CPUs, {m['memory_gb']} GB; Python {m['python']}, NumPy {m['numpy']}, "
        f"Mesa {m['mesa']}; {m['os']}; commit {m['git_commit']}.",
        f"Host speed: AVX-512 {'yes' if m.get('avx512f') else 'no'} (NumPy's float64 exp/log "
        f"{'vectorised' if m.get('avx512f') else 'from the C library'}); sum(range(10**6)) "
        f"{m.get('reference_python_ms', float('nan')):.1f} ms; NumPy exp "
        f"{m.get('reference_numpy_exp_ns', float('nan')):.2f} ns an element.",
        f"1-minute load average {load['start']:.2f} at the start, {load['end']:.2f} at the end"
        + (" (busy machine: absolute timings are inflated; the ratios are measured side by side)"
           if load["start"] >= QUIET_LOAD else "") + ".", "",
        f"Equivalence gate (plain Mesa vs our kernel, same uniforms, {g['n_households']:,} "
        f"households × {g['years']} draws): tallies {'identical' if g['identical_tallies'] else 'DIFFER'}, "
        f"{g['identical_choices']:,} / {g['household_steps']:,} choices identical.", "",
        "| target | value | required | |", "|---|---:|---:|---|",
    ]
    for k, (v, op, t) in _checks(res).items():
        good = v <= t if op == "<=" else v >= t
        lines.append(f"| {k} | {v:,} | {'≤' if op == '<=' else '≥'} {t:,} | {'met' if good else 'MISSED'} |")
    lines += [
        "", f"Full run, scale 1, 2020→2035, best of {f['repeats']}: wall {f['wall_s']:.3f} s "
        f"(all: {f['wall_s_all']}), initialisation {f['init_s']:.3f} s, steps {f['step_s']:.3f} s, "
        f"CPU {f['cpu_s']:.3f} s (initialisation {f['init_cpu_s']:.3f} s, steps {f['step_cpu_s']:.3f} s), "
        f"{f['ns_per_household_step']:,.0f} ns per household-step, "
        f"peak RSS {f['peak_rss_mb']:,.0f} MB.", "",
        "| phase | ours, ms per year | lower bound, ms per year | ratio | share of step time |",
        "|---|---:|---:|---:|---:|",
    ]
    for k, v in f["phases"].items():
        lines.append(f"| {k} | {v['ours_ms_per_year']:.2f} | {v.get('bound_ms_per_year', float('nan')):.2f} "
                     f"| {v.get('ratio_to_lower_bound', float('nan')):.2f} | {f['phase_share'][k]:.1%} |")
    sc, d = res["scaling"], res["dask"]
    lines += [
        "", f"Choice phase ({c['n_households']:,} deciding households, CPU time, best of {c['repeats']}): "
        f"ours {c['ours_ns_per_household_step']:.1f} ns, "
        f"kernel limit {c['limit_ns_per_household_step']:.1f} ns, plain Mesa {c['mesa_ns_per_household_step']:,.0f} ns "
        f"per household-step ({c['mesa_identical_choices']:,} / {c['mesa_household_steps']:,} choices identical).",
        "", "Scaling, ns per household-step (CPU time of the whole run / wall time of the whole run / "
        "wall time of the steps): " + ", ".join(
            f"scale {k}: {sc['cpu_ns_per_household_step'][k]:,.0f} / {v:,.0f} / "
            f"{sc['step_ns_per_household_step'][k]:,.0f}" for k, v in sc["ns_per_household_step"].items())
        + f"; spread (max / min) {sc['spread']:.2f} CPU, {sc['wall_spread']:.2f} wall.",
        "", "Throughput, 2 workers: " + ", ".join(
            f"scale {t['scale']}: {t['runs_per_hour']:,} runs/hour ({t['runs']} runs, {t['wall_s']} s; "
            f"best of {t['rounds']} rounds: {', '.join(f'{r:,}' for r in t['runs_per_hour_all'])} runs/hour, "
            f"CPU per run in the workers {t['cpu_s_per_run_all']} s)"
            for t in res["throughput"].values()) + ".",
        f"Dask LocalCluster vs local processes, {d['runs']} runs at scale {d['scale']} on "
        f"{d['workers']} workers, best of {d['rounds']} alternating rounds: {d['dask_wall_s']} s vs "
        f"{d['processes_wall_s']} s = {d['ratio_to_processes']}× (all rounds: dask {d['dask_wall_s_all']}, "
        f"processes {d['processes_wall_s_all']}; start-up {d['dask_startup_s']} s vs {d['processes_startup_s']} s, not counted); "
        f"CPU time per run inside the workers {d['dask_cpu_s_per_run']} s vs {d['processes_cpu_s_per_run']} s "
        f"= {d['cpu_ratio_to_processes']}×.",
    ]
    mem = res.get("memory")
    if mem:
        on, off = mem["with_close"], mem["without_close"]
        lines += ["", f"Memory over {on['runs']} consecutive runs in one worker (scale {on['scale']}, after "
                  f"{on['warmup_runs']} warm-up runs): {on['growth_mb']:+.1f} MB with `close()`, "
                  f"{off['growth_mb']:+.1f} MB without."]
    if "reference" in res:
        lines += _report_reference(res["reference"])
    lines += ["", f"Benchmark wall time {res['benchmark_wall_s']} s."]
    return lines


def _report_reference(r: dict) -> list[str]:
    """The ``--reference`` section: every round of both codes, the best, the speedups and the
    issue's targets as speedups against its own baseline (informational)."""
    if "skipped" in r:
        return ["", f"Reference code: skipped ({r['skipped']})."]
    rep = r["repeats"]
    lines = ["", f"## Against the reference code {r['rev']} ({r['commit'][:10]}), same host", "",
             f"Baseline 2020→2035, {r['rounds_n']} rounds of fresh child processes alternated "
             f"(reference, current, …); each: a warm-up run, then the best of {rep['scale_1']} "
             f"runs at scale 1 and of {rep['scale_0.1']} at scale 0.1 (after a warm-up there too); "
             "the 1-minute load average before each process.",
             "", "| round | code | wall s | init s | step s | CPU s | household-steps "
             "| CPU s, scale 0.1 | load |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    rows = [(str(i + 1), rnd) for i, rnd in enumerate(r["rounds"])] + [("best", r["best"])]
    for label, rnd in rows:
        for code in ("reference", "current"):
            a, b = rnd[code]["scale_1"], rnd[code]["scale_0.1"]
            lines.append(f"| {label} | {code} | {a['wall_s']:.3f} | {a['init_s']:.3f} | {a['step_s']:.3f} "
                         f"| {a['cpu_s']:.3f} | {a['household_steps']:,} | {b['cpu_s']:.4f} "
                         f"| {rnd[code].get('load_1min_before', '')} |")
    sp, hf = r["speedup"], r["host_factor"]
    hh = [r["best"][code]["scale_1"]["household_steps"] for code in ("current", "reference")]
    lines += ["", f"Speedup (reference / current, best of each): step time {sp['step_s']:.2f}×, wall "
              f"{sp['wall_s']:.2f}×, CPU per run {sp['cpu_per_run_scale_1']:.2f}× at scale 1 and "
              f"{sp['cpu_per_run_scale_0.1']:.2f}× at scale 0.1; CPU per household-step at scale 1 "
              f"{sp['cpu_per_household_step_scale_1']:.2f}×"
              + (f" (the current model has {hh[0]:,} household-steps a run, the reference {hh[1]:,})."
                 if hh[0] != hh[1] else "."),
              f"Host factor: the reference's step time here / on the issue's host = "
              f"{r['best']['reference']['scale_1']['step_s']:.3f} / {ISSUE_BASELINE['step_s']} s "
              f"= {hf:.2f} (> 1: this host, at this time, is slower); with the same speedup there, "
              f"the current step time on the issue's host would be ≈ "
              f"{ISSUE_BASELINE['step_s'] / sp['step_s']:.3f} s (not measured: the hosts differ in "
              f"more than speed, e.g. AVX-512).", "",
              "### Against the issue's own baseline on this host (informational; not in `--check`)",
              "", "| target of issue 12 | its baseline | target | speedup needed | measured speedup | |",
              "|---|---:|---:|---:|---:|---|"]
    names = {"step_s": ("full-scale step time", "s", "step time"),
             "runs_per_hour_1": ("runs/hour at scale 1, 2 workers", "", "CPU per run, scale 1 †"),
             "runs_per_hour_0.1": ("runs/hour at scale 0.1, 2 workers", "", "CPU per run, scale 0.1 †")}
    for k, v in r["issue_baseline"].items():
        name, unit, what = names[k]
        fmt = (lambda x: f"{x:g} s") if unit else (lambda x: f"{x:,.0f}")
        lines.append(f"| {name} | {fmt(v['baseline'])} | {fmt(v['target'])} | {v['required_speedup']:.2f}× "
                     f"| {v['measured_speedup']:.2f}× ({what}) | {'met' if v['met'] else 'not met'} |")
    lines += ["", "† An approximation: the issue's throughput is runs/hour of two worker processes; "
              "here the speedup of the CPU time of one run in a single process. The absolute targets "
              "above stay the issue's definition."]
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats and runs")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--json", type=Path, metavar="PATH", help="write all results as JSON to PATH")
    ap.add_argument("--md", type=Path, metavar="PATH", help="write the Markdown report to PATH")
    ap.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                    help=f"wait up to this long for the 1-minute load to fall below {QUIET_LOAD}")
    ap.add_argument("--reference", metavar="REV",
                    help="also measure the code of commit REV (e.g. 4dd5b70, where issue 12 was "
                         "filed) against the current code, alternated on this host: speedups")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        name, *rest = json.loads(args.child)
        print(json.dumps(CHILDREN[name](*rest)))
        return 0
    deadline = time.monotonic() + args.wait_quiet
    while _load() >= QUIET_LOAD and time.monotonic() < deadline:
        time.sleep(15)
    load_start = _load()
    started = time.perf_counter()
    q = args.quick
    res: dict = {"mode": "quick" if q else "full", "targets": TARGETS, "machine": _machine()}
    if args.reference:
        res["reference_rev"] = args.reference
    res["gate"] = _in_child("gate", 2000)
    if not res["gate"]["identical_tallies"]:
        print(json.dumps(res["gate"], indent=2))
        print("equivalence gate failed: plain-Mesa reference and numpy kernel disagree; no timings taken")
        return 2
    res["full_run"] = _in_child("full", 1.0, 3 if q else 5, True)
    # cost growth: the three scales in alternating rounds of fresh child processes, so that a
    # slow minute of this shared machine hits every scale rather than the one measured in it;
    # the best of each (scale 1 also from the full run above, its bounds' time subtracted).
    # Three processes a scale (the full run is scale 1's first): the cost of a run varies by
    # ±6 % from one process to the next on this virtual machine, steady within a process
    # (scale 0.1 in ten fresh processes: 125-139 ns a household-step; not ASLR, not the vCPU)
    n_rounds = 1 if q else 3
    rounds: dict[str, list] = {"1": [res["full_run"]], "0.3": [], "0.1": []}
    for i in range(n_rounds):
        for scale, repeats in ((0.1, 5), (0.3, 3 if q else 5), (1.0, 2 if q else 3)):
            if scale == 1.0 and i == n_rounds - 1 and n_rounds > 1:
                continue  # scale 1's third process is the full run
            rounds[f"{scale:g}"].append(_in_child("full", scale, repeats, False))
    scaling = {k: min(v, key=lambda r: r["cpu_ns_per_household_step"]) for k, v in rounds.items()}
    ns = {k: scaling[k]["ns_per_household_step"] for k in ("0.1", "0.3", "1")}
    cpu_ns = {k: scaling[k]["cpu_ns_per_household_step"] for k in ns}
    res["scaling"] = {"ns_per_household_step": ns, "cpu_ns_per_household_step": cpu_ns,
                      "step_ns_per_household_step": {k: scaling[k]["step_ns_per_household_step"] for k in ns},
                      # cost growth from CPU time (wall time on a busy machine mostly measures
                      # the wait for a core); wall-based spread alongside
                      "spread": round(max(cpu_ns.values()) / min(cpu_ns.values()), 3),
                      "wall_spread": round(max(ns.values()) / min(ns.values()), 3),
                      "runs": {k: v for k, v in scaling.items() if k != "1"},
                      "cpu_ns_per_household_step_all": {
                          k: [r["cpu_ns_per_household_step"] for r in v] for k, v in rounds.items()}}
    res["choice"] = _in_child("choice", 15 if q else 40, 20_000 if q else None, 1 if q else 3)
    if not q:
        res["memory"] = {"with_close": _in_child("memory", 100, 50, 0.02, True),
                         "without_close": _in_child("memory", 100, 50, 0.02, False)}
    res["throughput"] = {"scale_1": _best_round(2 if q else 3, "throughput", 1.0, 6 if q else 16, 2),
                         "scale_0.1": _best_round(2 if q else 3, "throughput", 0.1, 40 if q else 200, 2)}
    res["dask"] = _in_child("dask", 1.0, 4 if q else 8, 2, 2 if q else 3)
    if args.reference:
        res["reference"] = _reference(args.reference, q)
    res["load_average_1min"] = {"start": load_start, "end": _load(), "before_step": LOAD_AT_STEP}
    res["benchmark_wall_s"] = round(time.perf_counter() - started, 1)
    res["results"] = _flat(res)
    res.update(res["results"])  # the dotted keys of issue 12 also at the top level
    res["missed_targets"] = missed = _missed(res)
    lines = _report(res)
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.md:
        args.md.write_text(text, encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    if missed:
        print("missed targets: " + ", ".join(missed))
    return 1 if (args.check and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
