"""Every DRS response, success or error, is checked against botocore's model of DRS."""

from __future__ import annotations

import json

import botocore.session
import pytest
from botocore.exceptions import ClientError

from tests.airflow_compat import needs_native_recovery_plans

from .conftest import APP, DB, WEB1, WEB2, wait_job_completed, wait_until
from .shape_check import violations

MODEL = botocore.session.get_session().get_service_model("drs")


@pytest.fixture
def raw(drs):
    """Raw (status, headers, parsed JSON body) of every response the client receives."""
    seen: list[tuple[str, int, dict, dict]] = []

    def capture(operation_model, response_dict, **_):
        body = json.loads(response_dict["body"] or b"{}")
        seen.append((operation_model.name, response_dict["status_code"], response_dict["headers"], body))

    drs.meta.events.register("before-parse.drs.*", capture)
    return seen


def assert_conforms(raw, operation):
    checked = 0
    for name, status, _, body in raw:
        if name == operation and status < 300:
            problems = violations(MODEL.operation_model(name).output_shape, body)
            assert not problems, f"{name} response breaks the model:\n" + "\n".join(problems)
            checked += 1
    assert checked, f"no successful {operation} response captured"


def test_describe_source_servers_conforms(drs, raw):
    items = drs.describe_source_servers()["items"]
    assert {s["sourceServerID"] for s in items} == {DB, APP, WEB1, WEB2}
    tiers = {s["sourceServerID"]: s["tags"]["Tier"] for s in items}
    assert tiers == {DB: "database", APP: "app", WEB1: "web", WEB2: "web"}
    hostnames = {s["sourceProperties"]["identificationHints"]["hostname"] for s in items}
    assert hostnames == {"EC2AMAZ-FQTJG64", "EC2AMAZ-H0JBE4J", "EC2AMAZ-4IMB9PN", "EC2AMAZ-RLP9U5V"}
    assert all(s["dataReplicationInfo"]["dataReplicationState"] == "CONTINUOUS" for s in items)
    assert_conforms(raw, "DescribeSourceServers")


def test_full_lifecycle_responses_conform(drs, raw):
    """StartRecovery, polling at every stage, log items, recovery instances, terminate, tags."""
    job = drs.start_recovery(sourceServers=[{"sourceServerID": DB}, {"sourceServerID": APP}], isDrill=True)["job"]
    wait_until(lambda: drs.describe_jobs(filters={"jobIDs": [job["jobID"]]})["items"][0]["status"] == "STARTED")
    drs.describe_job_log_items(jobID=job["jobID"])
    wait_job_completed(drs, job["jobID"])
    drs.describe_job_log_items(jobID=job["jobID"])
    drs.describe_source_servers()
    instances = drs.describe_recovery_instances()["items"]
    assert len(instances) == 2
    terminate = drs.terminate_recovery_instances(recoveryInstanceIDs=[i["recoveryInstanceID"] for i in instances])
    wait_job_completed(drs, terminate["job"]["jobID"])
    drs.describe_job_log_items(jobID=terminate["job"]["jobID"])
    drs.describe_jobs()
    drs.describe_jobs(filters={"fromDate": "2000-01-01T00:00:00Z", "toDate": "2999-01-01T00:00:00.5Z"})
    drs.list_tags_for_resource(resourceArn=job["arn"])
    for operation in ("StartRecovery", "DescribeJobs", "DescribeJobLogItems", "DescribeSourceServers",
                      "DescribeRecoveryInstances", "TerminateRecoveryInstances", "ListTagsForResource"):
        assert_conforms(raw, operation)
    statuses = {s for name, code, _, body in raw if name == "DescribeJobs" for j in body["items"]
                for s in [j["status"]]}
    assert {"STARTED", "COMPLETED"} <= statuses


def test_failed_launch_responses_conform(sim, drs, raw):
    sim.control.fail_server(WEB1, "CONVERSION", "Failed to convert boot volume: bad GPT")
    job = drs.start_recovery(sourceServers=[{"sourceServerID": WEB1}], isDrill=True)["job"]
    wait_job_completed(drs, job["jobID"])
    logs = drs.describe_job_log_items(jobID=job["jobID"])["items"]
    assert logs[-2]["event"] == "CONVERSION_FAIL"
    assert logs[-2]["eventData"]["rawError"] == "Failed to convert boot volume: bad GPT"
    assert_conforms(raw, "DescribeJobLogItems")
    assert_conforms(raw, "DescribeJobs")


def test_pagination_tokens_conform(drs, raw):
    first = drs.describe_source_servers(maxResults=3)
    assert len(first["items"]) == 3 and first["nextToken"]
    second = drs.describe_source_servers(maxResults=3, nextToken=first["nextToken"])
    assert len(second["items"]) == 1 and "nextToken" not in second
    paged = [s["sourceServerID"] for page in drs.get_paginator("describe_source_servers").paginate(
        PaginationConfig={"PageSize": 1}) for s in page["items"]]
    assert paged == [DB, APP, WEB1, WEB2]
    assert_conforms(raw, "DescribeSourceServers")


def error_of(call, **kwargs) -> ClientError:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return info.value


def check_error_shape(raw, code: str, status: int):
    name, got_status, headers, body = raw[-1]
    assert got_status == status
    assert headers["x-amzn-errortype"] == code
    problems = violations(MODEL.shape_for(code), body)
    assert not problems, "\n".join(problems)
    return headers, body


def test_conflict_exception(drs, raw):
    job = drs.start_recovery(sourceServers=[{"sourceServerID": DB}], isDrill=True)["job"]
    err = error_of(drs.start_recovery, sourceServers=[{"sourceServerID": APP}, {"sourceServerID": DB}], isDrill=True)
    assert err.response["Error"]["Code"] == "ConflictException"
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert err.response["resourceId"] == DB
    assert job["jobID"] in err.response["Error"]["Message"]
    check_error_shape(raw, "ConflictException", 409)


def test_service_quota_exceeded(drs, raw):
    servers = [{"sourceServerID": f"s-{i:017d}"} for i in range(101)]
    err = error_of(drs.start_recovery, sourceServers=servers)
    assert err.response["Error"]["Code"] == "ServiceQuotaExceededException"
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 402
    assert err.response["quotaCode"] == "L-B827C881" and err.response["serviceCode"] == "drs"
    check_error_shape(raw, "ServiceQuotaExceededException", 402)


def test_unknown_server_is_resource_not_found(drs, raw):
    err = error_of(drs.start_recovery, sourceServers=[{"sourceServerID": "s-00000000000000000"}])
    assert err.response["Error"]["Code"] == "ResourceNotFoundException"
    assert err.response["resourceId"] == "s-00000000000000000"
    check_error_shape(raw, "ResourceNotFoundException", 404)
    err = error_of(drs.list_tags_for_resource,
                   resourceArn="arn:aws:drs:us-east-1:123456789012:source-server/s-00000000000000000")
    assert err.response["Error"]["Code"] == "ResourceNotFoundException"


def test_validation_exception_names_fields(drs, raw):
    err = error_of(drs.describe_jobs, filters={"jobIDs": ["drsjob-" + "!" * 17]})
    assert err.response["Error"]["Code"] == "ValidationException"
    assert err.response["reason"] == "fieldValidationFailed"
    assert err.response["fieldList"][0]["name"] == "filters.jobIDs[0]"
    check_error_shape(raw, "ValidationException", 400)
    err = error_of(drs.describe_jobs, filters={"fromDate": "2024-01-01T00:00:00+00:00"})
    assert err.response["Error"]["Code"] == "ValidationException"
    err = error_of(drs.describe_jobs, nextToken="garbage")
    assert err.response["Error"]["Code"] == "ValidationException"


def test_throttling_exception(sim, drs, raw):
    sim.control.throttle("DescribeJobs", per_second=2, retry_after_seconds=7)
    drs.describe_jobs()
    drs.describe_jobs()
    err = error_of(drs.describe_jobs)
    assert err.response["Error"]["Code"] == "ThrottlingException"
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert err.response["retryAfterSeconds"] == "7"
    assert err.response["quotaCode"] and err.response["serviceCode"] == "drs"
    headers, _ = check_error_shape(raw, "ThrottlingException", 429)
    assert headers["retry-after"] == "7"
    drs.describe_source_servers()  # other operations are not throttled


def test_internal_server_exception(sim, drs, raw):
    sim.control.error_rate(1.0, ["DescribeSourceServers"])
    err = error_of(drs.describe_source_servers)
    assert err.response["Error"]["Code"] == "InternalServerException"
    check_error_shape(raw, "InternalServerException", 500)
    drs.describe_jobs()  # only the named operation fails


def test_shape_check_catches_broken_bodies():
    """The checker itself must reject what botocore's model rejects, or the tests above prove nothing."""
    job_shape = MODEL.shape_for("Job")
    good = {"jobID": "drsjob-0123456789abcdef0", "status": "STARTED", "creationDateTime": "2026-01-01T00:00:00.5Z"}
    assert violations(job_shape, good) == []
    assert violations(job_shape, {**good, "creationDateTime": "2026-01-01T00:00:00+00:00"})
    assert violations(job_shape, {**good, "status": "RUNNING"})
    assert violations(job_shape, {**good, "surprise": 1})
    assert violations(job_shape, {"status": "STARTED"})  # jobID is required
    assert violations(MODEL.shape_for("RecoveryInstance"), {"recoveryInstanceID": "i-xyz"})


NATIVE_PLAN_OPERATIONS = sorted(name for name in MODEL.operation_names if "RecoveryPlan" in name)


def _server_step(*server_ids, level="CRITICAL"):
    return {"serverStepConfiguration": {"servers": [
        {"serverArn": f"arn:aws:drs:us-east-1:123456789012:source-server/{s}", "impactLevel": level}
        for s in server_ids]}}


def _execution_settled(drs, execution_arn):
    execution = drs.get_recovery_plan_execution(recoveryPlanExecutionArn=execution_arn)["recoveryPlanExecution"]
    return execution if execution["status"] in ("COMPLETED", "FAILED", "CANCELLED") else None


@needs_native_recovery_plans()
def test_native_recovery_plan_responses_conform(sim, drs, raw):
    """Every one of the 20 recovery-plan operations, at every stage an execution goes through."""
    sim.control.set_time_scale(0.01)
    sim.control.fail_server(APP, "LAUNCH", "Simulated launch failure")
    plan = drs.create_recovery_plan(name="conformance", description="all operations", tags={"k": "v"})["recoveryPlan"]
    plan_arn = plan["recoveryPlanArn"]
    drs.update_recovery_plan(recoveryPlanArn=plan_arn, description="updated")
    db = drs.create_recovery_plan_step(recoveryPlanArn=plan_arn, stepName="db", configuration=_server_step(DB, APP))
    pause = drs.create_recovery_plan_step(recoveryPlanArn=plan_arn, stepName="pause",
                                          configuration={"waitStepConfiguration": {"waitDurationMinutes": 1}})
    web = drs.create_recovery_plan_step(recoveryPlanArn=plan_arn, stepName="web", configuration=_server_step(WEB1))
    step_arns = [s["recoveryPlanStep"]["recoveryPlanStepArn"] for s in (db, pause, web)]
    drs.get_recovery_plan_step(recoveryPlanStepArn=step_arns[0])
    drs.update_recovery_plan_step(recoveryPlanStepArn=step_arns[2], configuration=_server_step(WEB1, WEB2, level="OPTIONAL"))
    drs.reorder_recovery_plan_steps(recoveryPlanArn=plan_arn, orderedStepArns=step_arns)
    drs.list_recovery_plan_steps(recoveryPlanArn=plan_arn, maxResults=2)
    drs.get_recovery_plan(recoveryPlanArn=plan_arn)
    drs.list_recovery_plans()

    execution_arn = drs.start_recovery_plan_execution(recoveryPlanArn=plan_arn, mode="DRILL", tags={"run": "1"})[
        "recoveryPlanExecution"]["recoveryPlanExecutionArn"]
    drs.list_tags_for_resource(resourceArn=execution_arn)
    wait_until(lambda: _execution_settled(drs, execution_arn), 20)  # FAILED: APP is critical in step 1
    steps = drs.list_recovery_plan_execution_steps(recoveryPlanExecutionArn=execution_arn)["recoveryPlanExecutionSteps"]
    exec_step_arns = [s["recoveryPlanExecutionStepArn"] for s in steps]
    drs.get_recovery_plan_execution_step(recoveryPlanExecutionStepArn=exec_step_arns[0])
    drs.update_recovery_plan_execution_step(recoveryPlanExecutionStepArn=exec_step_arns[1], waitDurationMinutes=2)
    sim.control.clear_faults()
    drs.retry_recovery_plan_execution_step(recoveryPlanExecutionStepArn=exec_step_arns[0])
    wait_until(lambda: drs.get_recovery_plan_execution_step(recoveryPlanExecutionStepArn=exec_step_arns[1])[
        "recoveryPlanExecutionStep"]["status"] == "WAITING", 10)
    drs.list_recovery_plan_execution_steps(recoveryPlanExecutionArn=execution_arn)
    drs.update_recovery_plan_execution_step(recoveryPlanExecutionStepArn=exec_step_arns[2], status="SKIPPED")
    drs.cancel_recovery_plan_execution(recoveryPlanExecutionArn=execution_arn)
    drs.list_recovery_plan_executions(recoveryPlanArn=plan_arn)
    drs.get_recovery_plan_execution(recoveryPlanExecutionArn=execution_arn)
    drs.delete_recovery_plan_execution(recoveryPlanExecutionArn=execution_arn)
    drs.delete_recovery_plan_step(recoveryPlanStepArn=step_arns[1])
    drs.delete_recovery_plan(recoveryPlanArn=plan_arn)

    for operation in NATIVE_PLAN_OPERATIONS + ["ListTagsForResource"]:
        assert_conforms(raw, operation)
    statuses = {body["recoveryPlanExecution"]["status"] for name, code, _, body in raw
                if name in ("GetRecoveryPlanExecution", "CancelRecoveryPlanExecution") and code < 300}
    assert {"IN_PROGRESS", "FAILED", "CANCELLED"} <= statuses
    step_statuses = {s["status"] for name, code, _, body in raw if code < 300 and "RecoveryPlanExecutionStep" in name
                     for s in body.get("recoveryPlanExecutionSteps") or [body.get("recoveryPlanExecutionStep")]}
    assert {"EXECUTING", "COMPLETED", "FAILED", "WAITING", "NOT_STARTED", "SKIPPED"} <= step_statuses


@needs_native_recovery_plans()
def test_native_recovery_plan_errors_conform(drs, raw):
    plan_arn = drs.create_recovery_plan(name="errors")["recoveryPlan"]["recoveryPlanArn"]
    assert error_of(drs.create_recovery_plan, name="errors").response["Error"]["Code"] == "ConflictException"
    check_error_shape(raw, "ConflictException", 409)
    for index in range(20):
        drs.create_recovery_plan_step(recoveryPlanArn=plan_arn, stepName=f"s{index}",
                                      configuration={"waitStepConfiguration": {"waitDurationMinutes": 1}})
    error_of(drs.create_recovery_plan_step, recoveryPlanArn=plan_arn, stepName="s20",
             configuration={"waitStepConfiguration": {"waitDurationMinutes": 1}})
    check_error_shape(raw, "ServiceQuotaExceededException", 402)
    error_of(drs.get_recovery_plan_execution,
             recoveryPlanExecutionArn="arn:aws:drs:us-east-1:123456789012:recovery-plan-execution/rpe-00000000000000000")
    check_error_shape(raw, "ResourceNotFoundException", 404)
    error_of(drs.create_recovery_plan_step, recoveryPlanArn=plan_arn, stepName="bad", configuration=_server_step(
        "s-00000000000000000"))
    check_error_shape(raw, "ValidationException", 400)
