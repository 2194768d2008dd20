"""The failback steps against the simulator: what they pick, what they refuse, and retries that
do not launch twice."""

from __future__ import annotations

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, AirflowSkipException

from airflow_provider_drs.hooks.drs import DrsHook
from airflow_provider_drs.hooks.drs_wait import PollingPolicy, wait_for_jobs
from airflow_provider_drs.operators.failback import (
    DrsReverseReplicationOperator, DrsStartFailbackLaunchOperator, DrsStopFailbackOperator, FailbackSelectionOperator)
from airflow_provider_drs.sensors.drs_failback import DrsFailbackSensor
from tests.operators.test_drs_sim import context, run_deferred

DB, APP, WEB1 = "s-3578f52ef3bdd58b4", "s-0e5a9c4b2f7d18e36", "s-3c1730a9e0771ea14"
CONN = {"aws_conn_id": "aws_sim", "region_name": "us-east-1"}


def launched(servers, is_drill):
    hook = DrsHook(**CONN)
    job = hook.start_recovery(servers, is_drill)
    wait_for_jobs(hook, [job["jobID"]], PollingPolicy(0.1, 0.1), 60)
    return {i["sourceServerID"]: i["recoveryInstanceID"] for i in hook.describe_recovery_instances(source_server_ids=servers)}


def test_selection_takes_live_recovery_instances_never_drill_ones(sim):
    recovered = launched([APP], is_drill=False)
    launched([WEB1], is_drill=True)
    picked = FailbackSelectionOperator(task_id="find", plan_name="p", waves={
        "app": {"servers": [APP]}, "web": {"servers": [], "tag_groups": {"web": {"Tier": "web"}}}}, **CONN
    ).execute(context())
    assert picked == {"app": [recovered[APP]], "web": []}


def test_selection_with_nothing_recovered_fails_and_says_so(sim):
    launched([WEB1], is_drill=True)
    with pytest.raises(AirflowFailException, match="nothing to fail back"):
        FailbackSelectionOperator(task_id="find", plan_name="p", waves={"web": {"servers": [WEB1]}}, **CONN
                                  ).execute(context())


def test_a_retried_launch_adopts_its_job_and_a_not_ready_one_launches_nothing(sim):
    ids = list(launched([APP, WEB1], is_drill=False).values())
    ctx = context()
    with pytest.raises(AirflowFailException, match="Not ready to fail back"):
        DrsStartFailbackLaunchOperator(task_id="launch", recovery_instance_ids=ids, **CONN).execute(ctx)
    assert sim.control.calls().get("StartFailbackLaunch", 0) == 0
    reversed_arns = DrsReverseReplicationOperator(task_id="reverse", recovery_instance_ids=ids, **CONN).execute(ctx)
    assert all(arn.startswith("arn:aws:drs:us-west-2:") for arn in reversed_arns.values())
    # A retry of the reverse step does not start it twice.
    assert DrsReverseReplicationOperator(task_id="reverse", recovery_instance_ids=ids, **CONN).execute(ctx) == {
        rid: None for rid in ids}
    assert sim.control.calls()["ReverseReplication"] == 2
    sensor = DrsFailbackSensor(task_id="ready", recovery_instance_ids=ids, target="ready", poll_interval=0.2, **CONN)
    assert set(run_deferred(sensor, ctx).values()) == {"FAILBACK_READY_FOR_LAUNCH"}
    first = DrsStartFailbackLaunchOperator(task_id="launch", recovery_instance_ids=ids, **CONN).execute(ctx)
    again = DrsStartFailbackLaunchOperator(task_id="launch", recovery_instance_ids=ids, **CONN).execute(ctx)
    assert len(first) == 1 and again == first and sim.control.calls()["StartFailbackLaunch"] == 1
    done = DrsFailbackSensor(task_id="done", recovery_instance_ids=ids, target="completed", poll_interval=0.2,
                             deferrable=False, **CONN)
    assert run_poke_until_done(done, ctx) == {rid: "FAILBACK_COMPLETED" for rid in ids}
    assert DrsStopFailbackOperator(task_id="stop", recovery_instance_ids=ids, **CONN).execute(ctx) == ids
    states = {i["failback"]["state"] for i in DrsHook(**CONN).describe_recovery_instances(recovery_instance_ids=ids)}
    assert states == {"FAILBACK_NOT_STARTED"}


def run_poke_until_done(sensor, ctx, tries=200):
    import time

    for _ in range(tries):
        value = sensor.poke(ctx)
        if value:
            return value.xcom_value
        time.sleep(0.1)
    raise AssertionError("never done")


def test_a_failed_replication_fails_the_wait_naming_the_instance(sim):
    sim.control.fail_failback(APP)
    ids = list(launched([APP], is_drill=False).values())
    ctx = context()
    DrsReverseReplicationOperator(task_id="reverse", recovery_instance_ids=ids, **CONN).execute(ctx)
    sensor = DrsFailbackSensor(task_id="ready", recovery_instance_ids=ids, target="ready", poll_interval=0.2, **CONN)
    with pytest.raises(AirflowException, match=f"{ids[0]}: FAILBACK_ERROR"):
        run_deferred(sensor, ctx)


def test_a_wave_with_nothing_to_fail_back_skips(sim):
    with pytest.raises(AirflowSkipException):
        DrsReverseReplicationOperator(task_id="reverse", recovery_instance_ids="[]", **CONN).execute(context())
    with pytest.raises(AirflowSkipException):
        DrsFailbackSensor(task_id="ready", recovery_instance_ids="[]", target="ready", **CONN).execute(context())
