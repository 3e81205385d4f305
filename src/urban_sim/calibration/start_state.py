"""Generating the shipped start state of a later census year (one history, issue 10 item 1).

Regenerate after every calibration or model change with::

    python -m urban_sim.calibration.start_state [--scenario configs/baseline.yaml] [--year 2020]

It runs the scenario (whose ``parameters`` are the calibrated values) from the first census
(2010) to ``year`` at full scale with one seed, keeps the persons alive and their households,
and re-weights households so that the weighted resident urban and rural persons equal the census
totals of ``year`` (:func:`rake`). The result is written atomically to
``data/<county>/start_<year>.npz`` with provenance in ``start_<year>.json``; see
:mod:`urban_sim.population.start_state` for the format and how a model uses it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from urban_sim.config import load_scenario
from urban_sim.config.loader import SHIPPED_SCENARIOS
from urban_sim.data.tables import load_county
from urban_sim.errors import CalibrationError
from urban_sim.files import atomic_write, write_text
from urban_sim.model.county import CountyModel
from urban_sim.model.start import capture
from urban_sim.population.start_state import state_files
from urban_sim.population.state import LOC_OUTSIDE

FIRST_CENSUS = 2010


def rake(margins: np.ndarray, totals: np.ndarray, *, tol: float = 1e-10,
         max_iter: int = 100) -> np.ndarray:
    """Exponential-tilting (raking) weights ``w = exp(margins @ lam)`` with ``w @ margins = totals``.

    Parameters
    ----------
    margins : numpy.ndarray, shape (n, k)
        What each unit contributes to each total (here: resident urban and rural members).
    totals : numpy.ndarray, shape (k,)
        Target totals, each > 0.

    Returns
    -------
    numpy.ndarray, shape (n,)
        Weights (> 0); units contributing to no total keep weight 1.

    Raises
    ------
    CalibrationError
        If Newton's method does not reach a relative error of ``tol`` (totals out of reach).
    """
    x = np.asarray(margins, float)
    t = np.asarray(totals, float)
    lam = np.zeros(x.shape[1])
    scale = x.max(axis=0).clip(min=1.0)  # keep exp() in range for large households
    for _ in range(max_iter):
        w = np.exp(x @ lam)
        r = w @ x - t
        if np.max(np.abs(r) / t) < tol:
            return w
        jac = (x * w[:, None]).T @ x
        lam -= np.linalg.solve(jac + 1e-12 * np.diag(scale), r)
    raise CalibrationError(f"raking did not converge: totals {t.tolist()}, reached "
                           f"{(np.exp(x @ lam) @ x).tolist()}")


def simulate_state(scenario_path: str | Path, year: int, seed: int, scale: float = 1.0
                   ) -> tuple[dict, dict, dict]:
    """Run ``scenario_path`` from the first census to ``year`` at ``scale`` (1 for shipping).

    Returns
    -------
    persons, households : dict[str, numpy.ndarray]
        Living persons and their households (indices re-mapped).
    info : dict
        ``urban`` and ``rural`` resident members per household (arrays), and the scenario.
    """
    sc = load_scenario(scenario_path, {"start_year": FIRST_CENSUS, "end_year": year, "scale": scale})
    model = CountyModel(sc, seed=seed)
    try:
        model.run()
        P, H = model.persons.columns(), model.households.columns()
        places = capture(model)
        alive = np.flatnonzero(P["alive"])
        place = model.place_of(alive)
        urban_place = model.is_urban_place[place]
        resident = P["loc"][alive] != LOC_OUTSIDE
    finally:
        model.close()
    keep_h = np.unique(P["hh"][alive])
    new_h = np.full(len(H["base"]), -1, np.int64)
    new_h[keep_h] = np.arange(len(keep_h))
    new_p = np.full(len(P["age"]), -1, np.int64)
    new_p[alive] = np.arange(len(alive))
    persons = {k: v[alive] for k, v in P.items()}
    persons["hh"] = new_h[persons["hh"]].astype(P["hh"].dtype)
    m = persons["mother"].astype(np.int64)
    persons["mother"] = np.where(m >= 0, new_p[np.maximum(m, 0)], -1).astype(P["mother"].dtype)
    households = {k: v[keep_h] for k, v in H.items()}
    hh = persons["hh"].astype(np.int64)
    n_h = len(keep_h)
    urban = np.bincount(hh[resident & urban_place], minlength=n_h).astype(float)
    rural = np.bincount(hh[resident & ~urban_place], minlength=n_h).astype(float)
    return persons, households, {"urban": urban, "rural": rural, "scenario": sc,
                                 "places": places}


def _shown(path: str | Path) -> str:
    """``path`` relative to the repository when inside it (for the provenance record)."""
    root = SHIPPED_SCENARIOS.parent  # the package folder: configs/, data/lin_county/
    try:
        return str(Path(path).resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def make_start_state(scenario_path: str | Path, year: int = 2020, seed: int = 20241204,
                     data_dir: str | Path | None = None, scale: float = 1.0
                     ) -> tuple[Path, dict]:
    """Simulate, rake to the census of ``year`` and write ``start_<year>.npz`` and ``.json``.

    ``scale`` < 1 is for tests: each household then stands for ``1/scale`` households (its
    weight), which a model at any scale draws from.

    Returns
    -------
    path : Path
        The ``.npz`` file written.
    meta : dict
        The provenance written to the ``.json`` file.
    """
    persons, households, info = simulate_state(scenario_path, year, seed, scale)
    sc = info["scenario"]
    data = load_county(data_dir or sc.data_dir)
    U = data.census_value("urban_population", year)
    R = data.census_value("resident_population", year) - U
    x = np.column_stack([info["urban"], info["rural"]])
    x = x / scale  # persons represented
    weight = rake(x, np.array([U, R])) / scale
    alive_out = float(np.sum(persons["loc"] == LOC_OUTSIDE))
    n_per_hh = np.bincount(persons["hh"].astype(np.int64), minlength=len(weight))
    out_per_hh = np.bincount(persons["hh"][persons["loc"] == LOC_OUTSIDE].astype(np.int64),
                             minlength=len(weight))
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, cwd=Path(__file__).parent, check=False).stdout.strip()
    except OSError:
        commit = ""
    meta = {
        "year": year, "status": "derived",
        "source": (f"simulated: scenario '{sc.name}' ({Path(scenario_path).name}) from the "
                   f"{FIRST_CENSUS} census to {year}, scale {scale:g}, seed {seed}, parameters "
                   f"{sc.parameters}; households re-weighted (raking) to the {year} census urban "
                   f"({U:.0f}) and rural ({R:.0f}) residents of census.csv"),
        "command": f"python -m urban_sim.calibration.start_state --scenario {_shown(scenario_path)} "
                   f"--year {year} --seed {seed}",
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": commit,
        "simulated": {"urban": float(x[:, 0].sum()), "rural": float(x[:, 1].sum()),
                      "registered": len(persons["hh"]) / scale, "outside": alive_out / scale},
        "weighted": {"urban": float(weight @ x[:, 0] * scale),
                     "rural": float(weight @ x[:, 1] * scale),
                     "registered": float(weight @ n_per_hh), "outside": float(weight @ out_per_hh)},
        "weight_range": [float(weight.min()), float(weight.max())],
        "person_columns": sorted(persons), "household_columns": sorted(households),
    }
    arrays = {f"p_{k}": v for k, v in persons.items()}
    arrays.update({f"h_{k}": v for k, v in households.items()})
    arrays["h_weight"] = weight.astype(np.float64)
    arrays.update(info["places"])
    npz, js = state_files(data.data_dir, year)

    def write(tmp: Path) -> None:
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        tmp.write_bytes(buf.getvalue())

    atomic_write(npz, write)
    write_text(js, json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    return npz, meta


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m urban_sim.calibration.start_state``."""
    ap = argparse.ArgumentParser(prog="python -m urban_sim.calibration.start_state",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default=str(SHIPPED_SCENARIOS / "baseline.yaml"))
    ap.add_argument("--year", type=int, default=2020)
    ap.add_argument("--seed", type=int, default=20241204)
    ap.add_argument("--data-dir", default=None)
    a = ap.parse_args(argv)
    path, meta = make_start_state(a.scenario, a.year, a.seed, a.data_dir)
    print(f"wrote {path}: simulated {meta['simulated']}, weighted {meta['weighted']}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
