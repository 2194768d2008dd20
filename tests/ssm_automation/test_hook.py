"""SsmAutomationHook and its pure helpers (parameter normalisation, failure summary, events).

AWS is replaced by botocore's Stubber on the hook's real client: the hook's own code runs, and
botocore still validates every request against the SSM model.
"""

from __future__ import annotations

import datetime

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.stub import ANY, Stubber

from airflow_provider_drs.exceptions import SsmAutomationFailed
from airflow_provider_drs.hooks.ssm_automation import (
    FAILURE_STATUSES,
    SUCCESS_STATUSES,
    SsmAutomationHook,
    automation_event,
    failure_summary,
    is_transient_error,
    normalize_parameters,
)

EXECUTION_ID = "4105a4fc-f944-11e6-9d32-0123456789ab"


def _execution(status: str, **extra) -> dict:
    return {
        "AutomationExecutionId": EXECUTION_ID,
        "DocumentName": "AWS-RestartEC2Instance",
        "AutomationExecutionStatus": status,
        **extra,
    }


FAILED_AT_START = _execution(
    "Failed",
    FailureMessage="Step fails when it is Executing. Please refer to Automation Service Troubleshooting Guide.",
    StepExecutions=[
        {"StepName": "stopInstances", "Action": "aws:changeInstanceState", "StepStatus": "Success"},
        {
            "StepName": "startInstances",
            "Action": "aws:changeInstanceState",
            "StepStatus": "Failed",
            "FailureMessage": "InvalidInstanceId: the instance ID 'i-0abc' does not exist",
            "FailureDetails": {"FailureType": "Verification"},
        },
    ],
)


# --- normalize_parameters -------------------------------------------------------------------------
def test_normalize_parameters_wraps_scalars_and_stringifies():
    assert normalize_parameters(
        {
            "InstanceId": "i-0123456789abcdef0",
            "InstanceIds": ["i-1", "i-2"],
            "Count": 3,
            "Ratio": 0.5,
            "Force": True,
            "DryRun": False,
            "Tags": ("a", 1),
            "Map": {"b": 2, "a": "x"},
        }
    ) == {
        "InstanceId": ["i-0123456789abcdef0"],
        "InstanceIds": ["i-1", "i-2"],
        "Count": ["3"],
        "Ratio": ["0.5"],
        "Force": ["true"],
        "DryRun": ["false"],
        "Tags": ["a", "1"],
        "Map": ['{"a": "x", "b": 2}'],
    }


def test_normalize_parameters_drops_none_and_accepts_empty():
    assert normalize_parameters(None) == {}
    assert normalize_parameters({}) == {}
    assert normalize_parameters({"AutomationAssumeRole": None, "X": ["a", None]}) == {"X": ["a"]}


def test_normalize_parameters_decodes_a_rendered_json_mapping():
    assert normalize_parameters('{"InstanceId": "i-1", "Force": true}') == {
        "InstanceId": ["i-1"],
        "Force": ["true"],
    }
    assert normalize_parameters("") == {}


def test_normalize_parameters_names_the_bad_parameter():
    with pytest.raises(TypeError, match="'InstanceId'.*object"):
        normalize_parameters({"InstanceId": object()})
    with pytest.raises(TypeError, match="mapping of parameter name"):
        normalize_parameters(["InstanceId", "i-1"])
    with pytest.raises(TypeError, match="mapping of parameter name"):
        normalize_parameters("InstanceId=i-1")


# --- failure_summary / automation_event ----------------------------------------------------------
def test_failure_summary_names_the_failed_step():
    summary = failure_summary(FAILED_AT_START)
    assert summary == (
        "step 'startInstances' (aws:changeInstanceState) Failed: "
        "InvalidInstanceId: the instance ID 'i-0abc' does not exist [Verification]"
    )


def test_failure_summary_falls_back_to_the_execution_failure_message():
    assert failure_summary(_execution("TimedOut", FailureMessage="Execution timed out")) == (
        "TimedOut: Execution timed out"
    )
    assert failure_summary(_execution("Rejected")) == "execution ended Rejected without a failure message"


def test_failure_summary_of_a_stopped_execution():
    cancelled = _execution(
        "Cancelled",
        StepExecutions=[
            {"StepName": "stopInstances", "Action": "aws:changeInstanceState", "StepStatus": "Cancelled"}
        ],
    )
    assert failure_summary(cancelled) == (
        "step 'stopInstances' (aws:changeInstanceState) Cancelled: the execution was stopped"
    )


def test_automation_event_success_carries_outputs():
    event = automation_event(_execution("Success", Outputs={"startInstances.InstanceIds": ["i-1"]}))
    assert event == {
        "status": "success",
        "execution_id": EXECUTION_ID,
        "execution_status": "Success",
        "outputs": {"startInstances.InstanceIds": ["i-1"]},
        "message": f"SSM Automation {EXECUTION_ID} (AWS-RestartEC2Instance) ended Success",
    }


def test_automation_event_error_names_execution_and_step():
    event = automation_event(FAILED_AT_START)
    assert event["status"] == "error"
    assert event["execution_status"] == "Failed"
    assert event["outputs"] == {}
    assert EXECUTION_ID in event["message"]
    assert "startInstances" in event["message"]


@pytest.mark.parametrize("status", sorted(SUCCESS_STATUSES | FAILURE_STATUSES))
def test_every_terminal_status_maps_to_one_outcome(status):
    expected = "success" if status in ("Success", "CompletedWithSuccess") else "error"
    assert automation_event(_execution(status))["status"] == expected


def test_status_sets_cover_the_botocore_enum():
    """Every AutomationExecutionStatus of the botocore model is classified: terminal or running."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("ssm")
    statuses = set(model.shape_for("AutomationExecutionStatus").enum)
    running = {
        "Pending", "InProgress", "Waiting", "Cancelling", "PendingApproval", "Approved", "Scheduled",
        "RunbookInProgress", "PendingChangeCalendarOverride", "ChangeCalendarOverrideApproved",
    }  # fmt: skip
    assert (SUCCESS_STATUSES | FAILURE_STATUSES) <= statuses
    assert statuses - SUCCESS_STATUSES - FAILURE_STATUSES == running


# --- is_transient_error --------------------------------------------------------------------------
def _client_error(code: str, http_status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": http_status}},
        "GetAutomationExecution",
    )


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (_client_error("ThrottlingException", 400), True),
        (_client_error("InternalServerError", 500), True),
        (_client_error("ServiceUnavailable", 503), True),
        (_client_error("Whatever", 502), True),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), True),
        (ConnectionResetError(), True),
        (_client_error("AutomationExecutionNotFoundException", 400), False),
        (_client_error("AccessDeniedException", 400), False),
        (ValueError("x"), False),
    ],
)
def test_is_transient_error(error, transient):
    assert is_transient_error(error) is transient


# --- hook calls, against botocore's Stubber --------------------------------------------------------
@pytest.fixture
def hook():
    return SsmAutomationHook(aws_conn_id="aws_test")


def test_hook_retries_in_standard_mode_unless_configured(hook):
    assert hook.config.retries == {"mode": "standard", "max_attempts": 10}
    custom = SsmAutomationHook(aws_conn_id="aws_test", config={"retries": {"mode": "legacy", "max_attempts": 2}})
    assert custom.config.retries == {"mode": "legacy", "max_attempts": 2}


def test_start_sends_normalised_parameters_and_a_client_token(hook):
    with Stubber(hook.conn) as stub:
        stub.add_response(
            "start_automation_execution",
            {"AutomationExecutionId": EXECUTION_ID},
            {
                "DocumentName": "AWS-RestartEC2Instance",
                "DocumentVersion": "3",
                "Parameters": {"InstanceId": ["i-0123456789abcdef0"], "Force": ["true"]},
                "ClientToken": ANY,
                "Mode": "Auto",
            },
        )
        execution_id = hook.start_automation_execution(
            "AWS-RestartEC2Instance",
            {"InstanceId": "i-0123456789abcdef0", "Force": True},
            document_version="3",
            Mode="Auto",
        )
        stub.assert_no_pending_responses()
    assert execution_id == EXECUTION_ID


def test_start_without_parameters_sends_none(hook):
    with Stubber(hook.conn) as stub:
        stub.add_response(
            "start_automation_execution",
            {"AutomationExecutionId": EXECUTION_ID},
            {"DocumentName": "MyRunbook", "ClientToken": "0b5d2f0a-4b8e-4a59-9d3c-6d3f0e3b9a11"},
        )
        assert (
            hook.start_automation_execution("MyRunbook", client_token="0b5d2f0a-4b8e-4a59-9d3c-6d3f0e3b9a11")
            == EXECUTION_ID
        )


def test_get_and_stop(hook):
    with Stubber(hook.conn) as stub:
        stub.add_response(
            "get_automation_execution",
            {"AutomationExecution": _execution("InProgress", ExecutionStartTime=datetime.datetime(2024, 1, 1))},
            {"AutomationExecutionId": EXECUTION_ID},
        )
        stub.add_response(
            "stop_automation_execution", {}, {"AutomationExecutionId": EXECUTION_ID, "Type": "Cancel"}
        )
        assert hook.get_automation_execution(EXECUTION_ID)["AutomationExecutionStatus"] == "InProgress"
        hook.stop_automation_execution(EXECUTION_ID)
        stub.assert_no_pending_responses()


def test_wait_polls_through_transient_errors_until_terminal(hook):
    with Stubber(hook.conn) as stub:
        stub.add_response("get_automation_execution", {"AutomationExecution": _execution("Pending")})
        stub.add_client_error("get_automation_execution", "ThrottlingException", http_status_code=400)
        stub.add_client_error("get_automation_execution", "InternalServerError", http_status_code=500)
        stub.add_response("get_automation_execution", {"AutomationExecution": _execution("InProgress")})
        stub.add_response("get_automation_execution", {"AutomationExecution": FAILED_AT_START})
        execution = hook.wait_for_automation_execution(EXECUTION_ID, poll_interval=0, max_attempts=10)
        stub.assert_no_pending_responses()
    assert execution["AutomationExecutionStatus"] == "Failed"


def test_wait_gives_up_after_the_transient_error_budget(hook):
    with Stubber(hook.conn) as stub:
        for _ in range(3):
            stub.add_client_error("get_automation_execution", "ThrottlingException", http_status_code=400)
        with pytest.raises(ClientError, match="ThrottlingException"):
            hook.wait_for_automation_execution(
                EXECUTION_ID, poll_interval=0, max_attempts=10, max_transient_errors=2
            )


def test_wait_does_not_retry_a_permanent_error(hook):
    with Stubber(hook.conn) as stub:
        stub.add_client_error(
            "get_automation_execution", "AutomationExecutionNotFoundException", http_status_code=400
        )
        with pytest.raises(ClientError, match="AutomationExecutionNotFoundException"):
            hook.wait_for_automation_execution(EXECUTION_ID, poll_interval=0, max_attempts=10)
        stub.assert_no_pending_responses()


def test_wait_times_out_with_a_message_saying_what_to_do(hook):
    with Stubber(hook.conn) as stub:
        for _ in range(3):
            stub.add_response("get_automation_execution", {"AutomationExecution": _execution("InProgress")})
        with pytest.raises(SsmAutomationFailed, match=rf"{EXECUTION_ID} is still InProgress after 3 polls"):
            hook.wait_for_automation_execution(EXECUTION_ID, poll_interval=0, max_attempts=3)
        stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("retries", "expected"),
    [
        (None, 11),  # the hook's default: 10 retries after the first try
        ({"mode": "standard", "max_attempts": 2}, 3),
        ({"mode": "standard", "total_max_attempts": 1}, 1),
    ],
)
def test_total_attempts_counts_the_first_try(retries, expected):
    from airflow_provider_drs.hooks.retry import total_attempts

    hook = SsmAutomationHook(aws_conn_id="aws_test", config={"retries": retries} if retries else None)
    assert total_attempts(hook.config) == expected
