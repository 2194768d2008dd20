"""Point in time under dag.test(): a drill recovers each server from the snapshot its
point_in_time chose, and a time before a server's first snapshot stops the run before launch."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_drs.hooks.drs_snapshots import choose_snapshot
from tests.e2e.helpers import read_report, read_report_page, run_dag, task_states

DB, APP, WEB1, WEB2 = "s-3578f52ef3bdd58b4", "s-0e5a9c4b2f7d18e36", "s-3c1730a9e0771ea14", "s-3d75cdc0d9a28a725"
pytestmark = pytest.mark.timeout(300)


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _snapshots(sim, server_id):
    return sim.client("drs").describe_recovery_snapshots(sourceServerID=server_id)["items"]


def _launch_logs(sim) -> dict[str, set[str]]:
    """server -> the snapshot events of its LAUNCH jobs."""
    drs, seen = sim.client("drs"), {}
    for job in drs.describe_jobs()["items"]:
        if job["type"] == "LAUNCH":
            for item in drs.describe_job_log_items(jobID=job["jobID"])["items"]:
                if "SNAPSHOT" in item["event"]:
                    seen.setdefault(item["eventData"]["sourceServerID"], set()).add(item["event"])
    return seen


def test_a_drill_at_an_iso_time_recovers_each_server_from_its_snapshot_before_it(dagbag, airflow_sim):
    at = datetime.now(timezone.utc) - timedelta(hours=2, minutes=30)
    expected = {s: choose_snapshot(_snapshots(airflow_sim, s), at) for s in (DB, APP, WEB1, WEB2)}
    dag_run = run_dag(dagbag, "drs_three_tier_drill", {"point_in_time": _iso(at)})
    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS"), task_states(dag_run)
    report = read_report(dag_run)
    assert report["point_in_time"] == _iso(at)
    rows = {s["source_server_id"]: s for w in report["waves"] for s in w["servers"]}
    for server_id, snapshot in expected.items():
        row = rows[server_id]
        assert row["recovery_snapshot_id"] == snapshot["snapshotID"]
        # What DRS says the recovery instance was launched from (pointInTimeSnapshotDateTime).
        assert datetime.fromisoformat(row["point_in_time_snapshot"].replace("Z", "+00:00")) == \
            datetime.fromisoformat(snapshot["timestamp"].replace("Z", "+00:00"))
        assert row["rpo_seconds"] >= 2.5 * 3600  # measured from that snapshot (hourly there): hours, not seconds
    assert report["rpo"]["met"] is False  # the plan's 15 min RPO: going back costs the data since
    # Launched from the named snapshots: no fresh snapshot was taken.
    assert _launch_logs(airflow_sim) == {s: {"USING_PREVIOUS_SNAPSHOT"} for s in expected}
    page = read_report_page(dag_run)
    assert expected[DB]["snapshotID"] in page.server_rows[DB][-2]
    assert _iso(at) in page.text


def test_a_time_before_a_servers_first_snapshot_fails_preflight_naming_it(dagbag, airflow_sim, capfd):
    now = datetime.now(timezone.utc)
    airflow_sim.control.replication_started(APP, _iso(now - timedelta(hours=1)))  # app: replicating for an hour
    dag_run = run_dag(dagbag, "drs_three_tier_drill", {"point_in_time": _iso(now - timedelta(hours=2))})
    states = task_states(dag_run)
    assert states["preflight"] == "failed" and str(dag_run.state) in ("failed", "DagRunState.FAILED")
    assert airflow_sim.control.calls().get("StartRecovery", 0) == 0  # nothing launched
    out = "".join(capfd.readouterr())
    assert "nothing was launched" in out
    report = read_report(dag_run)
    assert report["outcome"] == "not_started"
    assert report["point_in_time"] == _iso(now - timedelta(hours=2))
    # The report says why: the finding that stopped the run names the server without a snapshot.
    [stopper] = [f for f in report["readiness"] if f["stopped_the_run"]]
    assert stopper["check"] == "point_in_time"
    assert f"{APP}: no snapshot at or before {_iso(now - timedelta(hours=2))}" in stopper["message"]
    assert f"{DB}: no snapshot" not in stopper["message"]


def test_named_snapshots_for_some_servers_and_latest_for_the_others(dagbag, airflow_sim):
    chosen = _snapshots(airflow_sim, DB)[-4]
    dag_run = run_dag(dagbag, "drs_three_tier_drill", {"point_in_time": json.dumps({DB: chosen["snapshotID"]})})
    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS"), task_states(dag_run)
    rows = {s["source_server_id"]: s for w in read_report(dag_run)["waves"] for s in w["servers"]}
    assert rows[DB]["recovery_snapshot_id"] == chosen["snapshotID"]
    assert all(rows[s]["recovery_snapshot_id"] is None for s in (APP, WEB1, WEB2))
    logs = _launch_logs(airflow_sim)
    assert logs[DB] == {"USING_PREVIOUS_SNAPSHOT"} and logs[APP] == {"SNAPSHOT_START", "SNAPSHOT_END"}
