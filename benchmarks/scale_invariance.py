"""Scale invariance of the headline (issue 10 item 6): baseline means at scale 0.2 and 1.0.

Usage: ``PYTHONPATH=src python benchmarks/scale_invariance.py [replicates]``. Prints the relative
difference of each headline mean and exits with status 1 if any exceeds 1 % (too slow for the
test suite: 2 × replicates full-scale runs)."""

from __future__ import annotations

import sys

import numpy as np

from urban_sim.config import load_scenario
from urban_sim.model import CountyModel

HEADLINE = ("resident_population", "county_seat_population", "urbanization_rate",
            "registered_population")
YEARS = (2027, 2035)


def means(scale: float, replicates: int) -> dict[tuple[str, int], float]:
    out: dict[tuple[str, int], list[float]] = {}
    for seed in range(1, replicates + 1):
        m = CountyModel(load_scenario("baseline", {"scale": scale}), seed=seed)
        ts = m.run()
        m.close()
        c = ts[ts["place"] == "county"].pivot(index="year", columns="indicator", values="value")
        for k in HEADLINE:
            for y in YEARS:
                out.setdefault((k, y), []).append(float(c.loc[y, k]))
    return {k: float(np.mean(v)) for k, v in out.items()}


def main(replicates: int = 4) -> int:
    small, full = means(0.2, replicates), means(1.0, replicates)
    worst = 0.0
    for key in full:
        rel = abs(small[key] - full[key]) / abs(full[key])
        worst = max(worst, rel)
        print(f"{key[0]:26s} {key[1]}  scale 0.2 {small[key]:12.4g}  scale 1 {full[key]:12.4g}  "
              f"diff {100 * rel:5.2f} %")
    print(f"largest difference {100 * worst:.2f} % (limit 1 %)")
    return int(worst > 0.01)


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 4))
