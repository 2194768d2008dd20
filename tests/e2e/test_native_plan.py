"""A plan with `native_plan:` run by Airflow (dag.test) against the simulator: DRS's native plan
launches the servers; Airflow's drill cleans up after it and reports it like waves."""

from __future__ import annotations

import pytest

from airflow_provider_drs.reports.storage import report_path
from tests.airflow_compat import needs_native_recovery_plans
from tests.e2e.helpers import HitlResponder, read_report, run_dag, running_instance_states, task_states
from tests.native_plans import create_native_plan

DB, APP, WEB1 = "s-3578f52ef3bdd58b4", "s-0e5a9c4b2f7d18e36", "s-3c1730a9e0771ea14"
STEPS = [("database", {DB: "CRITICAL"}), ("pause", 1), ("app-and-web", {APP: "CRITICAL", WEB1: "OPTIONAL"})]
DAG_ID = "drs_native_three_tier_drill"
pytestmark = pytest.mark.timeout(300)


def test_native_plan_dags_load_on_every_supported_airflow(test_dagbag):
    # Parse time never calls DRS: the DAGs load even where botocore predates native plans.
    assert {DAG_ID, "drs_native_three_tier_recovery"} <= set(test_dagbag.dag_ids)
    assert "drs_native_three_tier_failback" not in test_dagbag.dag_ids


@needs_native_recovery_plans()
def test_native_drill_launches_reports_and_cleans_up(test_dagbag, airflow_sim):
    plan_arn = create_native_plan(airflow_sim.endpoint_url, "three-tier-native", STEPS)
    ec2 = airflow_sim.client("ec2")
    bystander = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]

    dag_run = run_dag(test_dagbag, DAG_ID)

    states = task_states(dag_run)
    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS"), states
    report = read_report(dag_run)
    assert [w["name"] for w in report["waves"]] == ["database", "app-and-web"]
    launched = {s["ec2_instance_id"] for w in report["waves"] for s in w["servers"]}
    assert len(launched) == 3 and None not in launched
    assert {t["ec2_instance_id"] for t in report["cleanup"]["terminated"]} == launched
    instances = running_instance_states(ec2)
    assert {instances[i] for i in launched} == {"terminated"} and instances[bystander] == "running"
    native = report["native_plan"]
    assert native["name"] == "three-tier-native" and native["arn"] == plan_arn and native["status"] == "COMPLETED"
    assert native["execution_arn"] in native["summary"]
    page = report_path(dag_run.dag_id, dag_run.run_id).with_suffix(".html").read_text()
    assert f"ran as DRS native recovery plan three-tier-native (execution {native['execution_arn']}), ended COMPLETED" in page
    assert [(s["name"], s["kind"], s["status"]) for s in native["steps"]] == [
        ("database", "servers", "COMPLETED"), ("pause", "wait", "COMPLETED"), ("app-and-web", "servers", "COMPLETED")]
    assert report["rto"]["met"] is True and report["rto"]["achieved_seconds"] > 0
    assert airflow_sim.control.calls()["StartRecoveryPlanExecution"] == 1


@needs_native_recovery_plans()
def test_native_drill_critical_failure_fails_the_run_and_still_cleans_up(test_dagbag, airflow_sim):
    create_native_plan(airflow_sim.endpoint_url, "three-tier-native", STEPS)
    airflow_sim.control.fail_server(APP, "LAUNCH", raw_error="InsufficientInstanceCapacity")

    dag_run = run_dag(test_dagbag, DAG_ID)

    states = task_states(dag_run)
    assert str(dag_run.state) in ("failed", "DagRunState.FAILED"), states
    assert states["wait_for_native_plan"] == "failed"
    assert (states["cleanup"], states["report"], states["verdict"]) == ("success", "success", "failed")
    report = read_report(dag_run)
    assert report["outcome"] == "failed" and report["native_plan"]["status"] == "FAILED"
    app_row = next(s for w in report["waves"] for s in w["servers"] if s["source_server_id"] == APP)
    assert (app_row["launch_status"], app_row["failed_phase"], app_row["raw_error"]) == (
        "FAILED", "LAUNCH", "InsufficientInstanceCapacity")
    launched = {s["ec2_instance_id"] for w in report["waves"] for s in w["servers"] if s["ec2_instance_id"]}
    assert launched and {t["ec2_instance_id"] for t in report["cleanup"]["terminated"]} == launched
    instances = running_instance_states(airflow_sim.client("ec2"))
    assert {instances[i] for i in launched} == {"terminated"}


@needs_native_recovery_plans()
def test_native_recovery_waits_for_approval_then_runs_in_recovery_mode(test_dagbag, airflow_sim):
    create_native_plan(airflow_sim.endpoint_url, "three-tier-native", STEPS)
    responder = HitlResponder("drs_native_three_tier_recovery", "approve", airflow_sim)
    responder.start()
    dag_run = run_dag(test_dagbag, "drs_native_three_tier_recovery")
    responder.join(timeout=10)

    assert responder.answered == "Approve"
    assert responder.calls_when_waiting.get("StartRecoveryPlanExecution", 0) == 0  # nothing before the yes
    assert f"Servers of native plan three-tier-native: {DB}, {APP}, {WEB1}." in responder.body_when_waiting
    assert "nothing will be replaced" in responder.body_when_waiting
    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS"), task_states(dag_run)
    instances = airflow_sim.client("drs").describe_recovery_instances()["items"]
    assert len(instances) == 3 and {i["isDrill"] for i in instances} == {False}  # kept: no cleanup
    report = read_report(dag_run)
    assert report["cleanup"] is None and report["native_plan"]["status"] == "COMPLETED"
    assert report["approval"]["by"] == "SRE on call"
