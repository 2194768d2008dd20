"""The sample plans' drills on the production topology, driven through Airflow's REST API."""

from __future__ import annotations

import pytest

from tests.reports.page import read_page
from tests.stack.estate import Estate, read_report, report_path

pytestmark = pytest.mark.timeout(900)


@pytest.mark.parametrize(("dag_id", "waves"), [("drs_three_tier_drill", 3), ("drs_diamond_drill", 4)])
def test_drill_succeeds_and_cleans_up(stack, api, sim, dag_id, waves):
    estate = Estate(stack.sim_url)
    run_id = api.trigger(dag_id)
    run = api.wait_for_run(dag_id, run_id, timeout=600)

    states = api.task_states(dag_id, run_id)
    assert run["state"] == "success", states
    assert sim.calls()["StartRecovery"] == waves  # one per wave, none twice
    assert len(estate.run_jobs(dag_id, run_id)) == waves and estate.duplicate_launches() == []
    assert estate.live_drill_instances() == []
    report = read_report(stack.endpoints.airflow_home, dag_id, run_id)
    assert report["outcome"] == "succeeded" and report["rto"]["met"]
    assert {w["state"] for w in report["waves"]} == {"success"}
    assert len(report["cleanup"]["terminated"]) == sum(len(w["servers"]) for w in report["waves"])
    # The page written beside it on a Celery worker: one timeline bar per server and phase.
    page = read_page(report_path(stack.endpoints.airflow_home, dag_id, run_id).with_suffix(".html").read_text())
    servers = [s["source_server_id"] for w in report["waves"] for s in w["servers"]]
    assert sorted((b["server"], b["phase"]) for b in page.bars if b["server"]) == sorted(
        (s, p) for s in servers for p in ("snapshot", "conversion", "launch"))
    assert [b["phase"] for b in page.bars if not b["server"]] == ["post"] * sum(
        1 for w in report["waves"] if w["post_actions"])
