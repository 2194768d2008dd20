"""The report tabs in a real browser (headless Chromium driven by Playwright), logged in to the
stack's api-server through Airflow's login form, on a finished drill of the production topology."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from urllib.parse import quote

import pytest

from airflow_provider_drs.simulator import SimulatorClient
from tests.stack.estate import report_path

DAG = "drs_three_tier_drill"
SCREENSHOTS = os.environ.get("DRS_SCREENSHOT_DIR")  # docs/ refreshes the README's pictures
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def finished_drill(stack, api):
    """The newest successful three-tier drill of this stack (one is run if none has been)."""
    runs = api.runs(DAG, state="success", limit=1)
    if not runs:
        simulator = SimulatorClient(stack.sim_url)
        simulator.clear_faults()
        simulator.set_time_scale(1.0)
        run_id = api.trigger(DAG)
        assert api.wait_for_run(DAG, run_id, timeout=600)["state"] == "success", api.task_states(DAG, run_id)
        runs = api.runs(DAG, state="success", limit=1)
    return runs[0]["dag_run_id"]


@pytest.fixture(scope="module")
def browser_page(stack):
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("DRS_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "the browser test needs Chromium: apt-get install chromium (make stack-deps does)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(stack.api_url + "/")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", stack.password)
        page.click("button[type=submit]")
        page.wait_for_url(stack.api_url + "/", timeout=30_000)
        yield page
        browser.close()


def screenshot(page, name: str, tmp_path: Path) -> Path:
    path = Path(SCREENSHOTS or tmp_path) / name
    page.screenshot(path=str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 20_000
    return path


def test_run_tab_shows_the_report_of_the_run(stack, browser_page, finished_drill, tmp_path):
    page = browser_page
    page.goto(f"{stack.api_url}/dags/{DAG}/runs/{quote(finished_drill, safe='')}/plugin/drs_report")
    frame = page.frame_locator("iframe[title='DR report']")
    frame.locator("svg rect.phase").first.wait_for(timeout=30_000)
    report = json.loads(report_path(stack.endpoints.airflow_home, DAG, finished_drill).read_text())
    servers = [s for w in report["waves"] for s in w["servers"]]
    # What the browser drew is this run's report: a bar per server and phase, its RTO marker, its RPO.
    assert frame.locator("svg rect.phase[data-server^='s-']").count() == 3 * len(servers)
    assert frame.locator("svg rect.phase-post").count() == 1  # the database wave's post action
    assert frame.locator("svg line.rto-marker").count() == 1
    assert frame.locator("h1").inner_text().startswith("DR drill of plan three-tier")
    for server in servers:
        assert frame.locator(f"table#servers tr[data-server='{server['source_server_id']}']").count() == 1
    page.wait_for_timeout(500)  # fonts settle
    screenshot(page, "ui-report-tab.png", tmp_path)


def test_dag_tab_shows_the_history_and_trend(stack, browser_page, finished_drill, tmp_path):
    page = browser_page
    page.goto(f"{stack.api_url}/dags/{DAG}/plugin/drs_history")
    frame = page.frame_locator("iframe[title='DR history']")
    frame.locator("table#runs tr[data-run]").first.wait_for(timeout=30_000)
    # The plan's history: the reports of both its DAGs (drill and recovery; admin may read both).
    reports = report_path(stack.endpoints.airflow_home, DAG, finished_drill).parent.parent
    stored = [p for dag in (DAG, DAG.replace("_drill", "_recovery")) for p in (reports / dag).glob("*.json")]
    shown = frame.locator("table#runs tr[data-run]")
    assert shown.count() == len(stored) >= 1
    assert finished_drill in [shown.nth(i).get_attribute("data-run") for i in range(shown.count())]
    assert frame.locator("svg circle.point").count() >= 1
    # A run's link opens that run's report in the tab.
    frame.locator(f"table#runs tr[data-run='{finished_drill}'] a").click()
    frame.locator("svg rect.phase").first.wait_for(timeout=30_000)
    assert finished_drill in frame.locator("div.meta").first.inner_text()
    page.goto(f"{stack.api_url}/dags/{DAG}/plugin/drs_history")
    page.frame_locator("iframe[title='DR history']").locator("table#runs tr[data-run]").first.wait_for(timeout=30_000)
    page.wait_for_timeout(500)
    screenshot(page, "ui-history-tab.png", tmp_path)
