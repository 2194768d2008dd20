"""DRS native recovery plans in the simulator, through boto3 over HTTP: plan and step CRUD with every
refusal, and executions that launch real (simulated) jobs step by step."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.airflow_compat import needs_native_recovery_plans

from .conftest import APP, DB, WEB1, WEB2, wait_until

pytestmark = needs_native_recovery_plans()

TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}


def server_arn(server_id: str, region: str = "us-east-1") -> str:
    return f"arn:aws:drs:{region}:123456789012:source-server/{server_id}"


def servers(*entries) -> dict:
    """serverStepConfiguration from ids, or (id, impactLevel) pairs."""
    items = []
    for entry in entries:
        server_id, level = entry if isinstance(entry, tuple) else (entry, None)
        items.append({"serverArn": server_arn(server_id), **({"impactLevel": level} if level else {})})
    return {"serverStepConfiguration": {"servers": items}}


def wait(minutes: int) -> dict:
    return {"waitStepConfiguration": {"waitDurationMinutes": minutes}}


def error_of(call, **kwargs) -> ClientError:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return info.value


def code(err: ClientError) -> str:
    return err.response["Error"]["Code"]


@pytest.fixture
def fast(sim):
    sim.control.set_time_scale(0.01)  # a launch ~0.06 s, a 1-minute wait step 0.6 s
    return sim


def plan_with(drs, name: str, *configurations) -> str:
    plan_arn = drs.create_recovery_plan(name=name)["recoveryPlan"]["recoveryPlanArn"]
    for index, configuration in enumerate(configurations, 1):
        drs.create_recovery_plan_step(recoveryPlanArn=plan_arn, stepName=f"step-{index}", configuration=configuration)
    return plan_arn


def steps_of(drs, execution_arn: str) -> list[dict]:
    return drs.list_recovery_plan_execution_steps(recoveryPlanExecutionArn=execution_arn)["recoveryPlanExecutionSteps"]


def execution(drs, execution_arn: str) -> dict:
    return drs.get_recovery_plan_execution(recoveryPlanExecutionArn=execution_arn)["recoveryPlanExecution"]


def wait_status(drs, execution_arn: str, statuses: set[str], timeout: float = 20.0) -> dict:
    def reached():
        current = execution(drs, execution_arn)
        return current if current["status"] in statuses else None

    return wait_until(reached, timeout, what=f"execution in {statuses}")


# -- plans and steps ---------------------------------------------------------------------------------
def test_plan_crud_names_and_tags(drs):
    created = drs.create_recovery_plan(name="three tier", description="db then web", tags={"Owner": "sre"})
    plan = created["recoveryPlan"]
    assert plan["recoveryPlanArn"].startswith("arn:aws:drs:us-east-1:123456789012:recovery-plan/rp-")
    assert plan["status"] == "INVALID" and plan["description"] == "db then web"  # no server step yet
    assert drs.get_recovery_plan(recoveryPlanArn=plan["recoveryPlanArn"])["recoveryPlan"] == plan
    assert drs.list_tags_for_resource(resourceArn=plan["recoveryPlanArn"])["tags"] == {"Owner": "sre"}
    drs.tag_resource(resourceArn=plan["recoveryPlanArn"], tags={"Tier": "all"})
    drs.untag_resource(resourceArn=plan["recoveryPlanArn"], tagKeys=["Owner"])
    assert drs.get_recovery_plan(recoveryPlanArn=plan["recoveryPlanArn"])["recoveryPlan"]["tags"] == {"Tier": "all"}

    err = error_of(drs.create_recovery_plan, name="three tier")
    assert code(err) == "ConflictException" and plan["recoveryPlanArn"] in str(err)
    other = drs.create_recovery_plan(name="other")["recoveryPlan"]
    assert code(error_of(drs.update_recovery_plan, recoveryPlanArn=other["recoveryPlanArn"],
                         name="three tier")) == "ConflictException"
    renamed = drs.update_recovery_plan(recoveryPlanArn=other["recoveryPlanArn"], name="renamed", description="x")
    assert renamed["recoveryPlan"]["name"] == "renamed" and renamed["recoveryPlan"]["description"] == "x"

    drs.create_recovery_plan_step(recoveryPlanArn=other["recoveryPlanArn"], stepName="pause", configuration=wait(1))
    assert drs.get_recovery_plan(recoveryPlanArn=other["recoveryPlanArn"])["recoveryPlan"]["status"] == "INVALID"
    drs.create_recovery_plan_step(recoveryPlanArn=other["recoveryPlanArn"], stepName="db", configuration=servers(DB))
    assert drs.get_recovery_plan(recoveryPlanArn=other["recoveryPlanArn"])["recoveryPlan"]["status"] == "ACTIVE"
    assert drs.delete_recovery_plan(recoveryPlanArn=other["recoveryPlanArn"])["recoveryPlanArn"] == other["recoveryPlanArn"]
    err = error_of(drs.get_recovery_plan, recoveryPlanArn=other["recoveryPlanArn"])
    assert code(err) == "ResourceNotFoundException" and err.response["resourceId"] == other["recoveryPlanArn"]
    assert [p["name"] for p in drs.list_recovery_plans()["recoveryPlans"]] == ["three tier"]


def test_steps_insert_at_order_or_append_and_reorder(drs):
    plan_arn = drs.create_recovery_plan(name="p")["recoveryPlan"]["recoveryPlanArn"]
    first = drs.create_recovery_plan_step(recoveryPlanArn=plan_arn, stepName="db", configuration=servers(DB))
    assert first["recoveryPlanStep"]["stepOrder"] == 1
    drs.create_recovery_plan_step(recoveryPlanArn=plan_arn, stepName="web", configuration=servers(WEB1, (WEB2, "OPTIONAL")))
    drs.create_recovery_plan_step(recoveryPlanArn=plan_arn, stepName="pause", configuration=wait(5), stepOrder=2)
    listed = drs.list_recovery_plan_steps(recoveryPlanArn=plan_arn)["recoveryPlanSteps"]
    assert [(s["stepOrder"], s["stepName"]) for s in listed] == [(1, "db"), (2, "pause"), (3, "web")]
    assert listed[2]["configuration"]["serverStepConfiguration"]["servers"][1]["impactLevel"] == "OPTIONAL"
    arns = {s["stepName"]: s["recoveryPlanStepArn"] for s in listed}
    assert arns["db"].startswith(plan_arn + "/step/")

    err = error_of(drs.create_recovery_plan_step, recoveryPlanArn=plan_arn, stepName="gap", configuration=wait(1),
                   stepOrder=9)
    assert code(err) == "ValidationException"

    reordered = drs.reorder_recovery_plan_steps(recoveryPlanArn=plan_arn,
                                                orderedStepArns=[arns["web"], arns["db"], arns["pause"]])
    assert [s["stepName"] for s in reordered["recoveryPlanSteps"]] == ["web", "db", "pause"]
    for bad in ([arns["web"], arns["db"]], [arns["web"], arns["db"], arns["db"]],
                [arns["web"], arns["db"], arns["pause"], plan_arn + "/step/rps-00000000000000000"]):
        err = error_of(drs.reorder_recovery_plan_steps, recoveryPlanArn=plan_arn, orderedStepArns=bad)
        assert code(err) == "ValidationException", bad
    assert "missing" in str(error_of(drs.reorder_recovery_plan_steps, recoveryPlanArn=plan_arn,
                                     orderedStepArns=[arns["web"], arns["db"]]))

    updated = drs.update_recovery_plan_step(recoveryPlanStepArn=arns["pause"], stepName="longer pause",
                                            configuration=wait(10))["recoveryPlanStep"]
    assert updated["stepName"] == "longer pause" and updated["stepOrder"] == 3
    err = error_of(drs.update_recovery_plan_step, recoveryPlanStepArn=arns["pause"], configuration=servers(APP))
    assert code(err) == "ValidationException" and "type" in str(err)
    assert drs.get_recovery_plan_step(recoveryPlanStepArn=arns["pause"])["recoveryPlanStep"] == updated
    drs.delete_recovery_plan_step(recoveryPlanStepArn=arns["db"])
    assert [s["stepOrder"] for s in drs.list_recovery_plan_steps(recoveryPlanArn=plan_arn)["recoveryPlanSteps"]] == [1, 2]
    assert code(error_of(drs.get_recovery_plan_step, recoveryPlanStepArn=arns["db"])) == "ResourceNotFoundException"


@pytest.fixture
def unchecked(sim):
    """A client that sends what botocore would refuse, to see the service's own validation."""
    from botocore.config import Config

    return sim.client("drs", config=Config(parameter_validation=False, retries={"total_max_attempts": 1}))


def test_step_refusals(drs, unchecked):
    plan_arn = drs.create_recovery_plan(name="p")["recoveryPlan"]["recoveryPlanArn"]
    drs.create_recovery_plan_step(recoveryPlanArn=plan_arn, stepName="db", configuration=servers(DB))
    assert code(error_of(drs.create_recovery_plan_step, recoveryPlanArn=plan_arn, stepName="db",
                         configuration=wait(1))) == "ConflictException"
    unknown = "s-00000000000000000"
    err = error_of(drs.create_recovery_plan_step, recoveryPlanArn=plan_arn, stepName="x", configuration=servers(unknown))
    assert code(err) == "ValidationException" and unknown in str(err)
    err = error_of(drs.create_recovery_plan_step, recoveryPlanArn=plan_arn, stepName="again",
                   configuration=servers(APP, DB))
    assert code(err) == "ValidationException" and DB in str(err) and "db" in str(err)
    err = error_of(drs.create_recovery_plan_step, recoveryPlanArn=plan_arn, stepName="twice",
                   configuration=servers(APP, APP))
    assert code(err) == "ValidationException" and APP in str(err)
    err = error_of(unchecked.create_recovery_plan_step, recoveryPlanArn=plan_arn, stepName="both",
                   configuration={**servers(APP), **wait(1)})
    assert code(err) == "ValidationException" and "exactly one" in str(err)
    err = error_of(unchecked.create_recovery_plan_step, recoveryPlanArn=plan_arn, stepName="long",
                   configuration=wait(121))
    assert code(err) == "ValidationException" and err.response["fieldList"][0]["name"].endswith("waitDurationMinutes")
    missing_plan = plan_arn[:-5] + "00000"
    assert code(error_of(drs.create_recovery_plan_step, recoveryPlanArn=missing_plan, stepName="x",
                         configuration=wait(1))) == "ResourceNotFoundException"


def test_twenty_step_quota(drs):
    plan_arn = plan_with(drs, "p", *[wait(1)] * 20)
    err = error_of(drs.create_recovery_plan_step, recoveryPlanArn=plan_arn, stepName="21st", configuration=wait(1))
    assert code(err) == "ServiceQuotaExceededException"
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 402 and err.response["resourceId"] == plan_arn


def test_client_tokens_are_idempotent(fast, drs):
    first = drs.create_recovery_plan(name="p", clientToken="tok-1")["recoveryPlan"]
    again = drs.create_recovery_plan(name="p", clientToken="tok-1")["recoveryPlan"]
    assert again["recoveryPlanArn"] == first["recoveryPlanArn"]
    assert code(error_of(drs.create_recovery_plan, name="q", clientToken="tok-1")) == "ConflictException"
    assert len(drs.list_recovery_plans()["recoveryPlans"]) == 1

    plan_arn = first["recoveryPlanArn"]
    step = dict(recoveryPlanArn=plan_arn, stepName="db", configuration=servers(DB), clientToken="s-1")
    assert (drs.create_recovery_plan_step(**step)["recoveryPlanStep"]["recoveryPlanStepArn"]
            == drs.create_recovery_plan_step(**step)["recoveryPlanStep"]["recoveryPlanStepArn"])
    assert len(drs.list_recovery_plan_steps(recoveryPlanArn=plan_arn)["recoveryPlanSteps"]) == 1

    start = dict(recoveryPlanArn=plan_arn, mode="DRILL", clientToken="run-1")
    one = drs.start_recovery_plan_execution(**start)["recoveryPlanExecution"]
    two = drs.start_recovery_plan_execution(**start)["recoveryPlanExecution"]
    assert one["recoveryPlanExecutionArn"] == two["recoveryPlanExecutionArn"]
    assert len(drs.list_recovery_plan_executions()["recoveryPlanExecutions"]) == 1
    wait_status(drs, one["recoveryPlanExecutionArn"], TERMINAL)
    assert len(drs.describe_jobs()["items"]) == 1  # one job: the replayed start launched nothing


def test_pagination(fast, drs):
    for index in range(5):
        drs.create_recovery_plan(name=f"plan-{index}")
    first = drs.list_recovery_plans(maxResults=2)
    assert len(first["recoveryPlans"]) == 2 and first["nextToken"]
    names = [p["name"] for page in drs.get_paginator("list_recovery_plans").paginate(PaginationConfig={"PageSize": 2})
             for p in page["recoveryPlans"]]
    assert names == [f"plan-{i}" for i in range(5)]
    assert code(error_of(drs.list_recovery_plans, nextToken="garbage")) == "ValidationException"

    plan_arn = plan_with(drs, "stepped", wait(120), servers(DB), wait(1))
    page = drs.list_recovery_plan_steps(recoveryPlanArn=plan_arn, maxResults=2)
    rest = drs.list_recovery_plan_steps(recoveryPlanArn=plan_arn, maxResults=2, nextToken=page["nextToken"])
    assert [s["stepOrder"] for s in page["recoveryPlanSteps"] + rest["recoveryPlanSteps"]] == [1, 2, 3]
    assert "nextToken" not in rest

    execution_arn = drs.start_recovery_plan_execution(recoveryPlanArn=plan_arn, mode="DRILL")[
        "recoveryPlanExecution"]["recoveryPlanExecutionArn"]
    page = drs.list_recovery_plan_execution_steps(recoveryPlanExecutionArn=execution_arn, maxResults=1)
    assert len(page["recoveryPlanExecutionSteps"]) == 1 and page["nextToken"]
    drs.cancel_recovery_plan_execution(recoveryPlanExecutionArn=execution_arn)
    listed = drs.list_recovery_plan_executions(recoveryPlanArn=plan_arn, maxResults=1)
    assert len(listed["recoveryPlanExecutions"]) == 1 and "nextToken" not in listed


# -- executions -------------------------------------------------------------------------------------
def test_execution_runs_steps_in_order_and_completes(fast, drs):
    plan_arn = plan_with(drs, "three tier", servers(DB, (APP, "OPTIONAL")), wait(1), servers(WEB1, WEB2))
    started = drs.start_recovery_plan_execution(recoveryPlanArn=plan_arn, mode="DRILL", tags={"Run": "1"})
    execution_arn = started["recoveryPlanExecution"]["recoveryPlanExecutionArn"]
    assert started["recoveryPlanExecution"]["status"] == "CREATED"
    assert execution_arn.startswith("arn:aws:drs:us-east-1:123456789012:recovery-plan-execution/rpe-")
    assert drs.list_tags_for_resource(resourceArn=execution_arn)["tags"] == {"Run": "1"}

    seen = []  # (execution status, step statuses) as a client polling sees them

    def done():
        current = execution(drs, execution_arn)
        statuses = tuple(s["status"] for s in steps_of(drs, execution_arn))
        if not seen or seen[-1] != (current["status"], statuses):
            seen.append((current["status"], statuses))
        return current if current["status"] in TERMINAL else None

    final = wait_until(done, 20, interval=0.02)
    assert final["status"] == "COMPLETED" and "completedAt" in final
    # One step at a time, in order; the wait step WAITING between the two server steps.
    assert ("IN_PROGRESS", ("EXECUTING", "NOT_STARTED", "NOT_STARTED")) in seen
    assert ("IN_PROGRESS", ("COMPLETED", "WAITING", "NOT_STARTED")) in seen
    assert ("IN_PROGRESS", ("COMPLETED", "COMPLETED", "EXECUTING")) in seen
    for _, statuses in seen:  # done steps, at most one running step, then steps not started
        ranks = [{"COMPLETED": 0, "EXECUTING": 1, "WAITING": 1, "NOT_STARTED": 2}[s] for s in statuses]
        assert ranks == sorted(ranks) and ranks.count(1) <= 1, statuses

    steps = steps_of(drs, execution_arn)
    db_servers = steps[0]["configuration"]["executionServerStepConfiguration"]["servers"]
    web_servers = steps[2]["configuration"]["executionServerStepConfiguration"]["servers"]
    assert {s["impactLevel"] for s in db_servers} == {"CRITICAL", "OPTIONAL"}
    db_job, web_job = db_servers[0]["jobID"], web_servers[0]["jobID"]
    assert db_servers[1]["jobID"] == db_job and web_servers[1]["jobID"] == web_job and db_job != web_job
    jobs = {j["jobID"]: j for j in drs.describe_jobs()["items"]}
    assert set(jobs) == {db_job, web_job}
    assert {j["initiatedBy"] for j in jobs.values()} == {"START_DRILL"}
    assert {s["sourceServerID"] for s in jobs[web_job]["participatingServers"]} == {WEB1, WEB2}
    instances = drs.describe_recovery_instances()["items"]
    assert {i["sourceServerID"] for i in instances} == {DB, APP, WEB1, WEB2}
    assert all(i["isDrill"] for i in instances)

    step = drs.get_recovery_plan_execution_step(recoveryPlanExecutionStepArn=steps[0]["recoveryPlanExecutionStepArn"])
    assert step["recoveryPlanExecutionStep"]["attempt"] == 1 and step["recoveryPlanExecutionStep"]["stepIndex"] == 1


def test_recovery_mode_launches_recovery_jobs(fast, drs):
    plan_arn = plan_with(drs, "p", servers(DB))
    execution_arn = drs.start_recovery_plan_execution(recoveryPlanArn=plan_arn, mode="RECOVERY")[
        "recoveryPlanExecution"]["recoveryPlanExecutionArn"]
    assert wait_status(drs, execution_arn, TERMINAL)["status"] == "COMPLETED"
    (job,) = drs.describe_jobs()["items"]
    assert job["initiatedBy"] == "START_RECOVERY"
    assert [i["isDrill"] for i in drs.describe_recovery_instances()["items"]] == [False]


def test_critical_failure_fails_execution_and_retry_succeeds(fast, drs):
    fast.control.fail_server(APP, "CONVERSION", "Failed to convert boot volume: bad GPT")
    plan_arn = plan_with(drs, "p", servers(DB, APP), servers(WEB1))
    execution_arn = drs.start_recovery_plan_execution(recoveryPlanArn=plan_arn, mode="DRILL")[
        "recoveryPlanExecution"]["recoveryPlanExecutionArn"]
    failed = wait_status(drs, execution_arn, TERMINAL)
    assert failed["status"] == "FAILED" and APP in failed["errorDetail"]["message"]
    assert DB not in failed["errorDetail"]["message"]
    first, second = steps_of(drs, execution_arn)
    assert first["status"] == "FAILED" and APP in first["errorDetail"]["message"]
    assert second["status"] == "NOT_STARTED"  # steps after a failure never start
    first_job = first["configuration"]["executionServerStepConfiguration"]["servers"][1]["jobID"]

    # Refusals while it is FAILED: the plan may change again, a wait/completed step cannot be retried.
    assert code(error_of(drs.retry_recovery_plan_execution_step,
                         recoveryPlanExecutionStepArn=second["recoveryPlanExecutionStepArn"])) == "ConflictException"

    fast.control.clear_faults()
    retried = drs.retry_recovery_plan_execution_step(recoveryPlanExecutionStepArn=first["recoveryPlanExecutionStepArn"])
    step = retried["recoveryPlanExecutionStep"]
    assert step["attempt"] == 2 and step["status"] == "EXECUTING" and "errorDetail" not in step
    db_item, app_item = step["configuration"]["executionServerStepConfiguration"]["servers"]
    assert app_item["jobID"] != first_job and db_item["jobID"] == first_job  # only what did not launch relaunches
    assert execution(drs, execution_arn)["status"] == "IN_PROGRESS"
    final = wait_status(drs, execution_arn, TERMINAL)
    assert final["status"] == "COMPLETED" and "errorDetail" not in final
    assert [s["status"] for s in steps_of(drs, execution_arn)] == ["COMPLETED", "COMPLETED"]
    launched = {i["sourceServerID"] for i in drs.describe_recovery_instances()["items"]}
    assert launched == {DB, APP, WEB1}


def test_optional_failure_is_tolerated(fast, drs):
    fast.control.fail_server(APP, "LAUNCH")
    plan_arn = plan_with(drs, "p", servers(DB, (APP, "OPTIONAL")), servers(WEB1))
    execution_arn = drs.start_recovery_plan_execution(recoveryPlanArn=plan_arn, mode="DRILL")[
        "recoveryPlanExecution"]["recoveryPlanExecutionArn"]
    assert wait_status(drs, execution_arn, TERMINAL)["status"] == "COMPLETED"
    job_id = steps_of(drs, execution_arn)[0]["configuration"]["executionServerStepConfiguration"]["servers"][1]["jobID"]
    job = drs.describe_jobs(filters={"jobIDs": [job_id]})["items"][0]
    assert {s["sourceServerID"]: s["launchStatus"] for s in job["participatingServers"]} == {DB: "LAUNCHED", APP: "FAILED"}


def test_busy_server_fails_the_step_with_the_refusal(fast, drs):
    fast.control.set_time_scale(1.0)  # the outside job is still running when the plan reaches DB
    outside = drs.start_recovery(sourceServers=[{"sourceServerID": DB}], isDrill=True)["job"]["jobID"]
    plan_arn = plan_with(drs, "p", servers(DB))
    execution_arn = drs.start_recovery_plan_execution(recoveryPlanArn=plan_arn, mode="DRILL")[
        "recoveryPlanExecution"]["recoveryPlanExecutionArn"]
    failed = wait_status(drs, execution_arn, TERMINAL, timeout=5)
    assert failed["status"] == "FAILED" and outside in failed["errorDetail"]["message"]
    assert steps_of(drs, execution_arn)[0]["errorDetail"]["code"] == "ConflictException"


def test_cancel_waits_for_running_job_and_keeps_instances(fast, drs):
    plan_arn = plan_with(drs, "p", servers(DB), servers(WEB1))
    execution_arn = drs.start_recovery_plan_execution(recoveryPlanArn=plan_arn, mode="DRILL")[
        "recoveryPlanExecution"]["recoveryPlanExecutionArn"]
    fast.control.set_time_scale(0.01)
    wait_until(lambda: steps_of(drs, execution_arn)[0]["status"] == "EXECUTING", 5)
    cancelled = drs.cancel_recovery_plan_execution(recoveryPlanExecutionArn=execution_arn)["recoveryPlanExecution"]
    assert cancelled["status"] == "CANCELLING"
    assert code(error_of(drs.delete_recovery_plan_execution, recoveryPlanExecutionArn=execution_arn)) == "ConflictException"
    assert code(error_of(drs.cancel_recovery_plan_execution, recoveryPlanExecutionArn=execution_arn)) == "ConflictException"
    final = wait_status(drs, execution_arn, {"CANCELLED", "COMPLETED", "FAILED"})
    assert final["status"] == "CANCELLED" and "completedAt" in final
    assert [s["status"] for s in steps_of(drs, execution_arn)] == ["COMPLETED", "SKIPPED"]
    assert [i["sourceServerID"] for i in drs.describe_recovery_instances()["items"]] == [DB]  # not terminated
    assert drs.delete_recovery_plan_execution(recoveryPlanExecutionArn=execution_arn)["recoveryPlanExecutionArn"] == execution_arn
    assert drs.list_recovery_plan_executions()["recoveryPlanExecutions"] == []


def test_cancel_during_wait_is_immediate(fast, drs):
    plan_arn = plan_with(drs, "p", wait(120), servers(DB))
    execution_arn = drs.start_recovery_plan_execution(recoveryPlanArn=plan_arn, mode="DRILL")[
        "recoveryPlanExecution"]["recoveryPlanExecutionArn"]
    wait_until(lambda: steps_of(drs, execution_arn)[0]["status"] == "WAITING", 5)
    assert drs.cancel_recovery_plan_execution(recoveryPlanExecutionArn=execution_arn)[
        "recoveryPlanExecution"]["status"] == "CANCELLED"
    assert [s["status"] for s in steps_of(drs, execution_arn)] == ["SKIPPED", "SKIPPED"]
    assert drs.describe_jobs()["items"] == []


def test_one_running_execution_per_plan_and_plan_locked_while_running(fast, drs):
    plan_arn = plan_with(drs, "p", wait(120), servers(DB))
    step_arn, server_step_arn = (s["recoveryPlanStepArn"] for s in
                                 drs.list_recovery_plan_steps(recoveryPlanArn=plan_arn)["recoveryPlanSteps"])
    execution_arn = drs.start_recovery_plan_execution(recoveryPlanArn=plan_arn, mode="DRILL")[
        "recoveryPlanExecution"]["recoveryPlanExecutionArn"]
    for call, kwargs in ((drs.start_recovery_plan_execution, dict(recoveryPlanArn=plan_arn, mode="RECOVERY")),
                         (drs.delete_recovery_plan, dict(recoveryPlanArn=plan_arn)),
                         (drs.delete_recovery_plan_step, dict(recoveryPlanStepArn=step_arn)),
                         (drs.create_recovery_plan_step, dict(recoveryPlanArn=plan_arn, stepName="x",
                                                              configuration=wait(1)))):
        err = error_of(call, **kwargs)
        assert code(err) == "ConflictException" and execution_arn in str(err), call
    drs.cancel_recovery_plan_execution(recoveryPlanExecutionArn=execution_arn)
    drs.delete_recovery_plan_step(recoveryPlanStepArn=server_step_arn)  # only a wait step left: INVALID
    err = error_of(drs.start_recovery_plan_execution, recoveryPlanArn=plan_arn, mode="DRILL")
    assert code(err) == "ValidationException" and "INVALID" in str(err)
    drs.delete_recovery_plan(recoveryPlanArn=plan_arn)


def test_update_and_skip_execution_steps(fast, drs):
    plan_arn = plan_with(drs, "p", wait(120), servers(DB), wait(120))
    execution_arn = drs.start_recovery_plan_execution(recoveryPlanArn=plan_arn, mode="DRILL")[
        "recoveryPlanExecution"]["recoveryPlanExecutionArn"]
    wait_until(lambda: steps_of(drs, execution_arn)[0]["status"] == "WAITING", 5)
    first, second, third = (s["recoveryPlanExecutionStepArn"] for s in steps_of(drs, execution_arn))
    assert code(error_of(drs.update_recovery_plan_execution_step, recoveryPlanExecutionStepArn=first,
                         status="SKIPPED")) == "ConflictException"  # WAITING cannot be skipped
    assert code(error_of(drs.update_recovery_plan_execution_step, recoveryPlanExecutionStepArn=first,
                         waitDurationMinutes=1)) == "ConflictException"  # already started
    assert code(error_of(drs.update_recovery_plan_execution_step, recoveryPlanExecutionStepArn=second,
                         waitDurationMinutes=1)) == "ValidationException"  # a server step
    updated = drs.update_recovery_plan_execution_step(
        recoveryPlanExecutionStepArn=second, servers=[{"serverArn": server_arn(WEB1)}])["recoveryPlanExecutionStep"]
    assert [s["serverArn"] for s in updated["configuration"]["executionServerStepConfiguration"]["servers"]] == [
        server_arn(WEB1)]
    assert drs.update_recovery_plan_execution_step(recoveryPlanExecutionStepArn=third, waitDurationMinutes=1)[
        "recoveryPlanExecutionStep"]["configuration"] == {"waitStepConfiguration": {"waitDurationMinutes": 1}}
    assert drs.update_recovery_plan_execution_step(recoveryPlanExecutionStepArn=third, status="SKIPPED")[
        "recoveryPlanExecutionStep"]["status"] == "SKIPPED"
    assert code(error_of(drs.update_recovery_plan_execution_step, recoveryPlanExecutionStepArn=third,
                         status="COMPLETED")) == "ValidationException"
    # The plan itself is unchanged by the execution's edits.
    plan_steps = drs.list_recovery_plan_steps(recoveryPlanArn=plan_arn)["recoveryPlanSteps"]
    assert plan_steps[1]["configuration"]["serverStepConfiguration"]["servers"] == [{"serverArn": server_arn(DB)}]
    drs.cancel_recovery_plan_execution(recoveryPlanExecutionArn=execution_arn)


def test_skipping_a_failed_step_resumes_the_execution(fast, drs):
    fast.control.fail_server(DB, "SNAPSHOT")
    plan_arn = plan_with(drs, "p", servers(DB), servers(WEB1))
    execution_arn = drs.start_recovery_plan_execution(recoveryPlanArn=plan_arn, mode="DRILL")[
        "recoveryPlanExecution"]["recoveryPlanExecutionArn"]
    assert wait_status(drs, execution_arn, TERMINAL)["status"] == "FAILED"
    failed_step = steps_of(drs, execution_arn)[0]["recoveryPlanExecutionStepArn"]
    drs.update_recovery_plan_execution_step(recoveryPlanExecutionStepArn=failed_step, status="SKIPPED")
    assert wait_status(drs, execution_arn, TERMINAL)["status"] == "COMPLETED"
    assert [s["status"] for s in steps_of(drs, execution_arn)] == ["SKIPPED", "COMPLETED"]


def test_snapshot_from_execution_source_servers(fast, drs):
    snapshot = drs.describe_recovery_snapshots(sourceServerID=DB, order="ASC")["items"][0]
    plan_arn = plan_with(drs, "p", servers(DB))
    err = error_of(drs.start_recovery_plan_execution, recoveryPlanArn=plan_arn, mode="DRILL",
                   sourceServers=[{"sourceServerID": WEB1, "recoverySnapshotID": snapshot["snapshotID"]}])
    assert code(err) == "ValidationException" and WEB1 in str(err)
    err = error_of(drs.start_recovery_plan_execution, recoveryPlanArn=plan_arn, mode="DRILL",
                   sourceServers=[{"sourceServerID": DB, "recoverySnapshotID": "pit-00000000000000000"}])
    assert code(err) == "ValidationException" and "pit-00000000000000000" in str(err)
    assert drs.list_recovery_plan_executions()["recoveryPlanExecutions"] == []
    execution_arn = drs.start_recovery_plan_execution(
        recoveryPlanArn=plan_arn, mode="DRILL",
        sourceServers=[{"sourceServerID": DB, "recoverySnapshotID": snapshot["snapshotID"]}])[
        "recoveryPlanExecution"]["recoveryPlanExecutionArn"]
    assert wait_status(drs, execution_arn, TERMINAL)["status"] == "COMPLETED"
    (instance,) = drs.describe_recovery_instances()["items"]
    assert instance["pointInTimeSnapshotDateTime"][:19] == snapshot["timestamp"][:19]


def test_reset_clears_plans_and_executions(fast, drs):
    plan_arn = plan_with(drs, "p", wait(120), servers(DB))
    drs.start_recovery_plan_execution(recoveryPlanArn=plan_arn, mode="DRILL")
    fast.control.reset()
    assert drs.list_recovery_plans()["recoveryPlans"] == []
    assert drs.list_recovery_plan_executions()["recoveryPlanExecutions"] == []


def test_faults_apply_to_recovery_plan_operations(sim, drs):
    sim.control.throttle("GetRecoveryPlan", per_second=0, retry_after_seconds=3)
    plan_arn = drs.create_recovery_plan(name="p")["recoveryPlan"]["recoveryPlanArn"]
    err = error_of(drs.get_recovery_plan, recoveryPlanArn=plan_arn)
    assert code(err) == "ThrottlingException" and err.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert sim.control.call_counts()["refused"] == {"GetRecoveryPlan": 1}
