"""SsmAutomationHook: the only code of the provider that calls AWS Systems Manager Automation.

SSM *Run Command* is the Amazon provider's business (``SsmHook`` / ``SsmRunCommandOperator``);
this module covers what the Amazon provider lacks: Automation runbooks (StartAutomationExecution,
GetAutomationExecution, StopAutomationExecution).

Besides the hook, the module holds the pure helpers that the operator (sync wait) and the trigger
(deferred wait) share, so that both ways of waiting judge an execution identically:
``normalize_parameters``, ``failure_summary``, ``automation_event`` and ``ExecutionWatch``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

from airflow_provider_drs.exceptions import SsmAutomationFailed
from airflow_provider_drs.hooks.retry import RetryAfterMixin, is_transient_error

# AutomationExecutionStatus (botocore ssm 2014-11-06). Terminal statuses that mean success:
SUCCESS_STATUSES = frozenset({"Success", "CompletedWithSuccess"})
# Terminal statuses that mean the runbook did not do its job. ``Exited`` (a step ended the
# execution early) and ``CompletedWithFailure`` (a rate-controlled execution in which some targets
# failed) are failures for a DR plan: the post-recovery action did not verifiably happen.
FAILURE_STATUSES = frozenset(
    {
        "Failed",
        "TimedOut",
        "Cancelled",
        "Rejected",
        "CompletedWithFailure",
        "Exited",
        "ChangeCalendarOverrideRejected",
    }
)
TERMINAL_STATUSES = SUCCESS_STATUSES | FAILURE_STATUSES
# Everything else (Pending, InProgress, Waiting, Cancelling, PendingApproval, Approved, Scheduled,
# RunbookInProgress, PendingChangeCalendarOverride, ChangeCalendarOverrideApproved) is still running.

# Step statuses that point at the step that broke an execution (in order of preference).
_FAILED_STEP_STATUSES = ("Failed", "TimedOut", "Cancelled", "Rejected", "CompletedWithFailure", "Exited")

def _parameter_value(value: Any) -> str:
    if isinstance(value, bool):  # before int: bool is an int. SSM Boolean parameters want lowercase.
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, Mapping):  # StringMap parameters travel as JSON
        return json.dumps(value, sort_keys=True)
    raise TypeError(f"unsupported value {value!r} of type {type(value).__name__}")


def normalize_parameters(parameters: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """Runbook parameters in the shape SSM wants: ``{name: [str, ...]}``.

    Scalars become one-element lists, lists and tuples become lists of strings, booleans become
    ``"true"``/``"false"``, numbers their ``str``, mappings (StringMap parameters) JSON. A ``None``
    value drops the parameter so that the runbook's default applies. A JSON object given as a
    string (a whole templated mapping, rendered without native objects) is decoded first.
    """
    if isinstance(parameters, str):  # a whole templated mapping renders to its JSON text
        try:
            parameters = json.loads(parameters) if parameters.strip() else None
        except ValueError:
            pass
    if not parameters:
        return {}
    if not isinstance(parameters, Mapping):
        raise TypeError(
            f"SSM Automation parameters must be a mapping of parameter name to value(s), got "
            f"{type(parameters).__name__}: {parameters!r}"
        )
    normalized: dict[str, list[str]] = {}
    for name, value in parameters.items():
        if value is None:
            continue
        values = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
        try:
            normalized[str(name)] = [_parameter_value(v) for v in values if v is not None]
        except TypeError as error:
            raise TypeError(
                f"SSM Automation parameter {name!r}: {error}. Give a string, number, boolean, "
                "mapping, or a list of those."
            ) from None
    return normalized


def failed_step(execution: Mapping[str, Any]) -> dict[str, Any] | None:
    """The step execution that broke the execution, if the response names one."""
    steps = execution.get("StepExecutions") or []
    for wanted in _FAILED_STEP_STATUSES:
        for step in steps:
            if step.get("StepStatus") == wanted:
                return step
    return None


def failure_summary(execution: Mapping[str, Any]) -> str:
    """One line saying why an execution did not succeed, naming the failed step when known.

    e.g. ``step 'restartInstance' (aws:executeAwsApi) Failed: Instance i-0abc is not running``.
    """
    status = execution.get("AutomationExecutionStatus", "Unknown")
    step = failed_step(execution)
    if step is not None:
        message = step.get("FailureMessage") or execution.get("FailureMessage")
        if not message:
            message = "the execution was stopped" if status == "Cancelled" else "no failure message"
        details = step.get("FailureDetails") or {}
        if details.get("FailureType") and details["FailureType"] not in message:
            message = f"{message} [{details['FailureType']}]"
        return (
            f"step '{step.get('StepName', '?')}' ({step.get('Action', '?')}) "
            f"{step.get('StepStatus', status)}: {message}"
        )
    if execution.get("FailureMessage"):
        return f"{status}: {execution['FailureMessage']}"
    return f"execution ended {status} without a failure message"


def automation_event(
    execution: Mapping[str, Any], *, execution_id: str | None = None, document_name: str | None = None
) -> dict[str, Any]:
    """The outcome of a terminal execution, as the trigger's event and the operator's input.

    ``{"status": "success"|"error", "execution_id", "execution_status", "outputs", "message"}``
    """
    execution_id = execution.get("AutomationExecutionId") or execution_id
    document = execution.get("DocumentName") or document_name or "?"
    status = execution.get("AutomationExecutionStatus", "Unknown")
    outputs = {str(k): list(v) for k, v in (execution.get("Outputs") or {}).items()}
    if status in SUCCESS_STATUSES:
        return {
            "status": "success",
            "execution_id": execution_id,
            "execution_status": status,
            "outputs": outputs,
            "message": f"SSM Automation {execution_id} ({document}) ended {status}",
        }
    return {
        "status": "error",
        "execution_id": execution_id,
        "execution_status": status,
        "outputs": outputs,
        "message": f"SSM Automation {execution_id} ({document}) ended {status}: {failure_summary(execution)}",
    }


class ExecutionWatch:
    """The bookkeeping of one wait for an execution, shared by the worker's loop (the hook) and the
    triggerer's (SsmAutomationTrigger): transient errors in a row, the last status, the log lines."""

    def __init__(self, execution_id: str, max_attempts: int, max_transient_errors: int, log: Any):
        self.execution_id, self.max_attempts, self.max_transient_errors = execution_id, max_attempts, max_transient_errors
        self.log = log
        self.transient = 0
        self.status: str | None = None

    def tolerate(self, error: BaseException) -> bool:
        """Count a transient error; False when waiting will not help or one error too many."""
        if not is_transient_error(error) or self.transient >= self.max_transient_errors:
            return False
        self.transient += 1
        self.log.warning("ssm.automation execution_id=%s transient_error=%r retry=%d/%d",
                         self.execution_id, error, self.transient, self.max_transient_errors)
        return True

    def read(self, execution: Mapping[str, Any], attempt: int) -> bool:
        """Record one read of the execution; True once it has ended."""
        self.transient = 0
        self.status = execution.get("AutomationExecutionStatus", "Unknown")
        self.log.info("ssm.automation execution_id=%s document=%s status=%s step=%s attempt=%d/%d",
                      self.execution_id, execution.get("DocumentName", "?"), self.status,
                      execution.get("CurrentStepName", "-"), attempt, self.max_attempts)
        return self.status in TERMINAL_STATUSES

    def still_running(self, poll_interval: float) -> str:
        return (f"SSM Automation {self.execution_id} is still {self.status or 'unreadable'} after "
                f"{self.max_attempts} polls {poll_interval:g}s apart; it was left running. Raise waiter_max_attempts, "
                f"or stop it with `aws ssm stop-automation-execution --automation-execution-id {self.execution_id}`.")


class SsmAutomationHook(RetryAfterMixin, AwsBaseHook):
    """
    Interact with AWS Systems Manager Automation (runbooks).

    A thin wrapper around ``boto3.client("ssm")``: connection, region, role and the per-service
    ``endpoint_url`` (the DRS simulator, say) come from the Airflow AWS connection. Calls are
    retried by botocore's standard mode (throttling, 5xx, connection errors) unless the connection
    configures its own ``retries``, and a throttled answer with ``Retry-After`` waits what it asks.

    Additional arguments (such as ``aws_conn_id``) are passed down to
    :class:`~airflow.providers.amazon.aws.hooks.base_aws.AwsBaseHook`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "ssm"
        super().__init__(*args, **kwargs)

    # --- calls -----------------------------------------------------------------------------------
    def start_automation_execution(
        self,
        document_name: str,
        parameters: Mapping[str, Any] | None = None,
        document_version: str | None = None,
        client_token: str | None = None,
        **kwargs: Any,
    ) -> str:
        """Start an Automation runbook and return its execution id.

        :param document_name: runbook name or ARN (``AWS-RestartEC2Instance``, say).
        :param parameters: runbook parameters; scalars and lists are accepted and normalised
            (see :func:`normalize_parameters`).
        :param document_version: runbook version (``$DEFAULT`` when not given).
        :param client_token: idempotency token (a UUID). A fresh one is generated per call so that
            botocore's retries of this request can never start a second execution.
        :param kwargs: any other StartAutomationExecution argument (``Mode``, ``Targets``,
            ``TargetParameterName``, ``MaxConcurrency``, ``MaxErrors``, ``Tags``...), passed as is.
        """
        request: dict[str, Any] = {
            "DocumentName": document_name,
            "ClientToken": client_token or str(uuid.uuid4()),
            **kwargs,
        }
        normalized = normalize_parameters(parameters)
        if normalized:
            request["Parameters"] = normalized
        if document_version:
            request["DocumentVersion"] = document_version
        execution_id = self.conn.start_automation_execution(**request)["AutomationExecutionId"]
        self.log.info(
            "ssm.automation execution_id=%s document=%s version=%s status=started parameters=%s",
            execution_id,
            document_name,
            document_version or "$DEFAULT",
            ",".join(sorted(normalized)) or "-",
        )
        return execution_id

    def get_automation_execution(self, execution_id: str) -> dict[str, Any]:
        """The ``AutomationExecution`` of GetAutomationExecution (status, steps, outputs...)."""
        return self.conn.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]

    def stop_automation_execution(self, execution_id: str, stop_type: str = "Cancel") -> None:
        """Stop an execution (``Cancel``, the default, or ``Complete``)."""
        self.conn.stop_automation_execution(AutomationExecutionId=execution_id, Type=stop_type)
        self.log.info("ssm.automation execution_id=%s status=stop_requested type=%s", execution_id, stop_type)

    def wait_for_automation_execution(
        self,
        execution_id: str,
        poll_interval: float = 5,
        max_attempts: int = 720,
        max_transient_errors: int = 5,
    ) -> dict[str, Any]:
        """Poll an execution until it reaches a terminal status and return it (success or not).

        Transient errors (see :func:`is_transient_error`) beyond botocore's own retries are
        tolerated up to ``max_transient_errors`` in a row.

        :raises SsmAutomationFailed: the execution is still running after ``max_attempts`` polls.
        """
        watch = ExecutionWatch(execution_id, max_attempts, max_transient_errors, self.log)
        for attempt in range(1, max_attempts + 1):
            try:
                execution = self.get_automation_execution(execution_id)
            except Exception as error:
                if not watch.tolerate(error):
                    raise
            else:
                if watch.read(execution, attempt):
                    return execution
            if attempt < max_attempts:
                time.sleep(poll_interval)
        raise SsmAutomationFailed(watch.still_running(poll_interval))

    # --- async counterparts (for triggers) -------------------------------------------------------
    async def get_automation_execution_async(self, execution_id: str, client: Any = None) -> dict[str, Any]:
        """Async GetAutomationExecution. Pass ``client`` to reuse one aiobotocore client."""
        if client is None:
            async with await self.get_async_conn() as client:
                return await self.get_automation_execution_async(execution_id, client)
        response = await client.get_automation_execution(AutomationExecutionId=execution_id)
        return response["AutomationExecution"]
