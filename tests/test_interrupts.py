"""Ctrl-C (exit 130 promptly, no queued run started, message on its own line, finished runs
kept) and a killed worker process (C17: one clear line, exit status 3, finished runs kept, the
rerun completes only what is missing)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import CONFIGS

SRC = str(Path(__file__).resolve().parents[1] / "src")
N_RUNS = 12


def _default_sigint() -> None:
    """A shell starting the suite in the background (``cmd &``) leaves SIGINT ignored, the
    child inherits that, and Python then installs no KeyboardInterrupt handler: Ctrl-C would
    be a no-op and the job would end with 0 (seen in a fresh-clone CI run under ``nohup ... &``).
    A terminal's Ctrl-C reaches a process with the default handler, so restore it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(out: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "urban_sim", "run", str(CONFIGS / "baseline.yaml"),
           "--scale", "0.02", "--end-year", "2030", "--replicates", str(N_RUNS), "--workers", "2",
           "--out", str(out), *extra]
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            text=True, start_new_session=True, preexec_fn=_default_sigint)


def _wait_for_runs(out: Path, proc: subprocess.Popen, n: int = 1, timeout: float = 240) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        if len(list((out / "runs").glob("*.parquet"))) >= n:
            return
        time.sleep(0.2)
    pytest.fail("no run finished in time")


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


@pytest.mark.skipif(sys.platform != "linux", reason="uses /proc and POSIX signals")
def test_ctrl_c_exits_130_promptly_keeps_finished_runs_and_starts_no_queued_run(tmp_path):
    out = tmp_path / "out"
    proc = _start(out)
    _wait_for_runs(out, proc)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends on Ctrl-C: the whole group
    t0 = time.monotonic()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert time.monotonic() - t0 < 20
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    lines = err.replace("\r", "\n").split("\n")
    assert any(ln.startswith("interrupted: finished runs are kept") for ln in lines), err
    kept = sorted((out / "runs").glob("*.parquet"))
    assert kept and len(kept) < N_RUNS
    time.sleep(3)  # nothing keeps running after the exit
    assert sorted((out / "runs").glob("*.parquet")) == kept


@pytest.mark.skipif(sys.platform != "linux", reason="uses /proc and POSIX signals")
def test_c17_killed_worker_one_line_exit_3_and_the_rerun_completes_what_is_missing(tmp_path):
    out = tmp_path / "out"
    proc = _start(out)
    _wait_for_runs(out, proc)
    workers = _children(proc.pid)
    assert workers
    os.kill(workers[-1], signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err
    assert "Traceback" not in err
    msg = [ln for ln in err.replace("\r", "\n").split("\n") if ln.startswith("error:")]
    assert len(msg) == 1 and "worker process died" in msg[0] and "memory" in msg[0], err
    kept = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*.parquet")}
    assert kept
    again = _start(out)
    _, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    assert len(list((out / "runs").glob("*.parquet"))) == N_RUNS
    assert {p: p.stat().st_mtime_ns for p in kept} == kept  # finished runs were not redone
