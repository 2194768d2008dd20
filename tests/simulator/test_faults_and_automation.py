"""Injected faults (in-process and over HTTP) and SSM Automation executions."""

from __future__ import annotations

import json
import logging
import time

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from airflow_provider_drs.simulator import SimulatorClient, SimulatorError

from .conftest import DB, wait_job_completed, wait_until
from .shape_check import violations

SSM_MODEL = botocore.session.get_session().get_service_model("ssm")
ONE_TRY = Config(retries={"total_max_attempts": 1})


def test_throttle_recovers_after_the_window(sim, drs):
    sim.control.throttle("DescribeSourceServers", per_second=1, retry_after_seconds=1)
    drs.describe_source_servers()
    with pytest.raises(ClientError) as info:
        drs.describe_source_servers()
    assert info.value.response["Error"]["Code"] == "ThrottlingException"
    time.sleep(1.05)
    drs.describe_source_servers()
    # Only processed calls count as calls; the throttled one is counted apart.
    assert sim.control.calls()["DescribeSourceServers"] == 2
    counts = sim.control.call_counts()
    assert counts["refused"] == {"DescribeSourceServers": 1} and counts["dropped"] == {}


def test_error_rate_is_a_share_of_calls(sim, drs):
    sim.control.error_rate(0.5)
    outcomes = []
    for _ in range(60):
        try:
            drs.describe_jobs()
            outcomes.append(True)
        except ClientError as err:
            assert err.response["Error"]["Code"] == "InternalServerException"
            outcomes.append(False)
    assert 10 < outcomes.count(False) < 50
    sim.control.clear_faults()
    drs.describe_jobs()


def test_botocore_retries_through_injected_errors(sim):
    """With standard retries a 30% error rate is absorbed: what a hook's retry config should see."""
    sim.control.error_rate(0.3, ["DescribeJobs"])
    client = sim.client("drs", config=Config(retries={"mode": "standard", "max_attempts": 10}))
    for _ in range(10):
        client.describe_jobs()


def test_latency_is_added_to_every_request(sim, drs):
    drs.describe_jobs()
    sim.control.latency(0.3)
    started = time.monotonic()
    drs.describe_jobs()
    assert time.monotonic() - started >= 0.3
    sim.control.latency(0)


def test_latency_on_one_operation_and_a_request_in_the_air_is_still_processed(sim, drs):
    """The client gives up while StartRecovery is held: DRS still starts the job (the reason a
    retried start must adopt its job rather than start another)."""
    sim.control.latency(1.0, ["StartRecovery"])
    started = time.monotonic()
    drs.describe_jobs()
    assert time.monotonic() - started < 0.5  # other operations are not held
    impatient = sim.client("drs", config=Config(read_timeout=0.2, retries={"total_max_attempts": 1}))
    with pytest.raises(Exception, match="timeout|timed out"):
        impatient.start_recovery(sourceServers=[{"sourceServerID": DB}], isDrill=True)
    jobs = wait_until(lambda: drs.describe_jobs()["items"], timeout=5)
    assert [j["initiatedBy"] for j in jobs] == ["START_DRILL"]
    assert sim.control.calls()["StartRecovery"] == 1


def test_a_client_gone_mid_request_is_counted_as_dropped_without_a_traceback(sim, caplog):
    import socket
    from urllib.parse import urlparse

    url = urlparse(sim.endpoint_url)
    head = ("POST /DescribeJobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Authorization: AWS4-HMAC-SHA256 Credential=testing/20261128/us-east-1/drs/aws4_request, "
            "SignedHeaders=host, Signature=0\r\nContent-Length: 1000\r\n\r\n{\"filters\"")
    server_log = logging.getLogger("uvicorn.error")  # uvicorn's loggers do not propagate to the root
    server_log.addHandler(caplog.handler)
    try:
        with socket.create_connection((url.hostname, url.port)) as sock:
            sock.sendall(head.encode())
        wait_until(lambda: sim.control.call_counts()["dropped"], timeout=5)
        time.sleep(0.2)
    finally:
        server_log.removeHandler(caplog.handler)
    assert sim.control.call_counts()["dropped"] == {"DescribeJobs": 1}
    assert "DescribeJobs" not in sim.control.calls()
    assert not [r for r in caplog.records if r.levelname == "ERROR"], [r.getMessage() for r in caplog.records]


def test_access_log_names_operation_and_fate(caplog):
    from airflow_provider_drs.simulator import simulator

    with simulator(time_scale=0.1, access_log=True) as running, caplog.at_level("INFO", "drs_sim.access"):
        running.control.throttle("DescribeJobs", 0)
        client = running.client("drs", config=ONE_TRY)
        client.describe_source_servers()
        with pytest.raises(ClientError):
            client.describe_jobs()
    lines = [r.getMessage() for r in caplog.records if r.name == "drs_sim.access"]
    assert any("DescribeSourceServers region=us-east-1 status=200" in line for line in lines), lines
    assert any("DescribeJobs region=us-east-1 status=429" in line for line in lines), lines


def test_http_control_api_and_client(sim, drs):
    client = SimulatorClient(sim.endpoint_url)
    client.fail_server(DB, "CONVERSION", "conversion exploded")
    client.throttle("DescribeRecoveryInstances", 0, 3)
    faults = client.faults()
    assert faults["server_failures"][DB] == {"phase": "CONVERSION", "raw_error": "conversion exploded"}
    job = drs.start_recovery(sourceServers=[{"sourceServerID": DB}], isDrill=True)["job"]
    final = wait_job_completed(drs, job["jobID"])
    assert final["participatingServers"][0]["launchStatus"] == "FAILED"
    with pytest.raises(ClientError) as info:
        drs.describe_recovery_instances()
    assert info.value.response["retryAfterSeconds"] == "3"
    with pytest.raises(SimulatorError, match="phase must be one of"):
        client.fail_server(DB, "BOOT")
    assert client.calls()["StartRecovery"] == 1
    client.clear_faults()
    assert client.faults()["throttles"] == {}
    client.reset()
    assert client.calls() == {}


def automation_body(ssm, execution_id):
    captured = {}

    def capture(response_dict, **_):
        captured["body"] = json.loads(response_dict["body"])

    ssm.meta.events.register("before-parse.ssm.GetAutomationExecution", capture)
    result = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
    ssm.meta.events.unregister("before-parse.ssm.GetAutomationExecution", capture)
    problems = violations(SSM_MODEL.operation_model("GetAutomationExecution").output_shape, captured["body"])
    assert not problems, "\n".join(problems)
    return result


def launch_one(sim, drs, server=DB):
    job = drs.start_recovery(sourceServers=[{"sourceServerID": server}], isDrill=True)["job"]
    wait_job_completed(drs, job["jobID"])
    return drs.describe_recovery_instances(filters={"sourceServerIDs": [server]})["items"][0]["ec2InstanceID"]


def test_automation_succeeds_on_a_launched_instance(sim, drs):
    instance = launch_one(sim, drs)
    # At the suite's clock the automation is InProgress for 0.09 s, shorter than one poll on a loaded
    # CI run (it was seen only Pending, then Success); at full scale, for 0.9 s.
    sim.control.set_time_scale(1.0)
    ssm = sim.client("ssm", config=ONE_TRY)
    execution_id = ssm.start_automation_execution(DocumentName="AWS-RestartEC2Instance",
                                                  Parameters={"InstanceId": [instance]})["AutomationExecutionId"]
    seen = set()

    def finished():
        current = automation_body(ssm, execution_id)
        seen.add(current["AutomationExecutionStatus"])
        return current if current["AutomationExecutionStatus"] not in ("Pending", "InProgress") else None

    final = wait_until(finished, 5, 0.01)
    assert final["AutomationExecutionStatus"] == "Success" and "InProgress" in seen
    assert [s["StepName"] for s in final["StepExecutions"]] == ["stopInstances", "startInstances"]
    assert {s["StepStatus"] for s in final["StepExecutions"]} == {"Success"}
    assert final["ExecutionEndTime"] >= final["ExecutionStartTime"]
    assert sim.control.calls()["StartAutomationExecution"] == 1


def test_automation_fails_for_a_missing_instance(sim):
    ssm = sim.client("ssm", config=ONE_TRY)
    execution_id = ssm.start_automation_execution(
        DocumentName="AWS-RestartEC2Instance", Parameters={"InstanceId": ["i-0123456789abcdef0"]})["AutomationExecutionId"]
    final = wait_until(lambda: (e := automation_body(ssm, execution_id))["AutomationExecutionStatus"] == "Failed" and e, 5)
    assert "i-0123456789abcdef0" in final["FailureMessage"] and "does not exist" in final["FailureMessage"]
    assert final["StepExecutions"][0]["StepStatus"] == "Failed"


def test_automation_fault_fails_the_named_step(sim, drs):
    instance = launch_one(sim, drs)
    sim.control.fail_automation("AWS-RestartEC2Instance", "startInstances")
    ssm = sim.client("ssm", config=ONE_TRY)
    execution_id = ssm.start_automation_execution(DocumentName="AWS-RestartEC2Instance",
                                                  Parameters={"InstanceId": [instance]})["AutomationExecutionId"]
    final = wait_until(lambda: (e := automation_body(ssm, execution_id))["AutomationExecutionStatus"] == "Failed" and e, 5)
    assert [(s["StepName"], s["StepStatus"]) for s in final["StepExecutions"]] == [
        ("stopInstances", "Success"), ("startInstances", "Failed")]


def test_stop_automation_cancels(sim):
    ssm = sim.client("ssm", config=ONE_TRY)
    execution_id = ssm.start_automation_execution(DocumentName="AWS-SomethingLong")["AutomationExecutionId"]
    ssm.stop_automation_execution(AutomationExecutionId=execution_id)
    assert automation_body(ssm, execution_id)["AutomationExecutionStatus"] == "Cancelled"
    with pytest.raises(ClientError) as info:
        ssm.stop_automation_execution(AutomationExecutionId=execution_id)
    assert info.value.response["Error"]["Code"] == "InvalidAutomationStatusUpdateException"


def test_automation_errors_and_custom_documents(sim):
    ssm = sim.client("ssm", config=ONE_TRY)
    with pytest.raises(ClientError) as info:
        ssm.start_automation_execution(DocumentName="NoSuchRunbook")
    assert info.value.response["Error"]["Code"] == "AutomationDefinitionNotFoundException"
    with pytest.raises(ClientError) as info:
        ssm.get_automation_execution(AutomationExecutionId="00000000-0000-0000-0000-000000000000")
    assert info.value.response["Error"]["Code"] == "AutomationExecutionNotFoundException"
    content = {"schemaVersion": "0.3", "mainSteps": [{"name": "checkApp", "action": "aws:executeScript"},
                                                     {"name": "warmCache", "action": "aws:runCommand"}]}
    ssm.create_document(Name="DR-WarmUp", Content=json.dumps(content), DocumentType="Automation")
    execution_id = ssm.start_automation_execution(DocumentName="DR-WarmUp")["AutomationExecutionId"]
    final = wait_until(lambda: (e := automation_body(ssm, execution_id))["AutomationExecutionStatus"] == "Success" and e, 5)
    assert [s["StepName"] for s in final["StepExecutions"]] == ["checkApp", "warmCache"]
    sim.control.throttle("GetAutomationExecution", 0)
    with pytest.raises(ClientError) as info:
        ssm.get_automation_execution(AutomationExecutionId=execution_id)
    assert info.value.response["Error"]["Code"] == "ThrottlingException"
    sim.control.error_rate(1.0, ["StartAutomationExecution"])
    with pytest.raises(ClientError) as info:
        ssm.start_automation_execution(DocumentName="DR-WarmUp")
    assert info.value.response["Error"]["Code"] == "InternalServerError"
