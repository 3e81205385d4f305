"""Results store: finished runs and failure records of an experiment, keyed by run id."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from urban_sim.files import write_table, write_text


class ResultsStore:
    """Finished runs of an experiment, one Parquet file per run, keyed by run id.

    Layout under ``root``: ``runs/<run_id>.parquet`` (the run's long timeseries) and
    ``failed/<run_id>.json`` (parameters and traceback of a run that raised). Each file is
    written atomically as soon as its run ends, so an interrupted experiment loses at most the
    runs in flight; :meth:`done` tells which runs to skip on resume.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        for sub in ("runs", "failed"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
            # a process killed (SIGKILL) while writing leaves its hidden temporary file; the
            # result itself was never renamed into place, so the run is redone
            for stale in (self.root / sub).glob(".*.tmp"):
                stale.unlink(missing_ok=True)

    def path(self, run_id: str) -> Path:
        return self.root / "runs" / f"{run_id}.parquet"

    def done(self) -> set[str]:
        """Run ids with a finished result."""
        return {p.stem for p in (self.root / "runs").glob("*.parquet")}

    def save(self, run_id: str, frame: pd.DataFrame) -> None:
        """Store a finished run (atomically) and clear an earlier failure record."""
        write_table(self.path(run_id), frame)
        (self.root / "failed" / f"{run_id}.json").unlink(missing_ok=True)

    def save_failure(self, run_id: str, record: dict) -> None:
        """Record a run that raised (JSON with its parameters and traceback)."""
        import json

        write_text(self.root / "failed" / f"{run_id}.json", json.dumps(record, indent=2, default=str))

    def failures(self) -> list[dict]:
        """Failure records of runs that have not succeeded since."""
        import json

        done = self.done()
        return [json.loads(p.read_text(encoding="utf-8"))
                for p in sorted((self.root / "failed").glob("*.json")) if p.stem not in done]

    def load(self, run_ids: list[str]) -> pd.DataFrame:
        """Concatenate finished runs in the order of ``run_ids`` (missing ones skipped)."""
        frames = [pd.read_parquet(self.path(r)) for r in run_ids if self.path(r).is_file()]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


class MemoryStore:
    """:class:`ResultsStore` kept in memory: same interface, nothing survives the process."""

    def __init__(self) -> None:
        self._runs: dict[str, pd.DataFrame] = {}
        self._failed: dict[str, dict] = {}

    def done(self) -> set[str]:
        return set(self._runs)

    def save(self, run_id: str, frame: pd.DataFrame) -> None:
        self._runs[run_id] = frame
        self._failed.pop(run_id, None)

    def save_failure(self, run_id: str, record: dict) -> None:
        self._failed[run_id] = record

    def failures(self) -> list[dict]:
        return [self._failed[k] for k in sorted(self._failed)]

    def load(self, run_ids: list[str]) -> pd.DataFrame:
        frames = [self._runs[r] for r in run_ids if r in self._runs]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
