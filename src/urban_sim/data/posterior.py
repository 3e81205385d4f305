"""The posterior sample of the calibrated parameters, shipped with a county's data.

``posterior.csv`` (written by ``urban-sim calibrate`` with ``method: abc`` and
``write_data: true``) has one row per particle: ``sample``, one column per calibrated
parameter, ``weight`` (importance weight, sums to 1), ``distance`` (its ABC distance), and the
provenance columns ``year``, ``source``, ``status`` (``derived``) of every data table. A scenario
with ``parameters_from: posterior`` draws one particle per replicate (by weight, from the
replicate's own seed), so an ensemble carries parameter uncertainty as well as seed noise.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd

from urban_sim.errors import DataError

POSTERIOR_FILE = "posterior.csv"
META_COLUMNS = ("sample", "weight", "distance", "year", "source", "status")


def posterior_table(particles: pd.DataFrame, names: list[str], year: int,
                    source: str) -> pd.DataFrame:
    """The shipped table from a calibrator's ``posterior_`` (columns ``names``, ``weight``,
    ``distance``)."""
    out = particles[list(names)].copy()
    out.insert(0, "sample", np.arange(len(out)))
    out["weight"] = particles["weight"].to_numpy(float)
    out["distance"] = particles["distance"].to_numpy(float)
    out["year"], out["source"], out["status"] = year, source, "derived"
    return out


@functools.lru_cache(maxsize=4)
def _read(path: str, mtime_ns: int) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    frame = pd.read_csv(path, encoding="utf-8-sig")
    names = tuple(c for c in frame.columns if c not in META_COLUMNS)
    if "weight" not in frame.columns or not names or frame.empty:
        raise DataError(f"{path}: a posterior table needs parameter columns, 'weight' and rows")
    w = frame["weight"].to_numpy(float)
    if (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
        raise DataError(f"{path}: column 'weight' must be finite, ≥ 0 and not all 0")
    return names, frame[list(names)].to_numpy(float), w / w.sum()


def read_posterior(data_dir: str | Path) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Parameter names, particles (shape (n, k)) and normalised weights of ``posterior.csv``.

    Raises
    ------
    DataError
        The file is missing (naming the command that writes it) or malformed.
    """
    path = Path(data_dir) / POSTERIOR_FILE
    if not path.is_file():
        raise DataError(f"{path}: not found; 'parameters_from: posterior' needs the posterior "
                        "sample written by `urban-sim calibrate` (method abc, write_data: true)")
    return _read(str(path), path.stat().st_mtime_ns)


def draw_parameters(data_dir: str | Path, seed: np.random.SeedSequence) -> dict[str, float]:
    """One particle drawn by weight with a generator derived from ``seed`` (not the model's
    own stream, so drawing changes no other random number of the run)."""
    names, particles, w = read_posterior(data_dir)
    child = np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, 0x5053))
    i = np.random.default_rng(child).choice(len(w), p=w)
    return dict(zip(names, particles[i].tolist(), strict=True))
