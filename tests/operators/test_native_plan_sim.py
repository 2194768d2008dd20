"""Running a DRS native recovery plan from Airflow: the hook, start operator, trigger and sensor for
real against the simulator over HTTP."""

from __future__ import annotations

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_drs.hooks.drs_plan_executions import DrsPlanExecutionHook
from airflow_provider_drs.hooks.drs_safety import RunRef
from airflow_provider_drs.operators.native_plan import DrsStartRecoveryPlanExecutionOperator
from airflow_provider_drs.plan_tasks import NATIVE_EXECUTION, NATIVE_PLAN
from airflow_provider_drs.sensors.native_plan import DrsRecoveryPlanExecutionSensor
from airflow_provider_drs.triggers.native_plan import DrsRecoveryPlanExecutionTrigger
from tests.airflow_compat import needs_native_recovery_plans
from tests.native_plans import create_native_plan
from tests.operators.test_drs_sim import APP, DB, WEB1, context, run_deferred, run_trigger

pytestmark = needs_native_recovery_plans()
CONN = {"aws_conn_id": "aws_sim", "region_name": "us-east-1"}
STEPS = [("database", {DB: "CRITICAL"}), ("app-and-web", {APP: "CRITICAL", WEB1: "OPTIONAL"})]


def start_task(name="three-tier", **kwargs):
    return DrsStartRecoveryPlanExecutionOperator(task_id="start_native_plan", recovery_plan_name=name, **CONN, **kwargs)


def sensor(arn):
    return DrsRecoveryPlanExecutionSensor(task_id="wait_for_native_plan", execution_arn=arn, poll_interval=0.1, **CONN)


def ec2_states(sim, instance_ids):
    import boto3

    ec2 = boto3.client("ec2", endpoint_url=sim.endpoint_url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    found = ec2.describe_instances(InstanceIds=list(instance_ids))["Reservations"]
    return {i["InstanceId"]: i["State"]["Name"] for r in found for i in r["Instances"]}


def test_drill_launches_every_step_and_reports_per_server(sim):
    plan_arn = create_native_plan(sim.endpoint_url, "three-tier", STEPS)
    ctx = context()
    arn = start_task().execute(ctx)
    assert ctx["ti"].xcom[NATIVE_PLAN] == {"name": "three-tier", "arn": plan_arn, "servers": [DB, APP, WEB1],
                                           "steps": {"database": [DB], "app-and-web": [APP, WEB1]}, "optional": [WEB1]}

    folded = run_deferred(sensor(arn), ctx)

    assert folded["status"] == "COMPLETED" and folded["mode"] == "DRILL" and folded["plan_arn"] == plan_arn
    assert [(s["name"], s["status"], s["servers"]) for s in folded["steps"]] == [
        ("database", "COMPLETED", [DB]), ("app-and-web", "COMPLETED", [APP, WEB1])]
    results = folded["results"]
    assert {sid: r["launch_status"] for sid, r in results.items()} == {DB: "LAUNCHED", APP: "LAUNCHED", WEB1: "LAUNCHED"}
    assert results[WEB1]["impact_level"] == "OPTIONAL" and results[DB]["step"] == "database"
    assert all(r["is_drill"] and r["ec2_instance_id"].startswith("i-") and r["launched_at"] for r in results.values())
    assert results[APP]["job_id"] == folded["steps"][1]["job_ids"][0] != folded["steps"][0]["job_ids"][0]
    assert ctx["ti"].xcom[NATIVE_EXECUTION] == folded
    assert set(ec2_states(sim, [r["ec2_instance_id"] for r in results.values()]).values()) == {"running"}
    # The jobs carry the run, like a wave's: other runs' launch-safety checks know whose they are.
    hook = DrsPlanExecutionHook(**CONN)
    job = hook.describe_jobs([results[DB]["job_id"]])[results[DB]["job_id"]]
    assert RunRef.from_tags(job.get("tags")) == RunRef("drs_test_drill", "manual__test")


def test_retried_start_adopts_the_runs_execution(sim):
    create_native_plan(sim.endpoint_url, "three-tier", STEPS)
    ctx = context()
    first = start_task().execute(ctx)
    assert start_task().execute(ctx) == first  # running: adopted by its tags
    run_deferred(sensor(first), ctx)
    assert start_task().execute(ctx) == first  # over: adopted, never started again
    hook = DrsPlanExecutionHook(**CONN)
    assert len(hook.list_executions(hook.get_execution(first)["recoveryPlanArn"])) == 1


def test_start_refuses_another_runs_running_execution(sim):
    create_native_plan(sim.endpoint_url, "three-tier", STEPS)
    theirs = start_task().execute(context(run_id="scheduled__other"))
    with pytest.raises(AirflowFailException, match=r"Conflict: execution .* of plan three-tier is (CREATED|IN_PROGRESS)"
                                                   r" \(DRILL\), started at .* by run scheduled__other") as refused:
        start_task().execute(context(run_id="manual__mine"))
    assert theirs in str(refused.value)


def test_start_refuses_a_missing_plan(sim):
    with pytest.raises(AirflowFailException, match="'nope' not found in us-east-1. Nothing was launched"):
        start_task("nope").execute(context())


def test_critical_failure_fails_with_the_server_and_keeps_the_results(sim):
    create_native_plan(sim.endpoint_url, "three-tier", STEPS)
    sim.control.fail_server(APP, "LAUNCH", "InsufficientInstanceCapacity")
    ctx = context()
    arn = start_task().execute(ctx)
    with pytest.raises(AirflowFailException, match=f"{APP}: FAILED at LAUNCH \\(InsufficientInstanceCapacity\\)"):
        run_deferred(sensor(arn), ctx)
    folded = ctx["ti"].xcom[NATIVE_EXECUTION]
    assert folded["status"] == "FAILED"
    assert folded["results"][DB]["launch_status"] == "LAUNCHED" and folded["results"][DB]["ec2_instance_id"]


def test_optional_failure_only_warns(sim, caplog, capsys):
    create_native_plan(sim.endpoint_url, "three-tier", STEPS)
    sim.control.fail_server(WEB1, "CONVERSION", "bad GPT")
    ctx = context()
    folded = run_deferred(sensor(start_task().execute(ctx)), ctx)
    assert folded["status"] == "COMPLETED" and folded["results"][WEB1]["launch_status"] == "FAILED"
    assert "drs.optional_server_failed" in caplog.text + capsys.readouterr().out


def test_trigger_reads_until_the_execution_ends_and_changes_nothing(sim):
    create_native_plan(sim.endpoint_url, "three-tier", STEPS)
    arn = start_task().execute(context())
    claimed, events = [], []
    while not events or events[-1]["status"] == "new_jobs":  # as the sensor does: claim, wait again
        trigger = DrsRecoveryPlanExecutionTrigger(execution_arn=arn, poll_interval=0.1, claimed_jobs=claimed, **CONN)
        events.append(run_trigger(trigger))
        claimed = events[-1].get("job_ids", claimed)
    assert [e["status"] for e in events][-1] == "success" and 2 <= len(events) <= 3  # a wake per new job
    assert events[-1]["execution"]["status"] == "COMPLETED" and len(claimed) == 2
    assert run_trigger(trigger) == events[-1]  # a second run of the same trigger reads the same end
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_drs.triggers.native_plan.DrsRecoveryPlanExecutionTrigger"
    assert kwargs["execution_arn"] == arn and kwargs["aws_conn_id"] == "aws_sim" and kwargs["claimed_jobs"] == claimed


def test_trigger_reports_an_unknown_execution(sim):
    create_native_plan(sim.endpoint_url, "three-tier", STEPS)
    arn = start_task().execute(context())
    event = run_trigger(DrsRecoveryPlanExecutionTrigger(execution_arn=arn + "0", poll_interval=0.1, **CONN))
    assert event["status"] == "error" and "Reading execution" in event["message"]


def test_drill_cleanup_cancels_a_running_execution_then_terminates_what_it_launched(sim):
    from airflow_provider_drs.operators.native_plan_tasks import NativeDrillCleanupOperator

    create_native_plan(sim.endpoint_url, "three-tier", [("database", {DB: "CRITICAL"}), ("pause", 100),
                                                        ("app", {APP: "CRITICAL"})])
    ctx = context()
    arn = start_task().execute(ctx)
    hook = DrsPlanExecutionHook(**CONN)
    for _ in range(200):  # until the database step has launched and the wait step holds the execution
        steps = {s["stepName"]: s["status"] for s in hook.execution_steps(arn)}
        if steps["pause"] == "WAITING":
            break
        import time

        time.sleep(0.1)
    assert steps == {"database": "COMPLETED", "pause": "WAITING", "app": "NOT_STARTED"}
    ctx["ti"].xcom["return_value"] = arn  # what the start task returned

    cleanup = NativeDrillCleanupOperator(task_id="cleanup", deferrable=False, min_poll_interval=0.1,
                                         max_poll_interval=0.5, **CONN)
    terminated = cleanup.execute(ctx)

    execution = hook.get_execution(arn)
    assert execution["status"] == "CANCELLED"
    assert {s["stepName"]: s["status"] for s in hook.execution_steps(arn)}["app"] == "SKIPPED"
    assert [t["source_server_id"] for t in terminated] == [DB]
    assert set(ec2_states(sim, [t["ec2_instance_id"] for t in terminated]).values()) == {"terminated"}


def test_a_recovery_cancels_a_running_drill_then_starts(sim):
    """DRS runs one execution of a plan at a time; a drill (with waits it may hold the plan for
    hours) must not stand in the way of a real recovery. Another recovery does: refused."""
    create_native_plan(sim.endpoint_url, "three-tier", [("database", {DB: "CRITICAL"}), ("pause", 100),
                                                        ("app", {APP: "CRITICAL"})])
    drill = start_task().execute(context(run_id="scheduled__drill"))
    recovery = start_task(is_drill=False, poll_interval=0.1).execute(context(run_id="manual__recovery"))

    hook = DrsPlanExecutionHook(**CONN)
    assert recovery != drill
    assert hook.get_execution(drill)["status"] == "CANCELLED"
    assert hook.get_execution(recovery)["mode"] == "RECOVERY"
    with pytest.raises(AirflowFailException, match=r"Conflict: execution .* \(RECOVERY\)"):
        start_task(is_drill=False, poll_interval=0.1).execute(context(run_id="manual__second"))


def test_each_job_is_claimed_for_the_run_while_the_execution_still_runs(sim):
    """DRS does not tag a native plan's jobs: until they carry the run, the first step's drill
    instance looks like a console leftover that another plan's drill may replace. The trigger wakes
    the sensor for each new job, the sensor tags it and waits again."""
    from airflow.exceptions import TaskDeferred

    from airflow_provider_drs.hooks.drs import DrsHook
    from airflow_provider_drs.hooks.drs_safety import assess_drill

    create_native_plan(sim.endpoint_url, "three-tier", [("database", {DB: "CRITICAL"}), ("pause", 100),
                                                        ("app", {APP: "CRITICAL"})])
    ctx = context()
    task = sensor(start_task().execute(ctx))
    with pytest.raises(TaskDeferred) as deferred:
        task.execute(ctx)
    event = run_trigger(deferred.value.trigger)
    assert event["status"] == "new_jobs" and len(event["job_ids"]) == 1
    with pytest.raises(TaskDeferred) as again:  # tags, then waits on
        task.execute_complete(ctx, event)
    assert again.value.trigger.claimed_jobs == event["job_ids"]

    hook = DrsHook(**CONN)
    job = hook.describe_jobs(event["job_ids"])[event["job_ids"][0]]
    assert RunRef.from_tags(job.get("tags")) == RunRef("drs_test_drill", "manual__test")
    for _ in range(100):  # the database launched; the execution waits in its pause step
        holdings = [h for h in hook.launch_holdings([DB]) if h.is_instance]
        if holdings:
            break
        import time

        time.sleep(0.1)
    assert DrsPlanExecutionHook(**CONN).get_execution(task.execution_arn)["status"] == "IN_PROGRESS"
    # Another plan's drill of the database is refused: that instance is this live run's.
    other = assess_drill(holdings, RunRef("drs_other_drill", "manual__x"), lambda ref: "running")
    assert other.refusals and not other.replaced
