"""WaveHealthTrigger against the simulator over HTTP: it reads until the gate is decided or probes
are due, never sends anything itself, and survives serialization."""

from __future__ import annotations

import asyncio
import time

from airflow_provider_drs.hooks.instance_health import new_records
from airflow_provider_drs.triggers.instance_health import WaveHealthTrigger
from tests.e2e.helpers import launch

DB, APP = "s-3578f52ef3bdd58b4", "s-0e5a9c4b2f7d18e36"
CONN = {"aws_conn_id": "aws_sim", "region_name": "us-east-1"}


def records_of(sim, servers, optional=()):
    items = sim.client("drs").describe_recovery_instances(filters={"sourceServerIDs": list(servers)})["items"]
    results = {i["sourceServerID"]: {"launch_status": "LAUNCHED", "ec2_instance_id": i["ec2InstanceID"]} for i in items}
    return new_records(results, optional)


def first_event(trigger: WaveHealthTrigger) -> dict:
    async def run():
        async for event in trigger.run():
            return event.payload
    return asyncio.run(asyncio.wait_for(run(), 60))


def rebuilt(trigger: WaveHealthTrigger) -> WaveHealthTrigger:
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_drs.triggers.instance_health.WaveHealthTrigger"
    return WaveHealthTrigger(**kwargs)


def test_status_checks_pass_after_their_delay(sim):
    sim.control.instance_health(DB, status_delay=1.5)
    launch(sim, [DB], is_drill=True)
    started = time.time()
    event = first_event(rebuilt(WaveHealthTrigger(
        records=records_of(sim, [DB]), checks={"ec2_status_ok": True, "timeout_minutes": 1},
        deadline=time.time() + 60, min_poll_interval=0.1, max_poll_interval=0.3, **CONN)))
    assert event["status"] == "done" and event["records"][DB]["state"] == "passed"
    assert event["checks"] == {"ec2_status_ok": True, "timeout_minutes": 1}  # echoed for the sensor
    assert time.time() - started >= 0.5  # it waited through "initializing"


def test_probes_are_due_once_the_agent_is_online_and_the_trigger_sends_none(sim):
    sim.control.instance_health(DB, ssm_delay=1.0)
    sim.control.instance_health(APP, ssm_never=True)
    launch(sim, [DB, APP], is_drill=True)
    checks = {"ssm_online": True, "probes": [{"tcp": "localhost:5432"}], "timeout_minutes": 1}
    event = first_event(WaveHealthTrigger(records=records_of(sim, [DB, APP], optional=[APP]), checks=checks,
                                          deadline=time.time() + 60, min_poll_interval=0.1, max_poll_interval=0.3,
                                          **CONN))
    assert event["status"] == "send"
    assert (event["records"][DB]["ssm_online"], event["records"][APP]["ssm_online"]) == (True, False)
    assert "SendCommand" not in sim.control.calls()  # sending is the sensor's job


def test_the_deadline_fails_what_still_waits(sim):
    sim.control.instance_health(DB, ssm_never=True)
    launch(sim, [DB], is_drill=True)
    event = first_event(WaveHealthTrigger(records=records_of(sim, [DB]), checks={"ssm_online": True,
                                                                                 "timeout_minutes": 1},
                                          deadline=time.time() + 1.0, min_poll_interval=0.2, **CONN))
    record = event["records"][DB]
    assert (event["status"], record["state"], record["failed_check"]) == ("done", "failed", "ssm_online")
    assert "SSM agent not Online" in record["detail"]
