"""The dashboard: what-if runs (no browser needed) and the page in headless Chromium.

The browser test needs the optional dependencies (pip install "urban_sim[dashboard]" playwright)
and a Chromium (Debian: apt-get install chromium); without them it is skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from urban_sim.config.schema import TASK_AREAS
from urban_sim.dashboard.whatif import Settings, build_scenario, run_what_if
from urban_sim.errors import ConfigError

SRC = Path(__file__).resolve().parents[1] / "src"


def test_settings_build_a_valid_scenario_with_normalised_budget_shares():
    s = Settings.from_scenario("plan", scale=0.02)
    s.shares = dict.fromkeys(TASK_AREAS, 2.0)  # weights, not shares
    s.levers["land_reform"] = 0.25
    s.uncertainty = "costly_construction"
    sc = build_scenario(s)
    assert sc.policy.investment.task_area_shares.ecology == pytest.approx(1 / 8)
    assert sc.policy.levers.land_reform == 0.25 and sc.scale == 0.02
    assert sc.uncertainties.construction_cost_multiplier == 1.3
    s.uncertainty = "doom"
    with pytest.raises(ConfigError, match="uncertainty 'doom': not one of"):
        build_scenario(s)
    s.uncertainty, s.levers["land_reform"] = "central", 1.5
    with pytest.raises(ConfigError, match="land_reform"):
        build_scenario(s)


def test_what_if_runs_the_model_and_a_lever_moves_urbanization():
    s = Settings.from_scenario("plan", scale=0.02)
    # the whole range of the two levers (from the plan's 0.9 / 0.5 to 0, one seed at scale
    # 0.02, the effect on 2035 urbanization is within seed noise; 1 -> 0 moves it by about 1 pp)
    s.levers["hukou_service_access"] = 1.0
    s.levers["housing_support_share"] = 1.0
    a = run_what_if(s)
    s.levers["hukou_service_access"] = 0.0
    s.levers["housing_support_share"] = 0.0
    b = run_what_if(s)
    assert a.seconds > 0 and list(a.population.columns) == ["county_seat", "towns", "villages", "outside"]
    assert a.urbanization.index.min() == 2020 and a.urbanization.index.max() == 2035
    assert b.final_urbanization < a.final_urbanization
    assert set(a.jobs.index) == set(TASK_AREAS) and (a.jobs >= 0).all()
    assert {"value", "baseline", "met", "baseline_met"} <= set(a.scorecard.columns)
    assert (a.scorecard["baseline"] == b.scorecard["baseline"]).all()  # the same reference run


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if path := shutil.which(name):
            return path
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def dashboard_url(tmp_path_factory):
    pytest.importorskip("solara", reason='solara not installed: pip install "urban_sim[dashboard]"')
    pytest.importorskip("playwright", reason="playwright not installed: pip install playwright")
    if _chromium() is None:
        pytest.skip("no Chromium installed (Debian: apt-get install chromium)")
    port = _free_port()
    env = {**os.environ, "URBAN_SIM_DASHBOARD_SCENARIO": "plan",
           "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "solara", "run", "urban_sim.dashboard.app", "--port",
                             str(port), "--host", "127.0.0.1", "--production"],
                            cwd=tmp_path_factory.mktemp("dash"), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"dashboard server exited with {proc.returncode}")
                time.sleep(0.5)
        else:
            pytest.fail("dashboard server did not start within 90 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_browser_slider_changes_the_urbanization_number(dashboard_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(dashboard_url, timeout=90_000)
            number = page.locator(".us-urbanization")
            number.wait_for(timeout=90_000)
            before = number.inner_text()
            assert before.endswith("%") and "model run:" in page.locator(".us-took").inner_text()
            sliders = page.get_by_role("slider")
            assert sliders.count() == 1 + 6 + len(TASK_AREAS)  # investment, levers, budgets
            sliders.nth(1).focus()  # hukou service access, 0.9 in the plan
            page.keyboard.press("Home")  # -> 0
            page.wait_for_function(
                "b => document.querySelector('.us-urbanization').innerText !== b", arg=before,
                timeout=60_000)
            after = number.inner_text()
            assert float(after.rstrip("%")) < float(before.rstrip("%"))
        finally:
            browser.close()
