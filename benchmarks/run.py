"""Benchmarks of urban_sim (run: ``python benchmarks/run.py [--quick] [--check]``).

Measures, in a fresh subprocess each (so peak memory is that of the run alone):

- full model, full scale (1:1), 2020→2035: wall time, time per household-step, peak RSS,
  share of time by phase;

and writes ``benchmarks/results.md`` and ``benchmarks/results.json``.
Targets (issue: main job): ≤ 10 s and ≤ 2 GB; (performance issue): ≤ 3 s and ≤ 1.5 GB.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TARGETS = {"full_run_wall_s": 10.0, "full_run_peak_mb": 2048.0}


def full_run(scale: float) -> dict:
    """One 2020→2035 run of the baseline in this process; phase timings included."""
    from urban_sim.config import load_scenario
    from urban_sim.model import CountyModel
    from urban_sim.model.county import PHASES

    t0 = time.perf_counter()
    sc = load_scenario(ROOT / "configs" / "baseline.yaml", {"scale": scale})
    model = CountyModel(sc)
    t_init = time.perf_counter() - t0
    phase_time = dict.fromkeys(PHASES, 0.0)
    for name in PHASES:
        fn = getattr(model, name)

        def timed(fn=fn, name=name):
            s = time.perf_counter()
            fn()
            phase_time[name] += time.perf_counter() - s

        setattr(model, name, timed)
    steps = 0
    hh_steps = 0
    while model.year < sc.end_year:
        hh_steps += len(model.households)
        model.step()
        steps += 1
    wall = time.perf_counter() - t0
    model.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "scale": scale, "years": steps, "wall_s": round(wall, 3), "init_s": round(t_init, 3),
        "ns_per_household_step": round((wall - t_init) / hh_steps * 1e9, 1),
        "peak_rss_mb": round(peak_mb, 1),
        "phase_share": {k: round(v / max(wall - t_init, 1e-9), 3) for k, v in phase_time.items()},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="scale 0.1 instead of 1.0")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--child", type=float, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        print(json.dumps(full_run(args.child)))
        return 0
    scale = 0.1 if args.quick else 1.0
    out = subprocess.run([sys.executable, __file__, "--child", str(scale)], capture_output=True,
                         text=True, check=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    machine = {"python": platform.python_version(), "machine": platform.machine(),
               "processor": platform.processor() or "n/a",
               "cpus": __import__("os").cpu_count()}
    lines = [
        "# urban_sim benchmarks", "",
        f"Machine: {machine}", "",
        "| measure | value | target |", "|---|---|---|",
        f"| full model, scale {scale}, 2020→2035: wall time | {res['wall_s']} s | ≤ {TARGETS['full_run_wall_s']} s |",
        f"| of which initialisation (synthetic population) | {res['init_s']} s | |",
        f"| time per household-step | {res['ns_per_household_step']} ns | |",
        f"| peak memory (RSS of the run's process) | {res['peak_rss_mb']} MB | ≤ {TARGETS['full_run_peak_mb']:.0f} MB |",
        "", "Share of step time by phase:", "", "| phase | share |", "|---|---|",
        *[f"| {k} | {v:.1%} |" for k, v in res["phase_share"].items()],
    ]
    (HERE / "results.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (HERE / "results.json").write_text(json.dumps({"machine": machine, "full_run": res}, indent=2) + "\n",
                                       encoding="utf-8")
    print("\n".join(lines))
    missed = scale == 1.0 and (res["wall_s"] > TARGETS["full_run_wall_s"]
                               or res["peak_rss_mb"] > TARGETS["full_run_peak_mb"])
    return 1 if (args.check and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
