"""Equivalence gate for changes that must not change results (docs/performance.md).

    python benchmarks/equivalence.py save  REF_DIR [--root CHECKOUT] [--quick]
    python benchmarks/equivalence.py check REF_DIR [--root CHECKOUT] [--quick]

``save`` runs a fixed set of seeded runs with the checkout's code and data and writes each run's
full timeseries (parquet) and a sha256 of its final person and household tables (living persons
only, so dropping dead rows would not count as a change) into ``REF_DIR``; ``check`` runs them
again and compares every value bit for bit (NaN equal to NaN). Exit status 1 when anything
differs. Keep ``REF_DIR`` outside the checkout; build it from the commit you compare against
(``--root`` another worktree) and rebuild it whenever that commit's model or data change.

Runs: baseline and plan at scale 0.05, seeds 11 and 12, 2020→2035 and 2010→2020; baseline at
scale 1 (not with ``--quick``); fiscal constraint 2020→2030 and institutions only at 0.05; the
plan 2010→2035 at 0.1.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

CASES = [(sc, seed, a, b, 0.05) for sc in ("baseline", "plan") for seed in (11, 12)
         for a, b in ((2020, 2035), (2010, 2020))]
CASES += [("baseline", 11, 2020, 2035, 1.0), ("fiscal_constraint", 13, 2020, 2030, 0.05),
          ("institutions_only", 14, 2020, 2035, 0.05), ("plan", 15, 2010, 2035, 0.1)]


def state_hash(model) -> str:
    """sha256 of every column of the living persons and of all households."""
    import numpy as np

    h = hashlib.sha256()
    for table in (model.persons, model.households):
        rows = model.persons.alive.copy() if table is model.persons else slice(None)
        for name in sorted(table._cols):
            h.update(name.encode())
            h.update(np.ascontiguousarray(getattr(table, name)[rows]).tobytes())
    return h.hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("save", "check"))
    ap.add_argument("ref", type=Path, help="folder of the reference results (outside the checkout)")
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1],
                    help="checkout whose src/ and configs/ are run (default this one)")
    ap.add_argument("--quick", action="store_true", help="without the full-scale run")
    args = ap.parse_args()
    sys.path.insert(0, str(args.root / "src"))
    import numpy as np
    import pandas as pd

    from urban_sim.config import load_scenario
    from urban_sim.model import CountyModel

    args.ref.mkdir(parents=True, exist_ok=True)
    bad, t0 = 0, time.perf_counter()
    for sc, seed, a, b, scale in [c for c in CASES if not (args.quick and c[4] >= 1)]:
        scenario = load_scenario(args.root / "configs" / f"{sc}.yaml",
                                 {"scale": scale, "start_year": a, "end_year": b, "seed": seed})
        model = CountyModel(scenario)
        ts = model.run()
        digest = state_hash(model)
        model.close()
        name = f"{sc}_{seed}_{a}_{b}_{scale}"
        if args.mode == "save":
            ts.to_parquet(args.ref / f"{name}.parquet")
            (args.ref / f"{name}.state").write_text(digest)
            print("saved", name)
            continue
        old = pd.read_parquet(args.ref / f"{name}.parquet")
        same_ts = (old.shape == ts.shape
                   and old.drop(columns="value").equals(ts.drop(columns="value"))
                   and np.array_equal(old["value"].to_numpy(), ts["value"].to_numpy(), equal_nan=True))
        same_state = (args.ref / f"{name}.state").read_text() == digest
        print("ok" if same_ts and same_state else "DIFFERS", name,
              "" if same_ts else "(timeseries)", "" if same_state else "(final state)")
        bad += not (same_ts and same_state)
    print(f"{time.perf_counter() - t0:.1f} s; " + ("FAIL" if bad else "PASS"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
