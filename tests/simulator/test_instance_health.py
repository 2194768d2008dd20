"""The health of recovery instances: EC2 status checks, SSM agent registration and Run Command
outcomes, with their controls, each answer checked against botocore's model."""

from __future__ import annotations

import json
import time

import botocore.session
import pytest
from botocore.exceptions import ClientError

from airflow_provider_drs.simulator import SimulatorClient

from .conftest import APP, DB, wait_job_completed, wait_until
from .shape_check import violations

SSM_MODEL = botocore.session.get_session().get_service_model("ssm")


def launch(drs, *servers: str) -> dict[str, str]:
    """Drill-launch ``servers``; source server id -> EC2 instance id."""
    job = drs.start_recovery(isDrill=True, sourceServers=[{"sourceServerID": s} for s in servers])["job"]
    wait_job_completed(drs, job["jobID"])
    items = drs.describe_recovery_instances(filters={"sourceServerIDs": list(servers)})["items"]
    return {i["sourceServerID"]: i["ec2InstanceID"] for i in items}


@pytest.fixture
def ssm_raw(sim):
    ssm = sim.client("ssm")
    seen = []
    ssm.meta.events.register("before-parse.ssm.*", lambda operation_model, response_dict, **_: seen.append(
        (operation_model.name, response_dict["status_code"], json.loads(response_dict["body"] or b"{}"))))
    return ssm, seen


def conforms(seen) -> int:
    checked = 0
    for name, status, body in seen:
        if status < 300:
            problems = violations(SSM_MODEL.operation_model(name).output_shape, body)
            assert not problems, f"{name}: " + "\n".join(problems)
            checked += 1
    return checked


def statuses(ec2, ids):
    answer = ec2.describe_instance_status(InstanceIds=ids, IncludeAllInstances=True)["InstanceStatuses"]
    return {s["InstanceId"]: (s["InstanceStatus"]["Status"], s["SystemStatus"]["Status"]) for s in answer}


def test_status_checks_initialize_then_pass_or_stay_impaired(sim, drs):
    sim.control.instance_health(DB, status_delay=3.0)
    sim.control.instance_health(APP, status_delay=0.0, impaired=True)
    ids = launch(drs, DB, APP)
    ec2 = sim.client("ec2")
    now = statuses(ec2, list(ids.values()))
    assert now[ids[DB]] == ("initializing", "initializing")
    assert now[ids[APP]] == ("impaired", "ok")  # the instance check fails, AWS's system check passes
    wait_until(lambda: statuses(ec2, [ids[DB]])[ids[DB]] == ("ok", "ok"), 8)
    full = ec2.describe_instance_status(InstanceIds=[ids[APP]])["InstanceStatuses"][0]
    assert full["InstanceState"] == {"Code": 16, "Name": "running"} and full["AvailabilityZone"].startswith("us-east-1")
    assert full["InstanceStatus"]["Details"][0]["Status"] == "failed"
    assert "ImpairedSince" in full["InstanceStatus"]["Details"][0]


def test_terminated_instance_has_no_status_unless_all_asked(sim, drs):
    ids = launch(drs, DB)
    ec2 = sim.client("ec2")
    ec2.terminate_instances(InstanceIds=[ids[DB]])
    assert ec2.describe_instance_status(InstanceIds=[ids[DB]])["InstanceStatuses"] == []
    everything = statuses(ec2, [ids[DB]])
    assert everything[ids[DB]] == ("not-applicable", "not-applicable")


def test_ssm_agent_registers_after_its_delay_or_never(sim, drs, ssm_raw):
    ssm, seen = ssm_raw
    sim.control.instance_health(DB, ssm_delay=2.5)
    sim.control.instance_health(APP, ssm_never=True)
    ids = launch(drs, DB, APP)

    def online():
        answer = ssm.describe_instance_information(
            Filters=[{"Key": "InstanceIds", "Values": list(ids.values())}])["InstanceInformationList"]
        return {i["InstanceId"]: i["PingStatus"] for i in answer}

    assert online() == {}
    wait_until(lambda: online() == {ids[DB]: "Online"}, 5)
    time.sleep(0.3)
    assert online() == {ids[DB]: "Online"}  # APP's agent never reports
    assert conforms(seen) >= 2


def test_run_command_outcomes_follow_probe_rules(sim, drs, ssm_raw):
    ssm, seen = ssm_raw
    sim.control.instance_health(DB, ssm_delay=0)
    sim.control.instance_health(APP, ssm_delay=0)
    ids = launch(drs, DB, APP)
    sim.control.probe_rule(target=APP, contains="/5432", output="connection refused")
    sim.control.probe_rule(contains="healthz", fail_for=0.6, output="503")
    script = {"commands": ["timeout 5 bash -c '</dev/tcp/db.internal/5432'"]}
    command = ssm.send_command(InstanceIds=list(ids.values()), DocumentName="AWS-RunShellScript",
                               Parameters=script)["Command"]

    def settled(instance):
        answer = ssm.get_command_invocation(CommandId=command["CommandId"], InstanceId=instance)
        return answer if answer["Status"] not in ("Pending", "InProgress") else None

    ok, refused = wait_until(lambda: settled(ids[DB]), 5), wait_until(lambda: settled(ids[APP]), 5)
    assert (ok["Status"], ok["ResponseCode"]) == ("Success", 0)
    assert (refused["Status"], refused["ResponseCode"], refused["StandardErrorContent"]) == (
        "Failed", 1, "connection refused")
    listed = ssm.list_command_invocations(CommandId=command["CommandId"])["CommandInvocations"]
    assert {i["InstanceId"]: i["Status"] for i in listed} == {ids[DB]: "Success", ids[APP]: "Failed"}

    def healthz():
        sent = ssm.send_command(InstanceIds=[ids[DB]], DocumentName="AWS-RunShellScript",
                                Parameters={"commands": ["curl -fsS http://localhost/healthz"]})["Command"]
        return wait_until(lambda: settled_of(sent["CommandId"]), 5)["Status"]

    def settled_of(command_id):
        answer = ssm.get_command_invocation(CommandId=command_id, InstanceId=ids[DB])
        return answer if answer["Status"] not in ("Pending", "InProgress") else None

    assert healthz() == "Failed"  # for 0.6 s, then the same probe succeeds
    wait_until(lambda: healthz() == "Success", 5)
    assert conforms(seen) >= 5


def test_send_command_refuses_an_agent_not_online(sim, drs, ssm_raw):
    ssm, _ = ssm_raw
    sim.control.instance_health(DB, ssm_never=True)
    ids = launch(drs, DB)
    with pytest.raises(ClientError) as info:
        ssm.send_command(InstanceIds=[ids[DB]], DocumentName="AWS-RunShellScript", Parameters={"commands": ["true"]})
    assert info.value.response["Error"]["Code"] == "InvalidInstanceId"


def test_controls_over_http(sim, drs):
    client = SimulatorClient(sim.endpoint_url)
    client.instance_health(DB, status_delay=0, impaired=True, ssm_never=True)
    client.probe_rule(contains="x", output="no")
    ids = launch(drs, DB)
    assert statuses(sim.client("ec2"), [ids[DB]])[ids[DB]] == ("impaired", "ok")
    client.reset()
    assert sim.simulation.health.rules == {} and sim.simulation.health.probe_rules == []
