"""The CloudWatch metrics of a run, from its report."""

from airflow_provider_drs.reports.metrics import metric_data
from airflow_provider_drs.reports.run_report import build_report

PLAN = {"name": "shop", "rto_minutes": 30}


def report(status, outcome_approval=None, mode="drill"):
    result = {"launch_status": status, "launched_at": "2026-11-02T06:00:40Z" if status == "LAUNCHED" else None,
              "point_in_time_snapshot": "2026-11-02T05:59:00Z", "phases": {}}
    return build_report(plan=PLAN, mode=mode, dag_id="d", run_id="r", started_at="2026-11-02T06:00:00Z",
                        finished_at="2026-11-02T06:01:00Z", approval=outcome_approval, waves=[
                            {"name": "db", "servers": ["s-a", "s-b"], "results": {"s-a": result, "s-b": {
                                **result, "launch_status": "LAUNCHED"}}, "optional": ["s-b"],
                             "job": {"job_id": "j", "creation_date_time": "2026-11-02T06:00:00Z"}}])


def values(data):
    return {d["MetricName"]: d["Value"] for d in data}


def test_a_successful_drill_sends_its_rto_and_rpo_dimensioned_by_plan_and_mode():
    data = metric_data(report("LAUNCHED"))
    assert values(data) == {"RunSucceeded": 1.0, "ServersLaunched": 2.0, "ServersFailed": 0.0,
                            "AchievedRTOSeconds": 40.0, "WorstRPOSeconds": 60.0}
    assert {tuple((d["Name"], d["Value"]) for d in m["Dimensions"]) for m in data} == {
        (("Plan", "shop"), ("Mode", "drill"))}
    assert {m["Timestamp"].isoformat() for m in data} == {"2026-11-02T06:01:00+00:00"}


def test_a_failed_critical_server_sends_zero_success_and_no_rto():
    assert values(metric_data(report("FAILED"))) == {"RunSucceeded": 0.0, "ServersLaunched": 1.0, "ServersFailed": 1.0,
                                                     "WorstRPOSeconds": 60.0}


def test_a_rejected_recovery_sends_no_success_value():
    rejected = {"decision": "rejected", "by": "x", "at": "2026-11-02T06:00:10Z"}
    assert "RunSucceeded" not in values(metric_data(report("NOT_STARTED", rejected, mode="recovery")))
