"""Benchmarks of urban_sim, side by side in one run (``python benchmarks/run.py [--quick] [--check]``).

Every measurement runs in a fresh child process (so peak memory is that of the measurement
alone), one after the other, and the results are written to ``benchmarks/results.md`` and
``benchmarks/results.json``:

1. equivalence gate (before any timing): the plain-Mesa reference of the location-choice rule
   (``mesa_reference.py``) and the model's numpy kernel
   (:func:`urban_sim.population.choice.choose_locations`), fed the same uniforms, must give
   identical choice tallies on a small population, or the run stops with exit code 2;
2. full model, full scale (1:1), 2020→2035: wall time, time per household-step, peak RSS,
   share of step time by phase;
3. the location-choice phase alone on the full-scale 2020 population (the inputs the model
   itself passes to the kernel in its first step): ours, the plain-Mesa reference and the
   kernel limit (bare numpy arithmetic of the rule on arrays of the same size);
4. memory growth over consecutive runs in one worker, with and without ``CountyModel.close``;
5. experiment throughput: runs per hour with 2 worker processes at scale 1 and 0.1.

``--quick`` keeps full scale but uses fewer repeats, a 20,000-household sample for the Mesa
reference and fewer runs for memory and throughput (under a minute). ``--check`` exits 1 when
a target is missed. Timings are only meaningful on a quiet machine: the 1-minute load average
is recorded, and ``--wait-quiet SECONDS`` waits (up to that long) for it to fall below 1.2.
"""

from __future__ import annotations

import argparse
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
    "full_run_wall_s": 3.0,            # ≤
    "full_run_peak_mb": 1536.0,        # ≤
    "choice_speedup_vs_mesa": 20.0,    # ≥
    "choice_ratio_to_kernel_limit": 3.0,  # ≤
    "runs_per_hour_scale_0.1": 20000.0,   # ≥
}
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


def _scenario(scale: float):
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


def child_full_run(scale: float) -> dict:
    """One 2020→2035 run of the baseline in this process; phase timings included."""
    from urban_sim.model import CountyModel
    from urban_sim.model.county import PHASES

    data = _data()
    t0 = time.perf_counter()
    sc = _scenario(scale)
    model = CountyModel(sc, data=data)
    t_init = time.perf_counter() - t0
    phase_time = dict.fromkeys(PHASES, 0.0)
    for name in PHASES:
        fn = getattr(model, name)

        def timed(fn=fn, name=name):
            s = time.perf_counter()
            fn()
            phase_time[name] += time.perf_counter() - s

        setattr(model, name, timed)
    steps = hh_steps = 0
    while model.year < sc.end_year:
        hh_steps += len(model.households)
        model.step()
        steps += 1
    model.timeseries()
    wall = time.perf_counter() - t0
    model.close()
    return {
        "scale": scale, "years": steps, "wall_s": round(wall, 3), "init_s": round(t_init, 3),
        "household_steps": hh_steps,
        "ns_per_household_step": round(wall / hh_steps * 1e9, 1),
        "peak_rss_mb": round(_peak_mb(), 1),
        "phase_share": {k: round(v / max(wall - t_init, 1e-9), 3) for k, v in phase_time.items()},
    }


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
        s = time.perf_counter(); ours(); t_ours.append(time.perf_counter() - s)
        s = time.perf_counter(); limit(); t_limit.append(time.perf_counter() - s)
    idx = (np.arange(n) if mesa_sample is None or mesa_sample >= n
           else np.sort(rng.choice(n, size=mesa_sample, replace=False)))
    sample = households.subset(idx)
    s = time.perf_counter()
    ref = ChoiceModel(sample, places, params)
    t_build = time.perf_counter() - s
    t_mesa, same = [], 0
    for _ in range(mesa_repeats):
        u = rng.random(len(idx))
        s = time.perf_counter(); theirs = ref.choose(u); t_mesa.append(time.perf_counter() - s)
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


def _one_run(item: tuple[float, int]) -> int:
    """One 2020→2035 run (model construction included) in a worker; data read once per worker."""
    import numpy as np

    from urban_sim.runs.single import simulate

    scale, seed = item
    return len(simulate(_scenario(scale), np.random.SeedSequence(seed), data=_data()))


def child_throughput(scale: float, n_runs: int, workers: int) -> dict:
    """Runs per hour with ``workers`` worker processes (after one warm-up run per worker)."""
    from urban_sim.runs.executors import make_executor

    with make_executor("processes", workers=workers) as ex:
        ex.map(_one_run, [(0.01, -1 - i) for i in range(workers)])  # start workers, read data
        s = time.perf_counter()
        out = ex.map(_one_run, [(scale, i) for i in range(n_runs)])
        wall = time.perf_counter() - s
    assert all(isinstance(o, int) and o > 0 for o in out), out
    return {"scale": scale, "workers": workers, "runs": n_runs, "wall_s": round(wall, 2),
            "s_per_run_wall": round(wall / n_runs, 3), "runs_per_hour": round(n_runs / wall * 3600)}


CHILDREN = {"gate": child_gate, "full": child_full_run, "choice": child_choice,
            "memory": child_memory, "throughput": child_throughput}


LOAD_AT_STEP: dict[str, float] = {}


def _in_child(name: str, *args) -> dict:
    LOAD_AT_STEP.setdefault(name, _load())
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps([name, *args])],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"benchmark step {name} failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


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
            "os": f"{platform.system()} {platform.release()}", "git_commit": commit + ("+dirty" if dirty else "")}


def _table(res: dict) -> list[str]:
    g, f, c = res["gate"], res["full_run"], res["choice"]
    mem_on, mem_off = res["memory"]["with_close"], res["memory"]["without_close"]
    t1, t01 = res["throughput"]["scale_1"], res["throughput"]["scale_0.1"]
    T = TARGETS
    ok = lambda b: "✅" if b else "❌"  # noqa: E731
    return [
        "| measure | value | target |", "|---|---|---|",
        f"| equivalence gate: plain Mesa vs ours, same uniforms, {g['n_households']:,} households × {g['years']} draws | "
        f"tallies {'identical' if g['identical_tallies'] else 'DIFFER'}; {g['identical_choices']:,} / {g['household_steps']:,} choices identical | identical {ok(g['identical_tallies'])} |",
        f"| full model, scale 1 ({f['household_steps'] // f['years']:,} households), 2020→2035: wall time | {f['wall_s']:.2f} s | ≤ {T['full_run_wall_s']:.0f} s {ok(f['wall_s'] <= T['full_run_wall_s'])} |",
        f"| … of which initialisation (synthetic population) | {f['init_s']:.2f} s | |",
        f"| … time per household-step (wall / household-years) | {f['ns_per_household_step']:,.0f} ns | |",
        f"| … peak memory (RSS of the run's process) | {f['peak_rss_mb']:,.0f} MB | ≤ {T['full_run_peak_mb']:,.0f} MB {ok(f['peak_rss_mb'] <= T['full_run_peak_mb'])} |",
        f"| location-choice phase, ours ({c['n_households']:,} deciding households, 2020 population) | {c['ours_ns_per_household_step']:.1f} ns per household-step = {c['ours_household_steps_per_s'] / 1e6:.1f} M household-steps/s ({c['ours_ms_per_step']:.1f} ms per year) | |",
        f"| same rule, plain Mesa (one `mesa.Agent` per household, Python `step()`; {c['mesa_n_households']:,} households) | {c['mesa_ns_per_household_step']:,.0f} ns per household-step = {c['mesa_household_steps_per_s'] / 1e3:,.0f} k household-steps/s; {c['mesa_identical_choices']:,} / {c['mesa_household_steps']:,} choices identical to ours | |",
        f"| speed-up of ours over plain Mesa | {c['speedup_vs_mesa']:,.0f}× | ≥ {T['choice_speedup_vs_mesa']:.0f}× {ok(c['speedup_vs_mesa'] >= T['choice_speedup_vs_mesa'])} |",
        f"| kernel limit: bare numpy arithmetic of the rule, same size | {c['limit_ns_per_household_step']:.1f} ns per household-step | |",
        f"| ours / kernel limit | {c['ratio_to_kernel_limit']:.2f}× | ≤ {T['choice_ratio_to_kernel_limit']:.0f}× {ok(c['ratio_to_kernel_limit'] <= T['choice_ratio_to_kernel_limit'])} |",
        f"| memory growth over {mem_on['runs']} consecutive runs in one worker (scale {mem_on['scale']}), after {mem_on['warmup_runs']} warm-up runs, with `close()` | {mem_on['growth_mb']:+.1f} MB ({mem_on['growth_mb_per_run']:+.3f} MB per run; RSS {mem_on['rss_after_warmup_mb']:.0f} → {mem_on['rss_after_last_run_mb']:.0f} MB; {mem_on['growth_warmup_mb']:+.1f} MB during the warm-up, levelling off) | ≈ 0 |",
        f"| … the same without `close()` (Mesa 3.3 `Agent._ids` keeps every model alive) | {mem_off['growth_mb']:+.1f} MB ({mem_off['growth_mb_per_run']:+.3f} MB per run; {mem_off['growth_warmup_mb']:+.1f} MB during the warm-up) | |",
        f"| throughput, 2 workers, scale 1, 2020→2035 ({t1['runs']} runs) | {t1['runs_per_hour']:,} runs/hour ({t1['s_per_run_wall']:.2f} s per run) | |",
        f"| throughput, 2 workers, scale 0.1, 2020→2035 ({t01['runs']} runs) | {t01['runs_per_hour']:,} runs/hour ({t01['s_per_run_wall'] * 1000:.0f} ms per run) | ≥ {T['runs_per_hour_scale_0.1']:,.0f} {ok(t01['runs_per_hour'] >= T['runs_per_hour_scale_0.1'])} |",
    ]


def _missed(res: dict) -> list[str]:
    f, c, t = res["full_run"], res["choice"], res["throughput"]["scale_0.1"]
    checks = {
        "full_run_wall_s": f["wall_s"] <= TARGETS["full_run_wall_s"],
        "full_run_peak_mb": f["peak_rss_mb"] <= TARGETS["full_run_peak_mb"],
        "choice_speedup_vs_mesa": c["speedup_vs_mesa"] >= TARGETS["choice_speedup_vs_mesa"],
        "choice_ratio_to_kernel_limit": c["ratio_to_kernel_limit"] <= TARGETS["choice_ratio_to_kernel_limit"],
        "runs_per_hour_scale_0.1": t["runs_per_hour"] >= TARGETS["runs_per_hour_scale_0.1"],
    }
    return [k for k, good in checks.items() if not good]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats and runs (under a minute)")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                    help=f"wait up to this long for the 1-minute load to fall below {QUIET_LOAD}")
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
    res["gate"] = _in_child("gate", 2000)
    if not res["gate"]["identical_tallies"]:
        print(json.dumps(res["gate"], indent=2))
        print("equivalence gate failed: plain-Mesa reference and numpy kernel disagree; no timings taken")
        return 2
    res["full_run"] = _in_child("full", 1.0)
    res["choice"] = _in_child("choice", 15 if q else 40, 20_000 if q else None, 1 if q else 3)
    warm, n_mem = (5, 10) if q else (100, 50)
    res["memory"] = {"with_close": _in_child("memory", warm, n_mem, 0.02, True),
                     "without_close": _in_child("memory", warm, n_mem, 0.02, False)}
    res["throughput"] = {"scale_1": _in_child("throughput", 1.0, 4 if q else 12, 2),
                         "scale_0.1": _in_child("throughput", 0.1, 20 if q else 100, 2)}
    res["load_average_1min"] = {"start": load_start, "end": _load(), "before_step": LOAD_AT_STEP}
    res["benchmark_wall_s"] = round(time.perf_counter() - started, 1)
    m = res["machine"]
    f = res["full_run"]
    lines = [
        "# urban_sim benchmarks", "",
        f"`python benchmarks/run.py{' --quick' if q else ''}`; {m['cpu']}, {m['cpus']} CPUs, "
        f"{m['memory_gb']} GB; Python {m['python']}, NumPy {m['numpy']}, Mesa {m['mesa']}; "
        f"{m['os']}; commit {m['git_commit']}.",
        f"1-minute load average {res['load_average_1min']['start']:.2f} at the start, "
        f"{res['load_average_1min']['end']:.2f} at the end (before each step: "
        + ", ".join(f"{k} {v:.2f}" for k, v in LOAD_AT_STEP.items()) + "; the last steps run 2 workers)"
        + (" (timings on a busy machine: not valid)" if load_start >= QUIET_LOAD else "") + ".", "",
        *_table(res), "",
        "Share of step time by phase (full run, scale 1):", "", "| phase | share |", "|---|---|",
        *[f"| {k} | {v:.1%} |" for k, v in f["phase_share"].items()], "",
        f"Benchmark wall time {res['benchmark_wall_s']} s.",
    ]
    missed = _missed(res)
    res["missed_targets"] = missed
    (HERE / "results.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (HERE / "results.json").write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    print("\n".join(lines))
    if missed:
        print("missed targets: " + ", ".join(missed))
    return 1 if (args.check and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
