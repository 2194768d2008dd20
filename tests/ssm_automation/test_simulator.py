"""SSM Automation end to end over HTTP against the project's DRS/SSM simulator.

Nothing of ours is mocked: the operator, hook and trigger talk to the simulator through the
Airflow AWS connection ``aws_sim`` exactly as they would talk to AWS.
"""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest
import yaml
from airflow.providers.common.compat.sdk import TaskDeferred
from airflow.sdk.module_loading import import_string
from botocore.exceptions import ClientError

import airflow_provider_drs.simulator as simulator_package
from airflow_provider_drs.exceptions import SsmAutomationFailed
from airflow_provider_drs.hooks.ssm_automation import SsmAutomationHook
from airflow_provider_drs.operators.ssm_automation import SsmStartAutomationOperator
from airflow_provider_drs.simulator import simulator
from airflow_provider_drs.triggers.ssm_automation import SsmAutomationTrigger

DOCUMENT = "AWS-RestartEC2Instance"  # two steps in the simulator: stopInstances, startInstances
RUN_TIMEOUT = 30  # seconds; every wait below is bounded by it


def _use(sim, monkeypatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_SIM",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"endpoint_url": sim.endpoint_url, "region_name": sim.region},
            }
        ),
    )


@pytest.fixture
def sim(monkeypatch):
    """A simulator whose automations take ~0.1 s (Pending, then one step after another)."""
    with simulator(time_scale=0.1) as running:
        _use(running, monkeypatch)
        yield running


@pytest.fixture
def slow_sim(monkeypatch):
    """A simulator whose automations take 60 s: long enough to stop one while it runs."""
    inventory = yaml.safe_load((Path(simulator_package.__file__).parent / "default_inventory.yaml").read_text())
    inventory["ssm_automation"] = {"duration": 60}
    with simulator(inventory=inventory, time_scale=1.0) as running:
        _use(running, monkeypatch)
        yield running


def _instance(sim) -> str:
    """A running EC2 instance in the simulator's embedded moto, for documents taking InstanceId."""
    ec2 = sim.client("ec2")
    return ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]


def _operator(**kwargs) -> SsmStartAutomationOperator:
    defaults = {
        "task_id": "post_restart",
        "document_name": DOCUMENT,
        "aws_conn_id": "aws_sim",
        "poll_interval": 0.05,
        "max_attempts": 400,
        "deferrable": False,
    }
    return SsmStartAutomationOperator(**{**defaults, **kwargs})


async def _run_trigger(trigger) -> list[dict]:
    """Run a trigger as the triggerer would: rebuilt from its serialized form, to its end."""
    classpath, kwargs = trigger.serialize()
    rebuilt = import_string(classpath)(**json.loads(json.dumps(kwargs)))

    async def collect():
        return [event.payload async for event in rebuilt.run()]

    return await asyncio.wait_for(collect(), timeout=RUN_TIMEOUT)


# --- success -------------------------------------------------------------------------------------
def test_operator_runs_an_automation_to_success(sim):
    instance_id = _instance(sim)
    result = _operator(parameters={"InstanceId": instance_id}).execute({})

    assert result["status"] == "Success"
    assert result["outputs"] == {}
    execution = SsmAutomationHook(aws_conn_id="aws_sim").get_automation_execution(result["execution_id"])
    assert execution["Parameters"] == {"InstanceId": [instance_id]}  # normalised from a scalar
    assert [s["StepStatus"] for s in execution["StepExecutions"]] == ["Success", "Success"]
    calls = sim.control.calls()
    assert calls["StartAutomationExecution"] == 1
    assert calls["GetAutomationExecution"] >= 2  # it did wait: Pending/InProgress first


async def test_deferred_operator_and_trigger_run_to_success(sim):
    instance_id = await asyncio.to_thread(_instance, sim)
    op = _operator(parameters={"InstanceId": [instance_id]}, deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        await asyncio.to_thread(op.execute, {})

    events = await _run_trigger(deferred.value.trigger)

    assert len(events) == 1
    event = events[0]
    assert event["status"] == "success"
    assert event["execution_status"] == "Success"
    assert set(event) == {"status", "execution_id", "execution_status", "outputs", "message"}
    result = op.execute_complete({}, event)
    assert result == {"execution_id": event["execution_id"], "status": "Success", "outputs": {}}
    assert sim.control.calls()["StartAutomationExecution"] == 1


async def test_trigger_polls_through_server_errors(sim):
    """Half the polls answer 500 and botocore does not retry them here: the trigger's budget does."""
    hook = SsmAutomationHook(aws_conn_id="aws_sim")
    execution_id = await asyncio.to_thread(hook.start_automation_execution, "AWS-CreateImage", {"Name": "x"})
    sim.control.error_rate(0.5, ["GetAutomationExecution"])
    trigger = SsmAutomationTrigger(
        execution_id=execution_id,
        poll_interval=0.05,
        max_attempts=400,
        max_transient_errors=50,
        aws_conn_id="aws_sim",
        botocore_config={"retries": {"mode": "standard", "total_max_attempts": 1}},
    )
    [event] = await _run_trigger(trigger)

    assert event["status"] == "success", event
    assert event["execution_id"] == execution_id


async def test_trigger_gives_up_after_its_budget_of_server_errors(sim):
    hook = SsmAutomationHook(aws_conn_id="aws_sim")
    execution_id = await asyncio.to_thread(hook.start_automation_execution, "AWS-CreateImage", {"Name": "x"})
    sim.control.error_rate(1.0, ["GetAutomationExecution"])
    trigger = SsmAutomationTrigger(
        execution_id=execution_id,
        poll_interval=0.01,
        max_transient_errors=2,
        aws_conn_id="aws_sim",
        botocore_config={"retries": {"mode": "standard", "total_max_attempts": 1}},
    )
    [event] = await _run_trigger(trigger)

    assert event["status"] == "error"
    assert execution_id in event["message"]
    assert "InternalServer" in event["message"]
    assert sim.control.attempts()["GetAutomationExecution"] == 3  # one try + two tolerated errors


# --- failure -------------------------------------------------------------------------------------
def test_operator_failure_names_the_failed_step_and_the_execution(sim):
    sim.control.fail_automation(DOCUMENT, "startInstances")
    op = _operator(parameters={"InstanceId": _instance(sim)})

    with pytest.raises(SsmAutomationFailed) as info:
        op.execute({})

    message = str(info.value)
    assert "step 'startInstances' (aws:changeInstanceState) Failed" in message
    assert op.execution_id in message
    assert f"--automation-execution-id {op.execution_id}" in message  # what to do next
    execution = SsmAutomationHook(aws_conn_id="aws_sim").get_automation_execution(op.execution_id)
    assert execution["AutomationExecutionStatus"] == "Failed"


async def test_deferred_failure_names_the_failed_step(sim):
    sim.control.fail_automation(DOCUMENT, "stopInstances")
    instance_id = await asyncio.to_thread(_instance, sim)
    op = _operator(parameters={"InstanceId": instance_id}, deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        await asyncio.to_thread(op.execute, {})
    execution_id = deferred.value.trigger.execution_id

    [event] = await _run_trigger(deferred.value.trigger)

    assert event["status"] == "error"
    assert event["execution_status"] == "Failed"
    assert "stopInstances" in event["message"]
    with pytest.raises(SsmAutomationFailed, match=rf"{execution_id}.*step 'stopInstances'"):
        op.execute_complete({}, event)


def test_automation_on_a_missing_instance_fails_at_its_first_step(sim):
    op = _operator(parameters={"InstanceId": "i-0123456789abcdef0"})

    with pytest.raises(SsmAutomationFailed, match=r"step 'stopInstances'.*i-0123456789abcdef0' does not exist"):
        op.execute({})


def test_unknown_document_is_refused_at_start(sim):
    with pytest.raises(ClientError, match="AutomationDefinitionNotFoundException"):
        _operator(document_name="No-Such-Runbook").execute({})
    assert "GetAutomationExecution" not in sim.control.calls()


async def test_trigger_on_an_unknown_execution_ends_with_an_error_event(sim):
    trigger = SsmAutomationTrigger(
        execution_id="00000000-0000-0000-0000-000000000000", poll_interval=0.05, aws_conn_id="aws_sim"
    )
    [event] = await _run_trigger(trigger)

    assert event["status"] == "error"
    assert event["execution_status"] is None
    assert "AutomationExecutionNotFoundException" in event["message"]
    assert sim.control.calls()["GetAutomationExecution"] == 1  # a permanent error is not retried


# --- stop ----------------------------------------------------------------------------------------
def test_killing_a_waiting_task_stops_its_execution(slow_sim):
    op = _operator(document_name="AWS-CreateImage", parameters={"InstanceId": _instance(slow_sim)})
    outcome: dict = {}

    def run():
        try:
            outcome["result"] = op.execute({})
        except Exception as error:
            outcome["error"] = error

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    hook = SsmAutomationHook(aws_conn_id="aws_sim")
    for _ in range(RUN_TIMEOUT * 20):  # until the execution exists and is being waited for
        if op.execution_id and slow_sim.control.calls().get("GetAutomationExecution"):
            break
        worker.join(0.05)
    assert hook.get_automation_execution(op.execution_id)["AutomationExecutionStatus"] in ("Pending", "InProgress")

    op.on_kill()
    worker.join(RUN_TIMEOUT)

    assert not worker.is_alive()
    assert slow_sim.control.calls()["StopAutomationExecution"] == 1
    assert hook.get_automation_execution(op.execution_id)["AutomationExecutionStatus"] == "Cancelled"
    assert isinstance(outcome.get("error"), SsmAutomationFailed)
    assert "ended Cancelled" in str(outcome["error"])


async def test_trigger_reports_a_stopped_execution_as_an_error(slow_sim):
    op = _operator(document_name="AWS-CreateImage", wait_for_completion=False)
    started = await asyncio.to_thread(op.execute, {})
    assert started["status"] in ("Pending", "InProgress")
    hook = SsmAutomationHook(aws_conn_id="aws_sim")
    await asyncio.to_thread(hook.stop_automation_execution, started["execution_id"])
    trigger = SsmAutomationTrigger(execution_id=started["execution_id"], poll_interval=0.05, aws_conn_id="aws_sim")
    [event] = await _run_trigger(trigger)

    assert event["status"] == "error"
    assert event["execution_status"] == "Cancelled"
    assert "Cancelled" in event["message"]


def test_on_kill_after_the_execution_ended_does_not_stop_it(sim):
    op = _operator(document_name="AWS-CreateImage")
    op.execute({})
    op.on_kill()
    assert "StopAutomationExecution" not in sim.control.calls()


def test_describe_document_answers_for_aws_owned_documents_in_botocore_shape(sim):
    import botocore.session

    from tests.simulator.shape_check import violations

    ssm = sim.client("ssm")
    raw: list[dict] = []
    ssm.meta.events.register("before-parse.ssm.DescribeDocument",
                             lambda response_dict, **_: raw.append(json.loads(response_dict["body"])))
    assert ssm.describe_document(Name="AWS-RunShellScript")["Document"]["DocumentType"] == "Command"
    assert ssm.describe_document(Name="AWS-RestartEC2Instance")["Document"]["DocumentType"] == "Automation"
    shape = botocore.session.get_session().get_service_model("ssm").operation_model("DescribeDocument").output_shape
    assert [violations(shape, body) for body in raw] == [[], []]
    with pytest.raises(ClientError, match="InvalidDocument"):
        ssm.describe_document(Name="Corp-NoSuchRunbook")
    # A document created through the SSM API is moto's to describe, even under an AWS-like name.
    ssm.create_document(Name="AWS-LookAlike", DocumentType="Automation", Content=json.dumps(
        {"schemaVersion": "0.3", "mainSteps": [{"name": "wait", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}}]}))
    assert ssm.describe_document(Name="AWS-LookAlike")["Document"]["Owner"] != "Amazon"
