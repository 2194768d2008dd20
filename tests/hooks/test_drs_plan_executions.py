"""fold_execution: a native plan execution's steps and jobs as per-server results (pure, no AWS)."""

from __future__ import annotations

from airflow_provider_drs.hooks.drs_plan_executions import (
    execution_client_token,
    fold_execution,
    server_id_of,
)
from airflow_provider_drs.hooks.drs_safety import RunRef

ARN = "arn:aws:drs:us-east-1:123456789012:source-server/"
DB, APP, WEB = "s-3578f52ef3bdd58b4", "s-0e5a9c4b2f7d18e36", "s-3c1730a9e0771ea14"
EXECUTION = {"recoveryPlanExecutionArn": "arn:aws:drs:us-east-1:123456789012:recovery-plan-execution/e-1",
             "recoveryPlanArn": "arn:aws:drs:us-east-1:123456789012:recovery-plan/p-1", "mode": "DRILL",
             "status": "FAILED", "startedAt": "2026-11-29T10:00:00Z",
             "errorDetail": {"code": "STEP_FAILED", "message": "step app failed"}}


def step(index, name, status, servers=None, wait=None):
    config = ({"waitStepConfiguration": {"waitDurationMinutes": wait}} if wait else
              {"executionServerStepConfiguration": {"servers": servers}})
    return {"recoveryPlanExecutionStepArn": f"arn:step/{index}", "stepIndex": index, "stepName": name,
            "status": status, "configuration": config, "attempt": 1,
            "createdAt": "2026-11-29T10:00:00Z", "updatedAt": "2026-11-29T10:05:00Z"}


def job(job_id, *servers):
    return {"jobID": job_id, "status": "COMPLETED", "type": "LAUNCH", "initiatedBy": "START_DRILL",
            "participatingServers": [{"sourceServerID": s, "launchStatus": st} for s, st in servers]}


def test_every_server_judged_from_its_job_and_unlaunched_steps_count():
    steps = [
        step(2, "app", "FAILED", [{"serverArn": ARN + APP, "impactLevel": "CRITICAL", "jobID": "drsjob-2"},
                                  {"serverArn": ARN + WEB, "impactLevel": "OPTIONAL", "jobID": "drsjob-2"}]),
        step(1, "database", "COMPLETED", [{"serverArn": ARN + DB, "impactLevel": "CRITICAL", "jobID": "drsjob-1"}]),
        step(3, "pause", "SKIPPED", wait=5),
        step(4, "late", "SKIPPED", [{"serverArn": ARN + "s-3d75cdc0d9a28a725", "impactLevel": "CRITICAL"}]),
    ]
    jobs = {"drsjob-1": job("drsjob-1", (DB, "LAUNCHED")), "drsjob-2": job("drsjob-2", (APP, "FAILED"), (WEB, "LAUNCHED"))}
    logs = {"drsjob-1": [{"event": "JOB_END", "logDateTime": "2026-11-29T10:04:00Z"}],
            "drsjob-2": [{"event": "LAUNCH_FAILED", "logDateTime": "2026-11-29T10:09:00Z",
                          "eventData": {"sourceServerID": APP, "rawError": "no capacity"}}]}
    instances = [{"recoveryInstanceID": "i-0aa", "ec2InstanceID": "i-0aa", "sourceServerID": DB, "jobID": "drsjob-1",
                  "isDrill": True}]
    folded = fold_execution(EXECUTION, steps, jobs, logs, instances)

    assert [s["name"] for s in folded["steps"]] == ["database", "app", "pause", "late"]
    assert folded["steps"][2]["kind"] == "wait" and folded["steps"][2]["wait_minutes"] == 5
    assert folded["steps"][1]["job_ids"] == ["drsjob-2"] and folded["steps"][1]["optional"] == [WEB]
    assert folded["status"] == "FAILED" and folded["error"] == "STEP_FAILED: step app failed"
    results = folded["results"]
    assert results[DB]["launch_status"] == "LAUNCHED" and results[DB]["ec2_instance_id"] == "i-0aa"
    assert results[DB]["launched_at"] == "2026-11-29T10:04:00Z" and results[DB]["step"] == "database"
    assert results[APP]["launch_status"] == "FAILED" and results[APP]["failed_phase"] == "LAUNCH"
    assert results[APP]["raw_error"] == "no capacity" and results[APP]["impact_level"] == "CRITICAL"
    assert results[WEB]["impact_level"] == "OPTIONAL" and results[WEB]["job_id"] == "drsjob-2"
    late = results["s-3d75cdc0d9a28a725"]
    assert late["launch_status"] == "PENDING" and late["job_id"] is None
    assert late["failed_phase"] == "NOT_LAUNCHED (step late SKIPPED)"


def test_client_token_is_per_run_and_fits_drs():
    one, other = RunRef("drs_x_drill", "manual__1"), RunRef("drs_x_drill", "manual__2")
    token = execution_client_token(one, EXECUTION["recoveryPlanArn"], "DRILL")
    assert token == execution_client_token(one, EXECUTION["recoveryPlanArn"], "DRILL")
    assert token != execution_client_token(other, EXECUTION["recoveryPlanArn"], "DRILL")
    assert token != execution_client_token(one, EXECUTION["recoveryPlanArn"], "RECOVERY")
    assert len(token) <= 64


def test_server_id_of_arn_or_id():
    assert server_id_of(ARN + DB) == DB
    assert server_id_of(DB) == DB
