"""Per-replicate seeds spawned from one master seed (numpy ``SeedSequence``)."""

from __future__ import annotations

import numpy as np


def replicate_seeds(master_seed: int, n_replicates: int) -> list[np.random.SeedSequence]:
    """Independent seeds for replicates ``0..n_replicates-1``.

    Replicate ``k`` gets ``SeedSequence(master_seed).spawn(n)[k]``, which depends only on the
    master seed and ``k``: every scenario run with the same master seed uses the same seed for
    replicate ``k`` (common random numbers), on any number of workers.

    Parameters
    ----------
    master_seed : int
        Non-negative integer.
    n_replicates : int
        At least 1.

    Raises
    ------
    ValueError
        If ``n_replicates < 1`` or ``master_seed < 0``.
    """
    if n_replicates < 1:
        raise ValueError(f"n_replicates must be ≥ 1, got {n_replicates}")
    if master_seed < 0:
        raise ValueError(f"seed must be ≥ 0, got {master_seed}")
    return np.random.SeedSequence(master_seed).spawn(n_replicates)


def describe_seed(seed: np.random.SeedSequence) -> dict:
    """JSON-able record of a spawned seed (entropy and spawn key) for the manifest."""
    return {"entropy": int(seed.entropy), "spawn_key": list(seed.spawn_key)}
