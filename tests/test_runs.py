"""Ensembles: seeds (C07), engines, results store, resume, failures, memory, comparison."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mesa
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from urban_sim.analysis.compare import fan, paired_differences, scorecard
from urban_sim.cli import app
from urban_sim.config import with_overrides
from urban_sim.errors import ExperimentError
from urban_sim.model.malloc import tune_malloc
from urban_sim.runs.ensemble import FAILURE_KEYS, RunSpec, plan_runs, run_ensemble
from urban_sim.runs.executors import Failed, make_executor
from urban_sim.runs.runner import run_scenario
from urban_sim.runs.single import simulate
from urban_sim.runs.seeds import replicate_seeds
from urban_sim.runs.store import ResultsStore
from urban_sim.targets import Target

from .conftest import CONFIGS, scenario

TINY = {"scale": 0.004, "end_year": 2022}


def test_replicates_get_distinct_reproducible_seeds_c07(tmp_path):
    sc = scenario(seed=42, scale=0.004, end_year=2030)
    a = run_scenario(sc, n_replicates=5)
    keys = [s["spawn_key"] for s in a.seeds]
    assert keys == [[0], [1], [2], [3], [4]] and {s["entropy"] for s in a.seeds} == {42}
    res = a.timeseries.query("indicator == 'resident_population' and place == 'county'")
    paths = res.pivot(index="replicate", columns="year", values="value")
    assert len({tuple(r) for r in paths.to_numpy()}) == 5  # replicates differ
    b = run_scenario(sc, n_replicates=5)
    pd.testing.assert_frame_equal(a.timeseries, b.timeseries)


def test_replicate_k_shares_its_seed_across_scenarios():
    specs = plan_runs([scenario(**TINY), scenario("plan", **TINY)], 3, 9)
    by = {(s.scenario.name, s.replicate): s for s in specs}
    for k in range(3):
        assert by[("baseline", k)].seed.spawn_key == by[("plan", k)].seed.spawn_key == (k,)
        assert by[("baseline", k)].run_id != by[("plan", k)].run_id
    assert len({s.run_id for s in specs}) == 6
    assert [s.seed.spawn_key for s in specs] == [s.spawn_key for s in replicate_seeds(9, 3)] * 2


def test_engines_give_identical_results(tmp_path):
    specs = plan_runs([scenario(**TINY), scenario("plan", **TINY)], 2, 5)
    results = {}
    for engine, workers in (("sequential", 1), ("processes", 2), ("dask", 2)):
        with make_executor(engine, workers=workers) as ex:
            assert ex.engine == engine
            res = run_ensemble(specs, ResultsStore(tmp_path / engine), ex)
            if engine == "dask":  # workers without Dask's malloc trim default (issue 12)
                env = ex._client.run(os.environ.get, "MALLOC_TRIM_THRESHOLD_")
                assert len(env) == 2 and set(env.values()) == {None}
        results[engine] = res.timeseries
        assert res.n_done == 4 and res.n_failed == 0
    base = results["sequential"]
    assert list(base["run_id"].unique()) == [s.run_id for s in specs]  # ordered by spec, not completion
    for engine in ("processes", "dask"):
        pd.testing.assert_frame_equal(base, results[engine])


def test_failed_run_is_recorded_and_others_unaffected(tmp_path):
    good = scenario(**TINY)
    bad = with_overrides(good, {"name": "broken", "data_dir": str(tmp_path / "no_such_folder")})
    specs = plan_runs([good, bad], 2, 1)
    store = ResultsStore(tmp_path / "store")
    with make_executor("sequential") as ex:
        res = run_ensemble(specs, store, ex)
    assert res.n_done == 2 and res.n_failed == 2
    assert set(res.timeseries["scenario"]) == {"baseline"}
    f = res.failures[0]
    assert f["scenario"] == "broken" and "data folder not found" in f["error"]
    assert "Traceback" in f["traceback"] and f["seed"]["entropy"] == 1
    assert isinstance(make_executor("sequential").map(lambda x: 1 / x, [0])[0], Failed)


def test_resume_skips_finished_runs(tmp_path):
    specs = plan_runs([scenario(**TINY)], 3, 2)
    store = ResultsStore(tmp_path)
    with make_executor("sequential") as ex:
        first = run_ensemble(specs[:2], store, ex)
        again = run_ensemble(specs, store, ex)
    assert (first.n_done, again.n_skipped, again.n_done) == (2, 2, 1)
    with make_executor("sequential") as ex:
        fresh = run_ensemble(specs, ResultsStore(tmp_path / "fresh"), ex)
    pd.testing.assert_frame_equal(again.timeseries, fresh.timeseries)


def county_population(frame: pd.DataFrame, year: int = 2022) -> dict[str, float]:
    """A reduction as sensitivity or calibration would submit (top level: picklable)."""
    row = frame.query("place == 'county' and indicator == 'resident_population' and year == @year")
    return {"residents": float(row["value"].iat[0])}


def test_arbitrary_run_lists_with_reduce_meta_and_resume(tmp_path):
    """The API sensitivity and calibration submit to: any (scenario, seed) list, reduced in the
    worker, meta carried into rows and failure records, resumable by run id."""
    import functools

    seeds = replicate_seeds(3, 2)
    points = [scenario(**TINY), scenario("plan", **TINY)]
    specs = [RunSpec.make(sc, seeds[k], k, reduce=county_population, meta={"point": i})
             for i, sc in enumerate(points) for k in range(2)]
    full = plan_runs(points, 2, 3)
    assert [s.seed.spawn_key for s in specs] == [s.seed.spawn_key for s in full]
    assert {s.run_id for s in specs}.isdisjoint(s.run_id for s in full)  # reduction is in the id
    other = functools.partial(county_population, year=2021)
    assert RunSpec.make(points[0], seeds[0], reduce=other).run_id != specs[0].run_id
    with make_executor("sequential") as ex:
        first = run_ensemble(specs[:3], ResultsStore(tmp_path), ex)
        res = run_ensemble(specs, ResultsStore(tmp_path), ex)
        mem = run_ensemble(specs, None, ex)
        ts = run_ensemble(full, None, ex).timeseries
    assert (first.n_done, res.n_skipped, res.n_done) == (3, 3, 1)
    rows = res.frames
    assert list(rows.columns) == ["residents", "run_id", "replicate", "point"]
    assert rows["point"].tolist() == [0, 0, 1, 1] and rows["replicate"].tolist() == [0, 1, 0, 1]
    pd.testing.assert_frame_equal(rows, mem.frames)
    want = ts.query("place == 'county' and indicator == 'resident_population' and year == 2022")
    np.testing.assert_array_equal(rows["residents"], want["value"])
    res.raise_if_failed()  # nothing failed: no error


def test_failure_record_carries_meta_and_raises_on_request(tmp_path):
    bad = with_overrides(scenario(**TINY), {"name": "broken",
                                            "data_dir": str(tmp_path / "no_such_folder")})
    spec = RunSpec.make(bad, replicate_seeds(1, 1)[0], reduce=county_population,
                        meta={"point": 7, "x": 0.5})
    with make_executor("sequential") as ex:
        res = run_ensemble([spec], None, ex)
    assert set(res.failures[0]) == set(FAILURE_KEYS) and res.failures[0]["meta"]["point"] == 7
    with pytest.raises(ExperimentError, match=r"1 of 1 runs failed; first: run \w+ \(broken, "
                                              r"replicate 0, point=7, x=0.5\): DataError"):
        res.raise_if_failed()


def test_killed_experiment_resumes_with_the_same_command(tmp_path):
    out = tmp_path / "cmp"
    cmd = [sys.executable, "-m", "urban_sim", "compare", str(CONFIGS / "baseline.yaml"),
           str(CONFIGS / "plan.yaml"), "--replicates", "5", "--scale", "0.01", "--end-year", "2030",
           "--workers", "1", "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 120
    while len(list((out / "runs").glob("*.parquet"))) < 3 and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {p.stem for p in (out / "runs").glob("*.parquet")}
    assert 3 <= len(finished) < 10, "kill came too late to test resuming"
    assert not (out / "report.html").exists()
    for done in (out / "runs").glob("*.parquet"):  # no half-written result under a result's name
        assert len(pd.read_parquet(done)) > 0
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert not list((out / "runs").glob("*.tmp"))  # a temporary file the kill left is cleared
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["n_resumed"] >= len(finished) and manifest["n_runs"] == 10
    assert len(list((out / "runs").glob("*.parquet"))) == 10
    # same final results as an uninterrupted run
    full = tmp_path / "full"
    r2 = subprocess.run(cmd[:-1] + [str(full)], capture_output=True, text=True, timeout=300)
    assert r2.returncode == 0, r2.stderr
    pd.testing.assert_frame_equal(pd.read_parquet(out / "timeseries.parquet"),
                                  pd.read_parquet(full / "timeseries.parquet"))


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_worker_memory_does_not_grow_with_runs(lin_data):
    sc = scenario(scale=0.003, end_year=2021)
    seeds = replicate_seeds(1, 200)
    gc.collect()  # models other tests left as garbage are not this test's business
    before = {id(m) for m in getattr(mesa.Agent, "_ids", {})}
    for s in seeds[:20]:
        simulate(sc, s, data=lin_data)
    after_20 = _rss_mb()
    for s in seeds[20:]:
        simulate(sc, s, data=lin_data)
    after_200 = _rss_mb()
    ids = getattr(mesa.Agent, "_ids", {})
    assert not any(type(m).__name__ == "CountyModel" and id(m) not in before
                   for m in ids)  # no model kept alive
    assert after_200 - after_20 < 10, (after_20, after_200)  # leaking Mesa 3.3.1: about +40 MB


def test_all_empty_metric_gives_na_with_count_zero():
    ts = pd.DataFrame({
        "scenario": ["a"] * 3, "replicate": [0, 1, 2], "year": 2025, "place": "county",
        "indicator": "seat_water_coverage", "value": [np.nan] * 3,
    })
    card = scorecard(ts, [Target("seat_water_coverage", 2025, ">=", 0.92, np.nan, "infrastructure")])
    assert card.loc[0, "n"] == 0 and np.isnan(card.loc[0, "mean"]) and np.isnan(card.loc[0, "p_met"])
    f = fan(ts, "seat_water_coverage")
    assert f.loc[0, "n"] == 0 and np.isnan(f.loc[0, "median"])


def test_paired_differences_use_pairs_and_t_interval():
    rows = []
    for rep, (a, b) in enumerate([(10, 12), (20, 21), (30, 33)]):
        rows += [("base", rep, 2030, "county", "x", a), ("alt", rep, 2030, "county", "x", b)]
    ts = pd.DataFrame(rows, columns=["scenario", "replicate", "year", "place", "indicator", "value"])
    d = paired_differences(ts, "base", [("x", "county", 2030)])
    assert d.loc[0, "mean_diff"] == pytest.approx(2.0)
    half = 4.302652729911275 * 1.0 / np.sqrt(3)  # t(0.975, 2) × sd(2,1,3) / √3
    assert d.loc[0, "ci_high"] - 2.0 == pytest.approx(half)
    with pytest.raises(ValueError, match="baseline 'zz' not among"):
        paired_differences(ts, "zz", [("x", "county", 2030)])


def test_compare_cli_writes_report_in_chinese_and_report_rebuilds(tmp_path):
    out = tmp_path / "c"
    r = CliRunner().invoke(app, ["compare", str(CONFIGS / "baseline.yaml"), str(CONFIGS / "plan.yaml"),
                                 "--replicates", "2", "--scale", "0.004", "--end-year", "2027",
                                 "--workers", "1", "--out", str(out), "--lang", "zh"])
    assert r.exit_code == 0, r.output
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 4
    card = pd.read_csv(out / "scorecard.csv")
    assert set(card["scenario"]) == {"baseline", "plan"} and len(card) == 2 * 48
    assert card["p_met"].between(0, 1).all()
    # everything a reader sees is Chinese; the summary comes first; the plan's own wording
    md = (out / "report.md").read_text(encoding="utf-8")
    assert md.startswith("# 情景比较：baseline、plan\n\n## 摘要\n\n情景：baseline、plan（参照情景：baseline）；按 1:250")
    assert md.index("## 摘要") < md.index("## 各情景规划目标达成情况") < md.index("## 假设说明")
    assert "漏损率控制在9%以内（2027年） | ≤ 9.0% |" in md
    assert "机动车保有量的1.1-1.5倍（2027年） | 1.1–1.5 |" in md  # upper bound kept
    assert "<h2>摘要</h2>" in page and "Summary" not in page and "Scorecard" not in page
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert (manifest["scale"], manifest["start_year"], manifest["end_year"]) == (0.004, 2020, 2027)
    r = CliRunner().invoke(app, ["report", str(out)])
    assert r.exit_code == 0 and "report.html" in r.output
    md = (out / "report.md").read_text(encoding="utf-8")
    assert md.startswith("# Scenario comparison: baseline, plan\n\n## Summary\n\nScenarios: baseline, plan")
    assert "| Water network leakage rate ≤ 9.0% by 2027 | ≤ 9.0% |" in md and "漏损" not in md
    r = CliRunner().invoke(app, ["compare", str(CONFIGS / "baseline.yaml"), str(CONFIGS / "plan.yaml"),
                                 "--baseline", "nope", "--out", str(out)])
    assert r.exit_code == 2 and "--baseline 'nope'" in r.output
    r = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert r.exit_code == 2 and "not an output folder" in r.output


def test_malloc_tuned_once_per_process_on_linux():
    # glibc's mmap/trim thresholds (issue 12): set by the first model of a process, on Linux
    assert tune_malloc() is sys.platform.startswith("linux")
    assert tune_malloc() is tune_malloc()


def test_long_lived_objects_frozen_once_before_the_second_run_of_a_process():
    # issue 12: gc.freeze before a worker's second run (after one collection), never again
    code = ("import gc; from urban_sim.runs.executors import make_executor\n"
            "with make_executor('sequential') as ex:\n"
            "    frozen = []\n"
            "    for i, _ in ex.imap(len, ['a', 'bb', 'ccc']):\n"
            "        frozen.append(gc.get_freeze_count())\n"
            "from urban_sim.model.malloc import freeze_long_lived\n"
            "import os\n"
            "pid = os.fork()\n"  # a forked worker counts its own runs: it freezes before its 2nd
            "if pid == 0:\n"
            "    os._exit(0 if [freeze_long_lived(), freeze_long_lived()] == [False, True] else 1)\n"
            "child = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])\n"
            "print(frozen[0], frozen[1] > 0, frozen[2] == frozen[1], freeze_long_lived(), child)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")})
    assert out.stdout.split() == ["0", "True", "True", "False", "0"]


def test_compare_with_posterior_draws_says_so_and_pairs_the_draws(tmp_path):
    """--set parameters_from=posterior: the manifest counts the draws, the summary says the
    intervals include them, and the two scenarios of a replicate use the same particle."""
    out = tmp_path / "p"
    r = CliRunner().invoke(app, ["compare", str(CONFIGS / "baseline.yaml"), str(CONFIGS / "plan.yaml"),
                                 "--replicates", "2", "--scale", "0.004", "--end-year", "2022",
                                 "--workers", "1", "--out", str(out),
                                 "--set", "parameters_from=posterior"])
    assert r.exit_code == 0, r.output
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["n_parameter_draws"] == 2
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "parameters from 2 posterior draws" in md and "seed noise only" not in md
    ts = pd.read_parquet(out / "timeseries.parquet")
    first = ts[(ts["year"] == 2022) & (ts["place"] == "county")]
    # before the policy start both scenarios are the same run: same seed and same particle
    a, b = (first[first["scenario"] == s].sort_values(["replicate", "indicator"])["value"].to_numpy()
            for s in ("baseline", "plan"))
    np.testing.assert_array_equal(a, b)


def test_store_clears_temporary_files_a_killed_writer_left(tmp_path):
    from urban_sim.runs.store import ResultsStore

    (tmp_path / "runs").mkdir()
    stale = tmp_path / "runs" / ".abc.parquet.x1y2.tmp"
    stale.write_bytes(b"half a parquet file")
    kept = tmp_path / "runs" / "abc.parquet"
    pd.DataFrame({"value": [1.0]}).to_parquet(kept)
    store = ResultsStore(tmp_path)
    assert not stale.exists() and kept.exists() and store.done() == {"abc"}
