"""The run report: achieved RTO, outcome and the table, from the values the DAG's tasks return."""

from airflow_provider_drs.reports.run_report import build_report, format_table

PLAN = {"name": "three-tier", "description": "d", "rto_minutes": 1, "region": "us-east-1"}


def result(server, status, launched_at=None, phase=None):
    return {"launch_status": status, "launched_at": launched_at, "failed_phase": phase, "ec2_instance_id":
            "i-0123456789abcdef0" if status == "LAUNCHED" else None, "phases": {}}


def wave(name, servers, created, results, optional=()):
    return {"name": name, "depends_on": [], "optional": list(optional), "servers": servers,
            "job": {"job_id": f"drsjob-{name:0>17}"[:24], "creation_date_time": created} if created else None,
            "results": results}


def test_rto_runs_from_first_start_to_last_launch_and_includes_optional_servers():
    report = build_report(plan=PLAN, mode="drill", dag_id="d", run_id="r", started_at=None, finished_at=None, waves=[
        wave("db", ["s-a"], "2026-11-02T06:00:00Z", {"s-a": result("s-a", "LAUNCHED", "2026-11-02T06:00:20Z")}),
        wave("web", ["s-b", "s-c"], "2026-11-02T06:00:25Z", {
            "s-b": result("s-b", "LAUNCHED", "2026-11-02T06:00:50Z"),
            "s-c": result("s-c", "LAUNCHED", "2026-11-02T06:01:10.5Z")}, optional=["s-c"]),
    ], cleanup=[{"ec2_instance_id": "i-1"}], cleanup_policy="always")
    assert report["rto"]["achieved_seconds"] == 70.5
    assert report["rto"]["met"] is False  # target 1 min
    assert report["outcome"] == "succeeded"
    assert report["waves"][1]["servers"][0]["seconds_to_launch"] == 25.0
    assert "Achieved RTO: 70.5 s (1.18 min) against a target of 1 min: MISSED" in format_table(report)


def test_a_failed_critical_server_means_no_achieved_rto():
    report = build_report(plan=PLAN, mode="recovery", dag_id="d", run_id="r", started_at=None, finished_at=None, waves=[
        wave("db", ["s-a"], "2026-11-02T06:00:00Z", {"s-a": result("s-a", "FAILED", phase="CONVERSION")}),
        wave("web", ["s-b"], None, None),
    ])
    assert report["outcome"] == "failed"
    assert report["rto"]["achieved_seconds"] is None and report["rto"]["met"] is False
    assert report["rto"]["why_not_achieved"] == ("critical servers did not launch: s-a; "
                                                 "waves never started a recovery job: web")
    assert report["waves"][1]["servers"][0]["launch_status"] == "NOT_STARTED"
    assert report["cleanup"] is None


def test_nothing_started_and_cleanup_that_did_not_run():
    report = build_report(plan=PLAN, mode="drill", dag_id="d", run_id="r", started_at=None, finished_at=None,
                          waves=[wave("db", ["s-a"], None, None)], cleanup=None, cleanup_policy="on_success")
    assert report["outcome"] == "not_started"
    assert "Cleanup (on_success): did not run" in format_table(report)


def test_the_service_is_back_when_the_post_actions_finish():
    db = wave("db", ["s-a"], "2026-11-02T06:00:00Z", {"s-a": result("s-a", "LAUNCHED", "2026-11-02T06:00:20Z")})
    web = wave("web", ["s-b"], "2026-11-02T06:00:25Z", {"s-b": result("s-b", "LAUNCHED", "2026-11-02T06:00:50Z")})
    finished = {**db, "post_tasks": ["db.post_1_ssm_automation", "db.post_2_approval"],
                "post_actions_finished": ["2026-11-02T06:00:30Z", "2026-11-02T06:01:40Z"]}
    report = build_report(plan=PLAN, mode="drill", dag_id="d", run_id="r", started_at="2026-11-02T05:59:50Z",
                          finished_at=None, waves=[finished, web])
    # The db wave's approval, answered after web launched, is what brought the service back.
    assert report["rto"]["service_back_at"] == "2026-11-02T06:01:40Z"
    assert report["rto"]["achieved_seconds"] == 100.0 and report["rto"]["time_to_recover_seconds"] == 110.0
    assert report["waves"][0]["post_actions"] == 2

    unfinished = {**finished, "post_actions_finished": ["2026-11-02T06:00:30Z", None]}
    report = build_report(plan=PLAN, mode="drill", dag_id="d", run_id="r", started_at=None, finished_at=None,
                          waves=[unfinished, web])
    assert report["outcome"] == "failed" and report["rto"]["achieved_seconds"] is None
    assert report["rto"]["why_not_achieved"] == "post actions did not finish in waves: db"
    assert report["waves"][0]["post_actions_finished_at"] is None


def test_a_gated_wave_is_back_when_its_gate_passes():
    db = wave("db", ["s-a", "s-c"], "2026-11-02T06:00:00Z", {
        "s-a": result("s-a", "LAUNCHED", "2026-11-02T06:00:20Z"), "s-c": result("s-c", "LAUNCHED", "2026-11-02T06:00:21Z")},
        optional=["s-c"])
    web = wave("web", ["s-b"], "2026-11-02T06:00:25Z", {"s-b": result("s-b", "LAUNCHED", "2026-11-02T06:00:50Z")})
    records = {"s-a": {"state": "passed", "ready_at": "2026-11-02T06:02:00+00:00", "optional": False},
               "s-c": {"state": "failed", "ready_at": None, "optional": True, "failed_check": "probes",
                       "detail": "timed out after 5 min: probe Failed: refused"}}
    gated = {**db, "gate_task": "db.wait_until_ready", "gate": records}
    report = build_report(plan=PLAN, mode="drill", dag_id="d", run_id="r", started_at=None, finished_at=None,
                          waves=[gated, web])
    # The optional server's failed gate only warns; the database answering is when the service is back.
    assert report["outcome"] == "succeeded"
    assert report["rto"]["service_back_at"] == "2026-11-02T06:02:00+00:00" and report["rto"]["achieved_seconds"] == 120.0
    assert report["waves"][0]["gate"] == {"state": "passed", "passed_at": "2026-11-02T06:02:00+00:00"}
    (a, c) = report["waves"][0]["servers"]
    assert a["ready_at"] == "2026-11-02T06:02:00+00:00" and a["gate"]["state"] == "passed"
    assert c["gate"] == {"state": "failed", "failed_check": "probes", "detail": "timed out after 5 min: probe Failed: refused"}
    assert "gate" not in report["waves"][1]["servers"][0] and report["waves"][1]["gate"] is None

    failed = {**gated, "gate": {**records, "s-a": {**records["s-a"], "state": "failed", "ready_at": None}}}
    report = build_report(plan=PLAN, mode="drill", dag_id="d", run_id="r", started_at=None, finished_at=None,
                          waves=[failed, web])
    assert report["outcome"] == "failed" and report["rto"]["achieved_seconds"] is None
    assert report["rto"]["why_not_achieved"] == "the ready_when gate did not pass in waves: db"
    never = {**gated, "gate": None}
    report = build_report(plan=PLAN, mode="drill", dag_id="d", run_id="r", started_at=None, finished_at=None,
                          waves=[never, web])
    assert report["waves"][0]["gate"]["state"] == "not_run" and report["outcome"] == "failed"
