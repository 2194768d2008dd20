"""The "DR report" and "DR history" pages, served by a real `airflow api-server` with the
provider's plugin, under Airflow's auth: who may read a DAG's runs may read their reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from airflow_provider_drs.stack.native import die_with_parent, free_port
from tests.reports.page import read_page
from tests.reports.samples import write_report
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
PASSWORDS = {"admin": "admin-pw", "auditor": "auditor-pw"}
pytestmark = pytest.mark.timeout(180)


def fetch(url: str, token: str | None = None, body: dict | None = None) -> tuple[int, str]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(body).encode() if body else None, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError as error:
        return 0, str(error)


@pytest.fixture(scope="module")
def server(tmp_path_factory, airflow_db):
    folder = tmp_path_factory.mktemp("reports")
    write_report(folder, "shop", "recovery", 9, 600)
    write_report(folder, "shop", "drill", 20, 300)
    write_report(folder, "shop", "drill", 27, 0, failed=True)
    (folder / "drs_shop_drill" / "manual__broken.json").write_text("{")
    passwords = tmp_path_factory.mktemp("auth") / "passwords.json"
    passwords.write_text(json.dumps(PASSWORDS))
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO),
           "AIRFLOW__DRS__REPORTS_LOCATION": str(folder),
           "AIRFLOW__CORE__AUTH_MANAGER": "tests.plugins.restricted_auth.DrillsOnlyForAuditor",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,auditor:viewer",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords)}
    log = open(folder / "api-server.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "airflow", "api-server", "--port", str(port), "--workers", "1"],
                               env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                               preexec_fn=die_with_parent)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: fetch(base + "/api/v2/version")[0] == 200 or process.poll() is not None,
                   timeout=120, interval=0.5, what="the api-server")
        assert process.poll() is None, (folder / "api-server.log").read_text()[-3000:]
        yield base
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)
        log.close()


def token(server: str, user: str) -> str:
    status, body = fetch(server + "/auth/token", body={"username": user, "password": PASSWORDS[user]})
    assert status == 201, body
    return json.loads(body)["access_token"]


def test_plugin_adds_a_run_tab_and_a_dag_tab(server):
    status, body = fetch(server + "/api/v2/plugins", token(server, "admin"))
    assert status == 200, body
    plugin = next(p for p in json.loads(body)["plugins"] if p["name"] == "airflow_provider_drs")
    views = {v["name"]: (v["destination"], v["href"], v["url_route"]) for v in plugin["external_views"]}
    assert views == {"DR report": ("dag_run", "/drs/runs/{DAG_ID}/{RUN_ID}", "drs_report"),
                     "DR history": ("dag", "/drs/history/{DAG_ID}", "drs_history")}
    assert [a["url_prefix"] for a in plugin["fastapi_apps"]] == ["/drs"]


def test_run_page_is_rendered_from_the_stored_report(server):
    admin = token(server, "admin")
    status, body = fetch(server + "/drs/runs/drs_shop_drill/manual__27", admin)
    assert status == 200, body
    page = read_page(body)
    assert [(row[1], row[5]) for row in page.failed_rows] == [("s-a", "LAUNCH")]
    assert page.scripts == 0 and page.external == []
    page = read_page(fetch(server + "/drs/runs/drs_shop_drill/manual__20", admin)[1])
    assert page.failed_rows == [] and page.server_rows["s-a"][3:6] == ["LAUNCHED", "-", "5.0 min"]


def test_nobody_reads_a_report_without_logging_in(server):
    assert fetch(server + "/drs/runs/drs_shop_drill/manual__20")[0] == 401
    assert fetch(server + "/drs/history/drs_shop_drill")[0] == 401
    assert fetch(server + "/drs/runs/drs_shop_drill/manual__20", "not-a-token")[0] == 403


def test_a_user_who_may_not_read_the_dag_may_not_read_its_report(server):
    auditor = token(server, "auditor")
    assert fetch(server + "/drs/runs/drs_shop_recovery/manual__9", auditor)[0] == 403
    assert fetch(server + "/drs/history/drs_shop_recovery", auditor)[0] == 403
    assert fetch(server + "/drs/runs/drs_shop_drill/manual__20", auditor)[0] == 200
    # The drill history leaves out the plan's recovery runs, which the auditor may not read.
    status, body = fetch(server + "/drs/history/drs_shop_drill", auditor)
    assert status == 200 and read_page(body).history_runs == ["manual__20", "manual__27"]
    status, body = fetch(server + "/drs/history/drs_shop_drill", token(server, "admin"))
    assert read_page(body).history_runs == ["manual__9", "manual__20", "manual__27"]


def test_history_links_each_run_to_its_tab_and_names_unreadable_reports(server):
    status, body = fetch(server + "/drs/history/drs_shop_drill", token(server, "admin"))
    assert status == 200
    assert 'href="/drs/runs/drs_shop_drill/manual__20"' in body
    assert "manual__broken.json: not a readable run report" in body


def test_missing_reports_and_odd_ids_get_a_plain_answer(server):
    admin = token(server, "admin")
    status, body = fetch(server + "/drs/runs/drs_shop_drill/scheduled__2026", admin)
    assert status == 404 and "No DR report for this run yet" in body
    status, body = fetch(server + "/drs/history/some_other_dag", admin)
    assert status == 404 and "No DR history yet" in body
    assert fetch(server + "/drs/history/..", admin)[0] in (404, 422)
    assert fetch(server + "/drs/runs/%2E%2E/manual__20", admin)[0] in (404, 422)
