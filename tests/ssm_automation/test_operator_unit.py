"""SsmStartAutomationOperator, in the Amazon provider's unit-test style.

AWS is replaced by botocore's Stubber on the operator's real hook client (botocore still
validates the requests against the SSM model); the operator and hook code run unmodified.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from airflow.providers.common.compat.sdk import AirflowException
from airflow.providers.common.compat.sdk import TaskDeferred
from botocore.stub import ANY, Stubber

from airflow_provider_drs.exceptions import SsmAutomationFailed
from airflow_provider_drs.hooks.ssm_automation import SsmAutomationHook
from airflow_provider_drs.operators.ssm_automation import SsmStartAutomationOperator
from airflow_provider_drs.triggers.ssm_automation import SsmAutomationTrigger

EXECUTION_ID = "4105a4fc-f944-11e6-9d32-0123456789ab"
DOCUMENT = "AWS-RestartEC2Instance"


def _operator(**kwargs) -> SsmStartAutomationOperator:
    defaults = {
        "task_id": "restart_db",
        "document_name": DOCUMENT,
        "parameters": {"InstanceId": "i-0123456789abcdef0"},
        "aws_conn_id": "aws_test",
        "waiter_delay": 0,
        "deferrable": False,
    }
    return SsmStartAutomationOperator(**{**defaults, **kwargs})


def _stub_start(stub: Stubber, **expected) -> None:
    stub.add_response(
        "start_automation_execution",
        {"AutomationExecutionId": EXECUTION_ID},
        {
            "DocumentName": DOCUMENT,
            "Parameters": {"InstanceId": ["i-0123456789abcdef0"]},
            "ClientToken": ANY,
            **expected,
        },
    )


def _get(status: str, **extra) -> dict:
    return {
        "AutomationExecution": {
            "AutomationExecutionId": EXECUTION_ID,
            "DocumentName": DOCUMENT,
            "AutomationExecutionStatus": status,
            **extra,
        }
    }


def test_init_and_template_fields():
    op = _operator(region_name="eu-west-1", verify=False, botocore_config={"read_timeout": 42})
    assert op.hook.__class__ is SsmAutomationHook
    assert op.hook.aws_conn_id == "aws_test"
    assert op.hook._region_name == "eu-west-1"
    assert op.hook._verify is False
    assert op.hook._config.read_timeout == 42
    assert set(op.template_fields) == {
        "aws_conn_id", "region_name", "verify",
        "document_name", "parameters", "document_version",
    }  # fmt: skip
    assert op.wait_for_completion is True
    assert (op.waiter_delay, op.waiter_max_attempts, op.max_transient_errors) == (0, 720, 5)


def test_the_old_polling_names_still_work_with_a_deprecation_warning():
    from airflow.exceptions import AirflowProviderDeprecationWarning

    with pytest.warns(AirflowProviderDeprecationWarning, match="waiter_delay and waiter_max_attempts"):
        op = _operator(poll_interval=3, max_attempts=12)
    assert (op.waiter_delay, op.waiter_max_attempts) == (3, 12)


def test_document_and_parameters_are_rendered():
    op = _operator(
        document_name="{{ params.doc }}",
        parameters={"InstanceId": ["{{ params.instance }}"], "Force": True},
        document_version="{{ params.version }}",
    )
    op.render_template_fields(
        {"params": {"doc": "Custom-Restart", "instance": "i-0fedcba9876543210", "version": "7"}}
    )
    assert op.document_name == "Custom-Restart"
    assert op.parameters == {"InstanceId": ["i-0fedcba9876543210"], "Force": True}
    assert op.document_version == "7"


def test_execute_sync_returns_execution_id_status_and_outputs():
    op = _operator(document_version="2")
    with Stubber(op.hook.conn) as stub:
        _stub_start(stub, DocumentVersion="2")
        stub.add_response("get_automation_execution", _get("InProgress"), {"AutomationExecutionId": EXECUTION_ID})
        stub.add_response(
            "get_automation_execution", _get("Success", Outputs={"startInstances.State": ["running"]})
        )
        result = op.execute({})
        stub.assert_no_pending_responses()
    assert result == {
        "execution_id": EXECUTION_ID,
        "status": "Success",
        "outputs": {"startInstances.State": ["running"]},
    }


def test_execute_sync_failure_names_step_and_execution():
    op = _operator()
    failed = _get(
        "Failed",
        FailureMessage="Step fails when it is Executing.",
        StepExecutions=[
            {"StepName": "stopInstances", "Action": "aws:changeInstanceState", "StepStatus": "Failed",
             "FailureMessage": "Instance i-0123456789abcdef0 is not in a stoppable state"}
        ],
    )  # fmt: skip
    with Stubber(op.hook.conn) as stub:
        _stub_start(stub)
        stub.add_response("get_automation_execution", failed)
        with pytest.raises(SsmAutomationFailed) as info:
            op.execute({})
    message = str(info.value)
    assert EXECUTION_ID in message
    assert "step 'stopInstances' (aws:changeInstanceState) Failed" in message
    assert "not in a stoppable state" in message


def test_execute_without_waiting_returns_the_current_status():
    op = _operator(wait_for_completion=False, deferrable=True)
    with Stubber(op.hook.conn) as stub:
        _stub_start(stub)
        stub.add_response("get_automation_execution", _get("Pending"))
        result = op.execute({})
        stub.assert_no_pending_responses()
    assert result == {"execution_id": EXECUTION_ID, "status": "Pending", "outputs": {}}


def test_execute_deferrable_defers_to_a_fully_configured_trigger():
    op = _operator(
        deferrable=True,
        waiter_delay=7,
        waiter_max_attempts=10,
        region_name="us-east-1",
        verify=False,
        botocore_config={"read_timeout": 9},
    )
    with Stubber(op.hook.conn) as stub:
        _stub_start(stub)
        with pytest.raises(TaskDeferred) as deferred:
            op.execute({})
        stub.assert_no_pending_responses()
    trigger = deferred.value.trigger
    assert isinstance(trigger, SsmAutomationTrigger)
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout == timedelta(seconds=70) + timedelta(minutes=5)
    assert trigger.serialize()[1] == {
        "execution_id": EXECUTION_ID,
        "poll_interval": 7,
        "max_attempts": 10,
        "max_transient_errors": 5,
        "aws_conn_id": "aws_test",
        "region_name": "us-east-1",
        "verify": False,
        "botocore_config": {"read_timeout": 9},
    }


def test_execute_complete_success():
    event = {
        "status": "success",
        "execution_id": EXECUTION_ID,
        "execution_status": "Success",
        "outputs": {"a.b": ["c"]},
        "message": "ended Success",
    }
    assert _operator().execute_complete({}, event) == {
        "execution_id": EXECUTION_ID,
        "status": "Success",
        "outputs": {"a.b": ["c"]},
    }


def test_execute_complete_error_raises_with_the_event_message():
    event = {
        "status": "error",
        "execution_id": EXECUTION_ID,
        "execution_status": "Failed",
        "outputs": {},
        "message": f"SSM Automation {EXECUTION_ID} (X) ended Failed: step 'verify' (aws:assertAwsResourceProperty) "
        "Failed: wrong state",
    }
    with pytest.raises(SsmAutomationFailed, match=rf"step 'verify'.*get-automation-execution --automation-execution-id {EXECUTION_ID}"):
        _operator().execute_complete({}, event)


def test_execute_complete_without_event():
    with pytest.raises(AirflowException, match="event is None"):
        _operator().execute_complete({}, None)


def test_on_kill_stops_a_running_execution():
    op = _operator()
    op.execution_id = EXECUTION_ID
    with Stubber(op.hook.conn) as stub:
        stub.add_response("get_automation_execution", _get("InProgress"))
        stub.add_response(
            "stop_automation_execution", {}, {"AutomationExecutionId": EXECUTION_ID, "Type": "Cancel"}
        )
        op.on_kill()
        stub.assert_no_pending_responses()


def test_on_kill_leaves_a_finished_execution_alone():
    op = _operator()
    op.execution_id = EXECUTION_ID
    with Stubber(op.hook.conn) as stub:
        stub.add_response("get_automation_execution", _get("Success"))
        op.on_kill()  # a stop call would fail: the Stubber has no response for it
        stub.assert_no_pending_responses()


def test_on_kill_before_start_calls_nothing():
    op = _operator()
    with Stubber(op.hook.conn) as stub:
        op.on_kill()
        stub.assert_no_pending_responses()
