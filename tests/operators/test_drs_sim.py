"""The DRS trigger, sensor and operators run for real against the simulator over HTTP."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException, TaskDeferred

from airflow_provider_drs.exceptions import DrsNotADrillInstance
from airflow_provider_drs.hooks.drs import DrsHook
from airflow_provider_drs.hooks.drs_wait import PollingPolicy, wait_for_jobs
from airflow_provider_drs.operators.drs import DrsStartRecoveryOperator, DrsTerminateRecoveryInstancesOperator
from airflow_provider_drs.sensors.drs import DrsJobSensor
from airflow_provider_drs.triggers.drs import DrsJobTrigger

DB, APP, WEB1, WEB2 = "s-3578f52ef3bdd58b4", "s-0e5a9c4b2f7d18e36", "s-3c1730a9e0771ea14", "s-3d75cdc0d9a28a725"
FAST = {"aws_conn_id": "aws_sim", "region_name": "us-east-1", "min_poll_interval": 0.1, "max_poll_interval": 0.5}


class RecordingTI:
    """Stands in for Airflow's task instance: records what the task pushes to XCom, and knows the
    states of the DAG runs it is told about (Airflow's metadata database)."""

    def __init__(self, run_states=None):
        self.xcom = {}
        self.run_states = dict(run_states or {})

    def get_dagrun_state(self, dag_id, run_id):
        return self.run_states[(dag_id, run_id)]

    def xcom_push(self, key, value):
        self.xcom[key] = value

    def xcom_pull(self, task_ids=None, key="return_value"):
        return self.xcom.get(key)


def context(run_started=None, run_id="manual__test", run_states=None):
    dag_run = SimpleNamespace(start_date=run_started or datetime.now(timezone.utc), run_after=None,
                              dag_id="drs_test_drill", run_id=run_id)
    return {"ti": RecordingTI(run_states), "dag_run": dag_run}


def run_trigger(trigger, timeout=30):
    async def first_event():
        async for event in trigger.run():
            return event.payload

    return asyncio.run(asyncio.wait_for(first_event(), timeout))


def run_deferred(task, ctx, timeout=30):
    """Do what Airflow does: execute, run the trigger it deferred to, resume with the event; again
    while the task defers anew (a sensor that acts between waits)."""
    with pytest.raises(TaskDeferred) as deferred:
        task.execute(ctx)
    while True:
        event = run_trigger(deferred.value.trigger, timeout)
        try:
            return getattr(task, deferred.value.method_name)(ctx, event)
        except TaskDeferred as again:
            deferred = SimpleNamespace(value=again)


def start(servers, is_drill=True):
    return DrsHook(aws_conn_id="aws_sim", region_name="us-east-1").start_recovery(servers, is_drill)["jobID"]


def test_trigger_yields_per_server_results(sim):
    job_id = start([DB, APP, WEB1])
    event = run_trigger(DrsJobTrigger(job_ids=[job_id], **{k: v for k, v in FAST.items()}))
    assert event["status"] == "success"
    assert event["jobs"][job_id]["status"] == "COMPLETED"
    results = event["results"]
    assert {sid: r["launch_status"] for sid, r in results.items()} == {DB: "LAUNCHED", APP: "LAUNCHED", WEB1: "LAUNCHED"}
    assert all(r["ec2_instance_id"].startswith("i-") for r in results.values())
    assert any(r["launched_at_source"] == "observed" for r in results.values())


def test_trigger_reports_unknown_job(sim):
    event = run_trigger(DrsJobTrigger(job_ids=["drsjob-00000000000000000"], **FAST))
    assert event["status"] == "error"
    assert "drsjob-00000000000000000 not found in region us-east-1" in event["message"]


def test_sensor_drill_succeeds_with_ec2_instance_ids(sim):
    job_id = start([DB, APP, WEB1, WEB2])
    sensor = DrsJobSensor(task_id="wait_for_launch", job_id=job_id, **FAST)
    results = run_deferred(sensor, context())
    assert sorted(results) == sorted([DB, APP, WEB1, WEB2])
    ec2 = sim.client("ec2").describe_instances(InstanceIds=[r["ec2_instance_id"] for r in results.values()])
    assert len([i for r in ec2["Reservations"] for i in r["Instances"]]) == 4


def test_sensor_fails_naming_server_failed_at_conversion(sim):
    sim.control.fail_server(WEB1, "CONVERSION", raw_error="Unsupported boot loader")
    job_id = start([DB, WEB1])
    sensor = DrsJobSensor(task_id="wait_for_launch", job_id=job_id, **FAST)
    with pytest.raises(AirflowFailException) as failed:
        run_deferred(sensor, context())
    message = str(failed.value)
    assert f"{WEB1}: FAILED at CONVERSION (Unsupported boot loader)" in message
    assert DB not in message


def test_optional_failed_server_only_warns(sim):
    sim.control.fail_server(WEB2, "LAUNCH")
    job_id = start([WEB1, WEB2])
    sensor = DrsJobSensor(task_id="wait_for_launch", job_id=job_id, optional_server_ids=[WEB2], **FAST)
    results = run_deferred(sensor, context())
    assert (results[WEB1]["launch_status"], results[WEB2]["launch_status"]) == ("LAUNCHED", "FAILED")
    assert results[WEB2]["failed_phase"] == "LAUNCH"


def test_poke_mode_sensor(sim):
    job_id = start([APP])
    sensor = DrsJobSensor(task_id="wait_for_launch", job_id=job_id, deferrable=False, poke_interval=0.1,
                          timeout=30, **FAST)
    # Poke until done, as BaseSensorOperator.execute would (its loop needs the task runner).
    ctx = context()
    for _ in range(300):
        value = sensor.poke(ctx)
        if value:
            break
        asyncio.run(asyncio.sleep(0.1))
    assert value.xcom_value[APP]["launch_status"] == "LAUNCHED"
    assert value.xcom_value[APP]["launched_at_source"] == "observed"


def test_throttled_simulator_still_completes(sim):
    sim.control.throttle("DescribeJobs", per_second=2, retry_after_seconds=1)
    sim.control.throttle("DescribeJobLogItems", per_second=2, retry_after_seconds=1)
    job_ids = [start([DB]), start([APP]), start([WEB1])]
    events = run_together([DrsJobTrigger(job_ids=[j], **FAST) for j in job_ids])
    assert [e["status"] for e in events] == ["success"] * 3
    assert all(next(iter(e["results"].values()))["launch_status"] == "LAUNCHED" for e in events)


async def _first(trigger):
    async for event in trigger.run():
        return event.payload


def run_together(triggers, timeout=60):
    """Run triggers in one event loop, as one triggerer process does."""

    async def gather():
        return await asyncio.gather(*(_first(t) for t in triggers))

    return asyncio.run(asyncio.wait_for(gather(), timeout))


def test_concurrent_triggers_share_describe_jobs_calls(sim):
    one = start([DB])
    run_trigger(DrsJobTrigger(job_ids=[one], **FAST))
    single = sim.control.calls()["DescribeJobs"]
    sim.control.reset()
    job_ids = [start([s]) for s in (DB, APP, WEB1, WEB2)]
    run_together([DrsJobTrigger(job_ids=[j], **FAST) for j in job_ids])
    # Four jobs cost about what one did, not four times as much.
    assert sim.control.calls()["DescribeJobs"] <= 2 * single + 2  # (+2: the four were not started at once)


def test_waits_ending_together_share_one_recovery_instances_read(sim):
    hook = DrsHook(aws_conn_id="aws_sim", region_name="us-east-1")
    job_ids = [start([s]) for s in (DB, APP, WEB1, WEB2)]
    wait_for_jobs(hook, job_ids, PollingPolicy(0.1, 0.1), timeout=30)  # all four ended: one read ends all
    before = sim.control.calls()
    events = run_together([DrsJobTrigger(job_ids=[j], **FAST) for j in job_ids])
    calls = sim.control.calls()
    assert calls["DescribeJobLogItems"] - before.get("DescribeJobLogItems", 0) == 4  # the API takes one job
    assert calls["DescribeRecoveryInstances"] - before.get("DescribeRecoveryInstances", 0) == 1
    for job_id, event in zip(job_ids, events):  # each wait still gets its own server, and only it
        (server,) = event["results"].values()
        assert event["status"] == "success" and server["ec2_instance_id"]
        assert event["jobs"][job_id]["results"].keys() == event["results"].keys()
    assert len({s for e in events for s in e["results"]}) == 4


def test_a_wait_asking_while_a_shared_read_is_in_flight_gets_the_next_one(sim):
    from airflow_provider_drs.triggers.drs_poller import JobPoller

    hook = DrsHook(aws_conn_id="aws_sim", region_name="us-east-1")
    job_ids = [start([DB]), start([APP])]
    wait_for_jobs(hook, job_ids, PollingPolicy(0.1, 0.1), timeout=30)
    sim.control.latency(0.5, ["DescribeRecoveryInstances"])

    async def two_waits():
        poller = JobPoller.for_hook({"aws_conn_id": "aws_sim", "region_name": "us-east-1", "verify": None,
                                     "config": None})
        first = asyncio.ensure_future(poller.recovery_instances([DB]))
        await asyncio.sleep(0.2)  # the first round's call is in flight now
        second = await poller.recovery_instances([APP])
        return await first, second

    first, second = asyncio.run(asyncio.wait_for(two_waits(), 10))
    assert [i["sourceServerID"] for i in first] == [DB] and [i["sourceServerID"] for i in second] == [APP]
    assert sim.control.calls()["DescribeRecoveryInstances"] == 2


def test_a_wait_that_starts_while_the_poller_closes_its_client_is_polled(sim):
    from contextlib import asynccontextmanager

    from airflow_provider_drs.triggers.drs_poller import JobPoller

    hook = DrsHook(aws_conn_id="aws_sim", region_name="us-east-1")
    first, second = start([DB]), start([APP])
    wait_for_jobs(hook, [first, second], PollingPolicy(0.1, 0.1), timeout=30)

    async def scenario():
        poller = JobPoller.for_hook({"aws_conn_id": "aws_sim", "region_name": "us-east-1", "verify": None,
                                     "config": None})
        real_client = poller.hook.async_client

        @asynccontextmanager
        async def slowly_closed_client():  # closing a client takes a moment: a window for a new wait
            async with real_client() as client:
                yield client
            await asyncio.sleep(0.3)

        poller.hook.async_client = slowly_closed_client
        watched = poller.watch(first, PollingPolicy(0.1, 0.1))
        await watched.done.wait()
        poller.unwatch(watched)
        await asyncio.sleep(0.1)  # the poller has no job left and is closing its client
        late = poller.watch(second, PollingPolicy(0.1, 0.1))
        await asyncio.wait_for(late.done.wait(), 10)
        poller.unwatch(late)
        return late.job["status"]

    assert asyncio.run(scenario()) == "COMPLETED"


def test_retried_start_adopts_its_job(sim):
    run_started = datetime.now(timezone.utc)
    op = DrsStartRecoveryOperator(task_id="start_recovery", source_server_ids=[DB, APP], is_drill=True, **FAST)
    first = op.execute(context(run_started))
    retried = op.execute(context(run_started))  # the worker died after StartRecovery; Airflow retries
    assert retried == first
    assert sim.control.calls()["StartRecovery"] == 1


def test_a_drill_never_adopts_nor_follows_a_recovery_of_its_servers(sim):
    """A recovery started in this run's window is not adopted, and the drill is refused at once
    (no retry): while the recovery job runs, and once it has left a live instance."""
    sim.control.set_time_scale(1.0)  # a job of several seconds: still active when the drill checks, even on a busy CI
    run_started = datetime.now(timezone.utc)
    recovery = start([DB], is_drill=False)
    op = DrsStartRecoveryOperator(task_id="start_recovery", source_server_ids=[DB], is_drill=True, **FAST)
    with pytest.raises(AirflowFailException, match=f"(?s)drill refused.*{DB} is in active job {recovery}"):
        op.execute(context(run_started))
    run_trigger(DrsJobTrigger(job_ids=[recovery], **FAST))
    with pytest.raises(AirflowFailException, match=f"{DB} has a live recovery instance .* launched by job {recovery}"):
        op.execute(context(run_started))
    assert sim.control.calls()["StartRecovery"] == 1


def test_start_and_wait_in_one_task(sim):
    op = DrsStartRecoveryOperator(task_id="wave", source_server_ids=[WEB1, WEB2], wait_for_completion=True,
                                  deferrable=True, **FAST)
    ctx = context()
    value = run_deferred(op, ctx)
    assert value["job_id"] == ctx["ti"].xcom["job_id"]
    assert {r["launch_status"] for r in value["results"].values()} == {"LAUNCHED"}
    sync = DrsStartRecoveryOperator(task_id="wave", source_server_ids=[DB], wait_for_completion=True, **FAST)
    assert sync.execute(context())["results"][DB]["launch_status"] == "LAUNCHED"


def test_drill_cleanup_terminates_exactly_the_drill_instances(sim):
    hook = DrsHook(aws_conn_id="aws_sim", region_name="us-east-1")
    ours, other = start([DB, APP]), start([WEB1])
    for job_id in (ours, other):
        run_trigger(DrsJobTrigger(job_ids=[job_id], **FAST))
    cleanup = DrsTerminateRecoveryInstancesOperator(task_id="cleanup", job_ids=[ours], deferrable=True, **FAST)
    terminated = run_deferred(cleanup, ctx := context())
    assert sorted(t["source_server_id"] for t in terminated) == sorted([DB, APP])
    assert ctx["ti"].xcom["terminated"] == terminated
    ec2 = sim.client("ec2")
    states = {i["InstanceId"]: i["State"]["Name"]
              for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]}
    assert {states[t["ec2_instance_id"]] for t in terminated} == {"terminated"}
    (left,) = hook.describe_recovery_instances(source_server_ids=[WEB1])
    assert states[left["ec2InstanceID"]] == "running"


def test_cleanup_refuses_non_drill_instances(sim):
    recovery = start([WEB2], is_drill=False)
    run_trigger(DrsJobTrigger(job_ids=[recovery], **FAST))
    cleanup = DrsTerminateRecoveryInstancesOperator(task_id="cleanup", job_ids=[recovery], **FAST)
    with pytest.raises(DrsNotADrillInstance, match="not drill instances"):
        cleanup.execute(context())
    assert sim.control.calls().get("TerminateRecoveryInstances", 0) == 0



NO_BOTOCORE_RETRY = {"retries": {"total_max_attempts": 1}}  # so the trigger's own budget is what is tested


def test_trigger_rides_out_transient_server_errors(sim):
    job_id = start([DB])
    sim.control.error_rate(0.5, operations=["DescribeJobs"])
    event = run_trigger(DrsJobTrigger(job_ids=[job_id], botocore_config=NO_BOTOCORE_RETRY,
                                      max_consecutive_errors=20, **FAST))
    assert event["status"] == "success"
    assert event["results"][DB]["launch_status"] == "LAUNCHED"


def test_persistent_failure_ends_the_trigger_saying_why(sim):
    job_id = start([DB])
    sim.control.error_rate(1.0, operations=["DescribeJobs"])
    event = run_trigger(DrsJobTrigger(job_ids=[job_id], botocore_config=NO_BOTOCORE_RETRY,
                                      max_consecutive_errors=2, **FAST))
    assert event["status"] == "error"
    assert f"DescribeJobs failed 3 times in a row while watching {job_id}" in event["message"]
    assert "InternalServerException" in event["message"]
    assert sim.control.attempts()["DescribeJobs"] == 3


def test_a_refused_request_ends_the_trigger_at_once(sim):
    event = run_trigger(DrsJobTrigger(job_ids=["drsjob-not-a-real-id"], **FAST))
    assert event["status"] == "error"
    assert "DescribeJobs refused while watching drsjob-not-a-real-id" in event["message"]
    assert "Parameter validation failed" in event["message"]


def test_recovery_waits_for_a_running_drill_of_its_servers(sim):
    drill_job = start([DB, APP])  # a scheduled drill is running when the disaster strikes
    op = DrsStartRecoveryOperator(task_id="start_recovery", source_server_ids=[DB], is_drill=False, **FAST)
    job_id = op.execute(context())
    drs = sim.client("drs")
    jobs = {j["jobID"]: j for j in drs.describe_jobs()["items"]}
    assert jobs[drill_job]["status"] == "COMPLETED"
    assert jobs[job_id]["initiatedBy"] == "START_RECOVERY"
    assert jobs[job_id]["creationDateTime"] >= jobs[drill_job]["endDateTime"]


def test_a_drill_never_waits_for_another_job(sim):
    sim.control.set_time_scale(1.0)  # the other drill stays in flight while this one checks, however busy the machine
    start([DB])
    op = DrsStartRecoveryOperator(task_id="start_recovery", source_server_ids=[DB], is_drill=True, **FAST)
    with pytest.raises(AirflowFailException, match="another drill is launching this server"):
        op.execute(context())


class MemoryStateStore(dict):
    """Stands in for Airflow's task state store, which outlives a task's tries."""

    def set(self, key, value, retention=None):
        self[key] = value


def test_a_retry_resumes_the_job_its_earlier_try_kept_in_the_task_state_store(sim):
    store = MemoryStateStore()
    op = DrsStartRecoveryOperator(task_id="start_recovery", source_server_ids=[DB], is_drill=True, **FAST)
    job_id = op.execute({**context(), "task_state_store": store})
    assert store == {"drs_job_id": job_id}
    # A retry whose run window would miss the job (the adoption lookup finds nothing): the store does.
    retry = {**context(datetime.now(timezone.utc) + timedelta(minutes=5)), "task_state_store": store}
    assert op.execute(retry) == job_id
    assert sim.control.calls()["StartRecovery"] == 1


def test_a_drill_refused_by_drs_for_a_recovery_fails_without_retry(sim):
    """The race the pre-check cannot close: a recovery starts between the check and StartRecovery."""
    from airflow_provider_drs.exceptions import DrsServerInActiveJob

    hook = DrsHook(aws_conn_id="aws_sim", region_name="us-east-1")
    recovery = hook.start_recovery([DB], is_drill=False)
    op = DrsStartRecoveryOperator(task_id="start_recovery", source_server_ids=[DB], is_drill=True, **FAST)
    with pytest.raises(DrsServerInActiveJob) as conflict:
        hook.start_recovery([DB], is_drill=True)
    with pytest.raises(AirflowFailException, match=f"(?s)Drill refused.*{recovery['jobID']} \\(START_RECOVERY"):
        op._after_conflict(conflict.value, [DB])
