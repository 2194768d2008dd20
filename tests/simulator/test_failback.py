"""Failback: ReverseReplication (AWS origin), the DRS Failback Client (on-premises origin, through the
control API), StartFailbackLaunch and StopFailback; every response checked against botocore's model."""

from __future__ import annotations

import re

import pytest

from airflow_provider_drs.simulator import InventoryError, SimulatorClient, SimulatorError, load_inventory, simulator

from .conftest import FAST, wait_job_completed, wait_until
from .test_conformance import assert_conforms, check_error_shape, error_of, raw  # noqa: F401 (raw: a fixture)

CLOUD, CLOUD_DRILL, ONPREM = "s-aaaaaaaaaaaaaaaaa", "s-bbbbbbbbbbbbbbbbb", "s-ccccccccccccccccc"
ESTATE = {
    "defaults": {"launch": {"snapshot": 0.5, "conversion": 0.5, "launch": 1.0},
                 "failback": {"replication": 10}, "jitter": 0},   # x FAST: replication takes 1 s
    "source_servers": [
        {"id": CLOUD, "hostname": "CLOUD-APP-01", "origin_region": "eu-west-1"},
        {"id": CLOUD_DRILL, "hostname": "CLOUD-WEB-01", "origin_region": "eu-west-1"},
        {"id": ONPREM, "hostname": "ONPREM-DB-01", "failback": {"replication": 15}},
    ],
}
FAILBACK_OPERATIONS = ("ReverseReplication", "StartFailbackLaunch", "DescribeRecoveryInstances", "DescribeJobs",
                       "DescribeJobLogItems")


@pytest.fixture
def sim():  # overrides conftest's: an estate with AWS-origin and on-premises sources
    with simulator(inventory=ESTATE, time_scale=FAST, seed=0) as running:
        yield running


def recover(drs, server_id: str, is_drill: bool = False) -> str:
    """Launch ``server_id`` and return its recovery instance id."""
    job = drs.start_recovery(sourceServers=[{"sourceServerID": server_id}], isDrill=is_drill)["job"]
    wait_job_completed(drs, job["jobID"])
    return drs.describe_recovery_instances(filters={"sourceServerIDs": [server_id]})["items"][0]["recoveryInstanceID"]


def instance(drs, recovery_instance_id: str) -> dict:
    return drs.describe_recovery_instances(filters={"recoveryInstanceIDs": [recovery_instance_id]})["items"][0]


def failback_state(drs, recovery_instance_id: str) -> str:
    return instance(drs, recovery_instance_id)["failback"]["state"]


def wait_failback(drs, recovery_instance_id: str, state: str) -> dict:
    return wait_until(lambda: instance(drs, recovery_instance_id)["failback"]["state"] == state
                      and instance(drs, recovery_instance_id), timeout=10, what=state)


def error_code(call, **kwargs) -> tuple[str, str]:
    err = error_of(call, **kwargs)
    return err.response["Error"]["Code"], err.response["Error"]["Message"]


def test_aws_origin_failback_cycle(sim, drs, raw):
    rid = recover(drs, CLOUD)
    fresh = instance(drs, rid)
    assert fresh["originEnvironment"] == "AWS" and fresh["originAvailabilityZone"] == "eu-west-1a"
    assert fresh["failback"] == {"state": "FAILBACK_NOT_STARTED"}
    ec2_before = sim.client("ec2").describe_instances()["Reservations"]

    reversed_arn = drs.reverse_replication(recoveryInstanceID=rid)["reversedDirectionSourceServerArn"]
    assert re.fullmatch(r"arn:aws:drs:eu-west-1:123456789012:source-server/s-[0-9a-f]{17}", reversed_arn)
    in_progress = instance(drs, rid)["failback"]
    assert in_progress["state"] == "FAILBACK_IN_PROGRESS"
    assert in_progress["failbackInitiationTime"] and "failbackJobID" not in in_progress
    ready = wait_failback(drs, rid, "FAILBACK_READY_FOR_LAUNCH")["failback"]
    assert ready["firstByteDateTime"] >= ready["failbackInitiationTime"]

    job = drs.start_failback_launch(recoveryInstanceIDs=[rid], tags={"Purpose": "failback"})["job"]
    assert (job["type"], job["initiatedBy"], job["status"]) == ("LAUNCH", "FAILBACK", "PENDING")
    assert job["tags"] == {"Purpose": "failback"}
    assert job["participatingServers"] == [{"sourceServerID": CLOUD, "recoveryInstanceID": rid,
                                            "launchStatus": "PENDING"}]
    launch_statuses = set()

    def completed():
        current = drs.describe_jobs(filters={"jobIDs": [job["jobID"]]})["items"][0]
        launch_statuses.add(current["participatingServers"][0]["launchStatus"])
        return current if current["status"] == "COMPLETED" else None

    final = wait_until(completed, 10, 0.02)
    assert "IN_PROGRESS" in launch_statuses and final["participatingServers"][0]["launchStatus"] == "LAUNCHED"
    assert [j["jobID"] for j in drs.describe_jobs()["items"]][-1] == job["jobID"]
    events = [e["event"] for e in drs.describe_job_log_items(jobID=job["jobID"])["items"]]
    assert events == ["JOB_START", "LAUNCH_START", "JOB_END"]
    done = instance(drs, rid)["failback"]
    assert done["state"] == "FAILBACK_COMPLETED" and done["failbackJobID"] == job["jobID"]
    # The failback launched onto the origin: no new EC2 instance here, and no launch-result event.
    assert sim.client("ec2").describe_instances()["Reservations"] == ec2_before
    assert job["jobID"] not in {d["job_id"] for d in sim.control.launch_event_stats()["deliveries"]}

    stopped = drs.stop_failback(recoveryInstanceID=rid)
    assert stopped["ResponseMetadata"]["HTTPStatusCode"] == 200 and set(stopped) == {"ResponseMetadata"}
    assert instance(drs, rid)["failback"] == {"state": "FAILBACK_NOT_STARTED"}
    # The reversed source server outlives a stop: replicating again names the same one.
    assert drs.reverse_replication(recoveryInstanceID=rid)["reversedDirectionSourceServerArn"] == reversed_arn

    for operation in FAILBACK_OPERATIONS:
        assert_conforms(raw, operation)
    stop = [(status, body) for name, status, _, body in raw if name == "StopFailback"]
    assert stop == [(200, {})]
    seen = {i["failback"]["state"] for name, status, _, body in raw
            if name == "DescribeRecoveryInstances" and status == 200 for i in body["items"]}
    assert seen == {"FAILBACK_NOT_STARTED", "FAILBACK_IN_PROGRESS", "FAILBACK_READY_FOR_LAUNCH", "FAILBACK_COMPLETED"}


def test_reverse_replication_refusals(sim, drs, raw):
    cloud, drill, onprem = recover(drs, CLOUD), recover(drs, CLOUD_DRILL, is_drill=True), recover(drs, ONPREM)
    drill_instance, onprem_instance = instance(drs, drill), instance(drs, onprem)
    assert drill_instance["isDrill"] and drill_instance["failback"] == {"state": "FAILBACK_NOT_STARTED"}
    assert onprem_instance["originEnvironment"] == "ON_PREMISES"
    assert onprem_instance["originAvailabilityZone"] == "us-east-1a"

    code, message = error_code(drs.reverse_replication, recoveryInstanceID="i-0123456789abcdef0")
    assert code == "ResourceNotFoundException" and "i-0123456789abcdef0" in message
    check_error_shape(raw, code, 404)
    code, message = error_code(drs.reverse_replication, recoveryInstanceID=drill)
    assert code == "ValidationException" and "drill" in message
    check_error_shape(raw, code, 400)
    code, message = error_code(drs.reverse_replication, recoveryInstanceID=onprem)
    assert code == "ValidationException" and "AWS-origin" in message and "Failback Client" in message

    drs.reverse_replication(recoveryInstanceID=cloud)
    code, message = error_code(drs.reverse_replication, recoveryInstanceID=cloud)
    assert code == "ConflictException" and "FAILBACK_IN_PROGRESS" in message
    check_error_shape(raw, code, 409)
    wait_failback(drs, cloud, "FAILBACK_READY_FOR_LAUNCH")
    code, message = error_code(drs.reverse_replication, recoveryInstanceID=cloud)
    assert code == "ConflictException" and "FAILBACK_READY_FOR_LAUNCH" in message

    drs.stop_failback(recoveryInstanceID=cloud)
    ec2_id = instance(drs, cloud)["ec2InstanceID"]
    sim.client("ec2").terminate_instances(InstanceIds=[ec2_id])
    code, message = error_code(drs.reverse_replication, recoveryInstanceID=cloud)
    assert code == "ValidationException" and "terminated" in message

    code, _ = error_code(drs.stop_failback, recoveryInstanceID="i-0123456789abcdef0")
    assert code == "ResourceNotFoundException"
    check_error_shape(raw, code, 404)
    assert_conforms(raw, "DescribeRecoveryInstances")


def test_start_failback_launch_refusals(sim, drs, raw):
    cloud, onprem = recover(drs, CLOUD), recover(drs, ONPREM)
    code, message = error_code(drs.start_failback_launch, recoveryInstanceIDs=[cloud, "i-0123456789abcdef0"])
    assert code == "ValidationException" and "i-0123456789abcdef0" in message and cloud not in message
    check_error_shape(raw, code, 400)
    code, _ = error_code(drs.start_failback_launch, recoveryInstanceIDs=[cloud, cloud])
    assert code == "ValidationException"
    code, message = error_code(drs.start_failback_launch, recoveryInstanceIDs=[cloud])
    assert code == "ConflictException" and cloud in message and "FAILBACK_NOT_STARTED" in message
    check_error_shape(raw, code, 409)

    drs.reverse_replication(recoveryInstanceID=cloud)
    code, message = error_code(drs.start_failback_launch, recoveryInstanceIDs=[cloud])
    assert code == "ConflictException" and "FAILBACK_IN_PROGRESS" in message
    wait_failback(drs, cloud, "FAILBACK_READY_FOR_LAUNCH")
    code, message = error_code(drs.start_failback_launch, recoveryInstanceIDs=[cloud, onprem])
    assert code == "ConflictException" and onprem in message  # all or nothing: no job started
    assert [j["initiatedBy"] for j in drs.describe_jobs()["items"]] == ["START_RECOVERY", "START_RECOVERY"]

    job = drs.start_failback_launch(recoveryInstanceIDs=[cloud])["job"]
    code, message = error_code(drs.start_failback_launch, recoveryInstanceIDs=[cloud])
    assert code == "ConflictException" and job["jobID"] in message and CLOUD in message
    check_error_shape(raw, code, 409)
    wait_job_completed(drs, job["jobID"])
    code, message = error_code(drs.start_failback_launch, recoveryInstanceIDs=[cloud])
    assert code == "ConflictException" and "FAILBACK_COMPLETED" in message


def test_on_premises_failback_through_the_failback_client(sim, drs, raw):
    onprem, cloud, drill = recover(drs, ONPREM), recover(drs, CLOUD), recover(drs, CLOUD_DRILL, is_drill=True)
    client_id = sim.control.boot_failback_client(onprem)
    in_progress = instance(drs, onprem)["failback"]
    assert in_progress["state"] == "FAILBACK_IN_PROGRESS" and in_progress["failbackClientID"] == client_id
    with pytest.raises(ValueError, match="already FAILBACK_IN_PROGRESS"):
        sim.control.boot_failback_client(onprem)
    for refused, reason in ((cloud, "ReverseReplication"), (drill, "drill"), ("i-0123456789abcdef0", "not found")):
        with pytest.raises(ValueError, match=reason):
            sim.control.boot_failback_client(refused)
    ready = wait_failback(drs, onprem, "FAILBACK_READY_FOR_LAUNCH")["failback"]
    assert ready["failbackClientID"] == client_id and ready["failbackClientLastSeenByServiceDateTime"]
    job = drs.start_failback_launch(recoveryInstanceIDs=[onprem])["job"]
    wait_job_completed(drs, job["jobID"])
    assert failback_state(drs, onprem) == "FAILBACK_COMPLETED"
    drs.stop_failback(recoveryInstanceID=onprem)
    assert failback_state(drs, onprem) == "FAILBACK_NOT_STARTED"

    # The same over HTTP, for a simulator in another process.
    client = SimulatorClient(sim.endpoint_url)
    other = client.boot_failback_client(onprem)
    assert other != client_id and instance(drs, onprem)["failback"]["failbackClientID"] == other
    with pytest.raises(SimulatorError, match="HTTP 400.*ReverseReplication"):
        client.boot_failback_client(cloud)
    for operation in ("StartFailbackLaunch", "DescribeRecoveryInstances"):
        assert_conforms(raw, operation)


def test_failback_error(sim, drs, raw):
    cloud, onprem = recover(drs, CLOUD), recover(drs, ONPREM)
    sim.control.fail_failback(CLOUD)
    SimulatorClient(sim.endpoint_url).fail_failback(ONPREM)
    assert sim.control.faults()["failback_failures"] == [CLOUD, ONPREM]
    drs.reverse_replication(recoveryInstanceID=cloud)
    sim.control.boot_failback_client(onprem)
    assert failback_state(drs, cloud) == "FAILBACK_IN_PROGRESS"
    failed = wait_failback(drs, cloud, "FAILBACK_ERROR")["failback"]
    assert failed["agentLastSeenByServiceDateTime"] >= failed["failbackInitiationTime"]
    wait_failback(drs, onprem, "FAILBACK_ERROR")
    code, message = error_code(drs.start_failback_launch, recoveryInstanceIDs=[cloud])
    assert code == "ConflictException" and "FAILBACK_ERROR" in message
    assert_conforms(raw, "DescribeRecoveryInstances")

    sim.control.clear_faults()  # a replication started again after the error succeeds
    drs.reverse_replication(recoveryInstanceID=cloud)
    wait_failback(drs, cloud, "FAILBACK_READY_FOR_LAUNCH")
    drs.stop_failback(recoveryInstanceID=onprem)
    assert failback_state(drs, onprem) == "FAILBACK_NOT_STARTED"


def test_terminate_and_reset_during_failback(sim, drs):
    cloud, onprem = recover(drs, CLOUD), recover(drs, ONPREM)
    drs.reverse_replication(recoveryInstanceID=cloud)
    sim.control.fail_failback(ONPREM)
    terminate = drs.terminate_recovery_instances(recoveryInstanceIDs=[cloud])["job"]
    wait_job_completed(drs, terminate["jobID"])
    assert [i["recoveryInstanceID"] for i in drs.describe_recovery_instances()["items"]] == [onprem]
    sim.control.reset()
    assert drs.describe_recovery_instances()["items"] == [] and drs.describe_jobs()["items"] == []
    assert sim.control.faults()["failback_failures"] == []


def test_inventory_origin_region_and_failback_behaviour(tmp_path):
    path = tmp_path / "estate.yaml"
    path.write_text("defaults:\n  failback: {replication: 30}\nsource_servers:\n"
                    "  - id: s-aaaaaaaaaaaaaaaaa\n    hostname: a\n    origin_region: eu-west-1\n"
                    "  - id: s-bbbbbbbbbbbbbbbbb\n    hostname: b\n    failback: {replication: 5}\n")
    inventory = load_inventory(path)
    assert [s.origin_region for s in inventory.source_servers] == ["eu-west-1", None]
    assert [inventory.failback_behaviour(s).replication for s in inventory.source_servers] == [30, 5]
    assert load_inventory(None).defaults.failback.replication == 60
    path.write_text("source_servers:\n  - id: s-aaaaaaaaaaaaaaaaa\n    hostname: a\n    origin_region: eu-west-1a\n"
                    "    failback: {replication: -1}\n")
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert info.value.problems == [
        f"{path}:4: source_servers[0].origin_region: Value error, 'eu-west-1a' is not an AWS region such as eu-west-1",
        f"{path}:5: source_servers[0].failback.replication: Input should be greater than or equal to 0"]
